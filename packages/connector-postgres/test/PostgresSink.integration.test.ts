import { randomBytes } from "node:crypto"
import { Memory, Pipeline, Runner, Timestamp } from "@data-mcp/core"
import { ConnectorConformance, FaultInjection } from "@data-mcp/core/testing"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect, Exit, Redacted } from "effect"
import type pg from "pg"
import * as Pool from "../src/internal/pool.ts"
import * as PostgresSink from "../src/PostgresSink.ts"
import { sql } from "../src/Sql.ts"
import * as Db from "./utils.ts"

// Against the real PostgreSQL (PGHOST/PGPORT/PGUSER/PGDATABASE, default 127.0.0.1:5432 postgres/test). With
// CI=true the suite must run; otherwise an unreachable server skips it with the reason printed.
const env = Pool.configFromEnv()
const PASSWORD = `pw-${randomBytes(8).toString("hex")}`
const connection = {
  host: env.host ?? "127.0.0.1",
  port: env.port ?? 5432,
  ...(env.user === undefined ? {} : { user: env.user }),
  ...(env.database === undefined ? {} : { database: env.database }),
  connectTimeoutMs: 5_000,
  // The server trusts local connections and never asks for it: it is here to prove it is never printed.
  password: Redacted.make(PASSWORD)
}

const run = <A, E>(f: (pool: pg.Pool) => Effect.Effect<A, E>) =>
  Effect.runPromise(Effect.scoped(Effect.flatMap(openPool(), f)))
const openPool = () => Pool.pool(env)

const unreachable = await Db.unreachable("PostgresSink")

// Every table (and the sink's state table) lives in a schema of this file's run, dropped at the end.
const schema = `dm_sink_${randomBytes(4).toString("hex")}`
let tables = 0

const columns = [
  { name: "id", type: "bigint" },
  { name: "name", type: "text" },
  { name: "amount", type: "numeric" },
  { name: "at", type: "timestamptz" },
  { name: "meta", type: "jsonb" },
  { name: "ok", type: "boolean" }
] as const

type Row = {
  readonly id: bigint
  readonly name: string | null
  readonly amount: string
  readonly at: Timestamp.Timestamp
  readonly meta: unknown
  readonly ok: boolean
}

const records = (n: number): ReadonlyArray<Row> =>
  Array.from({ length: n }, (_, i) => ({
    id: 9_007_199_254_740_993n + BigInt(i),
    name: i % 7 === 3 ? null : `näme ${i}\t"quoted"\\ \n${"€".repeat(i % 3)}`,
    amount: `${i}.${String(i % 100).padStart(2, "0")}0000000000000000000000001`,
    at: Timestamp.fromEpochMicros(1_700_000_000_000_000n + BigInt(i) * 1_000_001n, { zoned: true }),
    meta: { i, tags: ["a", `t${i}`], nested: { ok: i % 2 === 0 } },
    ok: i % 2 === 0
  }))

const readBack = (pool: pg.Pool, table: string) =>
  Effect.map(
    Pool.query<{ id: string; name: string | null; amount: string; at_us: string; meta: string; ok: boolean }>(
      pool,
      sql`select id::text as id, name, amount::text as amount, (extract(epoch from at) * 1000000)::bigint::text as at_us, meta::text as meta, ok from ${sql.ident([schema, table])}`,
      "read"
    ),
    (result) =>
      result.rows.map(
        (r): Row => ({
          id: BigInt(r.id),
          name: r.name,
          amount: r.amount,
          at: Timestamp.fromEpochMicros(BigInt(r.at_us), { zoned: true }),
          meta: JSON.parse(r.meta),
          ok: r.ok
        })
      )
  )

// What a replace sink durably holds: the published target plus its staging table (the suite's fencing case writes
// without a finish, so its rows are staged; after a finish the staging table has been renamed into the target).
const readBackWithStaging = (pool: pg.Pool, table: string) =>
  Effect.gen(function* () {
    const staged = yield* Pool.query<{ name: string }>(
      pool,
      sql`select tablename as name from pg_tables where schemaname = ${schema} and starts_with(tablename, ${`${table}__dm_staging_`})`,
      "read"
    )
    const published = yield* readBack(pool, table)
    const parts = yield* Effect.forEach(staged.rows, (r) => readBack(pool, r.name))
    return [...published, ...parts.flat()]
  })

const makeSink = (
  table: string,
  options?: { readonly transactional?: boolean; readonly disposition?: PostgresSink.SinkOptionsInput["disposition"] }
) =>
  PostgresSink.make({
    connection,
    table: [schema, table],
    columns,
    ...(options?.transactional === undefined ? {} : { transactional: options.transactional }),
    ...(options?.disposition === undefined ? {} : { disposition: options.disposition })
  })

const describeIf = unreachable === undefined ? describe : describe.skip

describeIf("PostgresSink", () => {
  beforeAll(() => run((p) => Pool.query(p, sql`create schema if not exists ${sql.ident(schema)}`, "check")))
  afterAll(() => run((p) => Pool.query(p, sql`drop schema if exists ${sql.ident(schema)} cascade`, "check")))

  for (const [kind, disposition] of [
    ["postgres-sink", undefined],
    ["postgres-sink-merge", { merge: { key: ["id"] } }],
    ["postgres-sink-replace", "replace"]
  ] as const)
    ConnectorConformance.suite(kind, {
      sink: {
        records,
        make: () =>
          Effect.gen(function* () {
            const table = `t_${++tables}`
            const pool = yield* openPool()
            return {
              sink: makeSink(table, disposition === undefined ? {} : { disposition }) as never,
              readBack: disposition === "replace" ? readBackWithStaging(pool, table) : readBack(pool, table)
            }
          }),
        id: (record) => String((record as Row).id),
        badRecord: {
          id: 1n,
          name: "bad",
          amount: "not a number",
          at: Timestamp.fromEpochMicros(0n),
          meta: null,
          ok: true
        }
      },
      secrets: [PASSWORD]
    })

  it("validates options and names the field", () => {
    try {
      PostgresSink.make({ connection, table: "t", columns: [{ name: "x", type: "uuid" as never }] })
      assert.fail("expected a ConfigError")
    } catch (e) {
      assert.strictEqual((e as { _tag: string })._tag, "ConfigError")
      assert.strictEqual((e as { path: string }).path, "columns.0.type")
    }
  })

  it.live("rejects a record the codec cannot encode, naming the column and not the value", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const table = `t_${++tables}`
        const sink = makeSink(table)
        const writer = yield* sink.open({
          runId: "r1",
          pipeline: "reject",
          stateKey: `reject:${table}`,
          lease: { key: `reject:${table}`, runId: "r1", token: 1, expiresAt: Date.now() + 60_000 }
        })
        const [a, b] = records(2)
        const bad = { ...b!, amount: "secret-ish value" }
        const result = yield* writer.write(
          { stream: "default", records: [a!, bad], checkpoint: 2 },
          { seq: 0, checkpointFrom: null, checkpointTo: 2 }
        )
        assert.strictEqual(result.written, 1)
        assert.strictEqual(result.rejected?.length, 1)
        assert.strictEqual(result.rejected?.[0]?.index, 1)
        assert.include(result.rejected?.[0]?.reason, '"amount"')
        assert.notInclude(result.rejected?.[0]?.reason, "secret-ish")
        // The same (token, seq) again is the retry of a committed write: skipped.
        const again = yield* writer.write(
          { stream: "default", records: [a!, bad], checkpoint: 2 },
          { seq: 0, checkpointFrom: null, checkpointTo: 2 }
        )
        assert.strictEqual(again.written, 1)
        const pool = yield* openPool()
        assert.deepStrictEqual(
          (yield* readBack(pool, table)).map((r) => r.id),
          [a!.id]
        )
      })
    )
  )

  it.live("delivers 2,000 rows exactly once through lost acknowledgements and a failed run", () =>
    Effect.gen(function* () {
      const table = `t_${++tables}`
      const sink = makeSink(table)
      const rows = records(2_000)
      const source = Memory.source(rows, { batchSize: 100 })
      const [lostAcks, acks] = FaultInjection.sink(sink, { on: [3, 7], kind: "transient", when: "after" })
      const [failing, fatal] = FaultInjection.sink(lostAcks, { on: 14, kind: "fatal", when: "after" })
      const pipeline = (s: typeof sink) =>
        Pipeline.make({
          name: `sink_exactly_once_${table}`,
          version: "1.0.0",
          description: "exactly-once through faults",
          source,
          sink: s,
          options: {
            batch: { rows: 100, maxWaitMs: 50 },
            retry: { initialDelayMs: 1, maxDelayMs: 10, maxAttempts: 4 }
          }
        })
      const first = yield* Effect.exit(Runner.run(pipeline(failing), {}))
      assert.isTrue(Exit.isFailure(first), "the first run fails at the fatal fault")
      assert.strictEqual(acks.faults(), 2)
      assert.strictEqual(fatal.faults(), 1)
      const second = yield* Runner.run(pipeline(sink), {})
      assert.strictEqual(second.status, "succeeded")
      assert.notStrictEqual(second.checkpointFrom, null, "the re-run resumes from the sink's checkpoint")
      const pool = yield* openPool()
      const target = sql.ident([schema, table])
      const [actual] = (yield* Pool.query<{ n: string; distinct_ids: string; checksum: string }>(
        pool,
        sql`select count(*)::text as n, count(distinct id)::text as distinct_ids, sum(hashtext(id::text))::text as checksum from ${target}`,
        "read"
      )).rows
      const [expected] = (yield* Pool.query<{ checksum: string }>(
        pool,
        sql`select sum(hashtext((${rows[0]!.id.toString()}::bigint + g)::text))::text as checksum from generate_series(0, ${rows.length - 1}) g`,
        "read"
      )).rows
      assert.deepStrictEqual(actual, { n: "2000", distinct_ids: "2000", checksum: expected!.checksum })
    }).pipe(Effect.scoped, Effect.provide(Runner.layerMemory({ purgeIntervalMs: 0 })))
  )
})
