// Exactly-once across a state store that forgets its leases: with `Runner.layerMemory` a restarted process hands
// out lease token 1 again while the sink's state row still holds the previous run's token 1 and seqs. Only the
// very run that wrote a batch may take it for a replay: a new run's rows are written.
import { Pipeline, Runner } from "@data-mcp/core"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as MysqlSink from "../src/MysqlSink.ts"
import * as MysqlSource from "../src/MysqlSource.ts"
import { database, withConnection } from "./utils.ts"

const db = await database("exactly-once restart", "dm_eo_restart")
const describeIf = db.unreachable === undefined ? describe : describe.skip

const exec = (statement: string) => Effect.promise(() => withConnection((c) => c.query(statement), db.name))

describeIf("MysqlSink exactly-once after a state store restart", () => {
  it.live("a new run with a reused lease token writes its rows; the sink's checkpoint resumes it", () =>
    Effect.gen(function* () {
      yield* exec("create table src (id bigint primary key, n bigint not null, v text)")
      yield* exec("insert into src select seq, seq, concat('v', seq) from seq_1_to_10")
      const pipeline = Pipeline.make<MysqlSource.Row, MysqlSource.Row>({
        name: "eo_restart",
        version: "1.0.0",
        description: "copies src to dst, exactly once",
        source: MysqlSource.make({
          connection: db.config,
          streams: [{ table: "src", cursor: "n", key: "id", columns: ["id", "v"] }]
        }),
        sink: MysqlSink.make({
          connection: db.config,
          table: "dst",
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
      yield* exec("insert into src select seq, seq, concat('v', seq) from seq_11_to_15")
      const second = yield* run
      assert.strictEqual(second.status, "succeeded")
      assert.strictEqual(second.recordsRead, 5, "resumed from the sink's checkpoint")
      const [rows] = yield* Effect.promise(() =>
        withConnection((c) => c.query("select count(*) as n, count(distinct id) as d from dst"), db.name)
      )
      const counted = (rows as unknown as ReadonlyArray<{ n: number | string; d: number | string }>)[0]!
      assert.deepStrictEqual([Number(counted.n), Number(counted.d)], [15, 15])
    })
  )
})
