// Exactly-once across a state store that forgets its leases: with `Runner.layerMemory` a restarted process hands
// out lease token 1 again, while the sink's state row still holds the previous run's token 1 and its seqs. The
// sink must take a replay only for the very run that wrote it: a new run's writes with the same (token, seq)
// are new data, never skipped.
import { Pipeline, Runner } from "@data-mcp/core"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as PostgresSink from "../src/PostgresSink.ts"
import * as PostgresSource from "../src/PostgresSource.ts"
import { sql } from "../src/Sql.ts"
import { connection, database, exec } from "./utils.ts"

const db = await database("exactly-once restart", "dm_eo_restart")
const describeIf = db.unreachable === undefined ? describe : describe.skip

describeIf("PostgresSink exactly-once after a state store restart", () => {
  it.live("a new run with a reused lease token writes its rows; the sink's checkpoint resumes it", () =>
    Effect.gen(function* () {
      const schema = db.freshSchema()
      yield* exec(sql`create schema ${sql.ident(schema)}`)
      yield* exec(sql`create table ${sql.ident([schema, "src"])} (id bigint primary key, n bigint not null, v text)`)
      yield* exec(sql`insert into ${sql.ident([schema, "src"])} select g, g, 'v' || g from generate_series(1, 10) g`)
      const pipeline = Pipeline.make<PostgresSource.Row, PostgresSource.Row>({
        name: "eo_restart",
        version: "1.0.0",
        description: "copies src to dst, exactly once",
        source: PostgresSource.make({
          connection,
          streams: [{ table: [schema, "src"], cursor: "n", key: "id", columns: ["id", "v"] }]
        }),
        sink: PostgresSink.make({
          connection,
          table: [schema, "dst"],
          columns: [
            { name: "id", type: "bigint" },
            { name: "v", type: "text" }
          ]
        }),
        options: { batch: { rows: 4 } }
      })
      // Each run in a fresh in-memory runner: both hold lease token 1.
      const run = Runner.run(pipeline, {}).pipe(Effect.provide(Runner.layerMemory({ purgeIntervalMs: 0 })))
      const first = yield* run
      assert.strictEqual(first.status, "succeeded")
      assert.strictEqual(first.recordsWritten, 10)
      yield* exec(sql`insert into ${sql.ident([schema, "src"])} select g, g, 'v' || g from generate_series(11, 15) g`)
      const second = yield* run
      assert.strictEqual(second.status, "succeeded")
      assert.strictEqual(second.recordsRead, 5, "resumed from the sink's checkpoint")
      assert.strictEqual(second.recordsWritten, 5, "the new rows are written, not taken for a replay")
      const counted = yield* exec(
        sql`select count(*)::int as n, count(distinct id)::int as d from ${sql.ident([schema, "dst"])}`
      )
      assert.deepStrictEqual(counted.rows[0], { n: 15, d: 15 })
    })
  )
})
