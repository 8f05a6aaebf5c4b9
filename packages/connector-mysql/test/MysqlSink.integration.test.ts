// MysqlSink against the real MariaDB/MySQL (MYSQL_HOST…, default root@127.0.0.1:3306): the conformance suite for
// append, merge and replace; refused records; exactly-once through lost acknowledgements and a failed run.
// With CI=true the suite must run; otherwise an unreachable server skips it with the reason printed.
import { randomBytes } from "node:crypto"
import { Memory, Pipeline, Runner, Timestamp } from "@data-mcp/core"
import { ConnectorConformance, FaultInjection } from "@data-mcp/core/testing"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Redacted } from "effect"
import * as MysqlSink from "../src/MysqlSink.ts"
import * as Db from "./utils.ts"

const db = await Db.database("MysqlSink", "dm_sink")
const PASSWORD = `pw-${randomBytes(8).toString("hex")}`
let tables = 0

const columns = [
  { name: "id", type: "bigint" },
  { name: "name", type: "text" },
  { name: "amount", type: "decimal" },
  { name: "at", type: "timestamp" },
  { name: "meta", type: "json" },
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
    name: i % 7 === 3 ? null : `näme ${i}\t"quoted"\\ \n'${"€".repeat(i % 3)}🎉`,
    amount: `${i}.${String(i % 100).padStart(2, "0")}0000000000000000000000001`,
    at: Timestamp.fromEpochMicros(1_700_000_000_000_000n + BigInt(i) * 1_000_001n, { zoned: true }),
    meta: { i, tags: ["a", `t${i}`], nested: { ok: i % 2 === 0 } },
    ok: i % 2 === 0
  }))

/** Reads a table back as `Row`s (the decimal column has 30 digits of scale: trailing zeros trimmed to compare). */
const readTable = (table: string) =>
  Effect.promise(() =>
    Db.withConnection(async (c) => {
      const [exists] = await c.query(
        "select count(*) as n from information_schema.TABLES where TABLE_SCHEMA = ? and TABLE_NAME = ?",
        [db.name, table]
      )
      if (Number((exists as Array<{ n: string }>)[0]!.n) === 0) return []
      const [rows] = await c.query(
        `select cast(id as char) as id, name, cast(amount as char) as amount, cast(at as char) as at, cast(meta as char) as meta, ok from \`${table}\``
      )
      return (rows as Array<Record<string, string | number | null>>).map(
        (r): Row => ({
          id: BigInt(r.id as string),
          name: r.name as string | null,
          amount: String(r.amount).replace(/0+$/, ""),
          at: Timestamp.fromISOString(`${String(r.at).replace(" ", "T")}Z`),
          meta: JSON.parse(r.meta as string),
          ok: Number(r.ok) === 1
        })
      )
    }, db.name)
  )

const listStaging = (table: string) =>
  Effect.promise(() =>
    Db.withConnection(async (c) => {
      const [rows] = await c.query(
        "select TABLE_NAME as name from information_schema.TABLES where TABLE_SCHEMA = ? and TABLE_NAME like ?",
        [db.name, `${table}\\_\\_dm\\_stg\\_%`]
      )
      return (rows as Array<{ name: string }>).map((r) => r.name)
    })
  )

// What a replace sink durably holds: the published target plus its staging table (the fencing case writes without
// a finish, so its rows are staged).
const readWithStaging = (table: string) =>
  Effect.gen(function* () {
    const published = yield* readTable(table)
    const staged = yield* Effect.forEach(yield* listStaging(table), readTable)
    return [...published, ...staged.flat()]
  })

const connection = { ...db.config, password: Redacted.make(PASSWORD) }
// root has no password on the test server: the password is given only to prove it never shows, on a sink whose
// connection is not used for the proof itself.
const connectionFor = (withPassword: boolean) => (withPassword ? connection : db.config)

const makeSink = (
  table: string,
  options?: { readonly transactional?: boolean; readonly disposition?: MysqlSink.SinkOptionsInput["disposition"] }
) =>
  MysqlSink.make({
    connection: connectionFor(false),
    table,
    columns,
    ...(options?.transactional === undefined ? {} : { transactional: options.transactional }),
    ...(options?.disposition === undefined ? {} : { disposition: options.disposition })
  })

const expected = (r: Row) => ({ ...r, amount: r.amount.replace(/0+$/, "") })

describe.skipIf(db.unreachable !== undefined)("MysqlSink", () => {
  for (const [kind, disposition] of [
    ["mysql-sink", undefined],
    ["mysql-sink-merge", { merge: { key: ["id"] } }],
    ["mysql-sink-replace", "replace"]
  ] as const)
    ConnectorConformance.suite(kind, {
      sink: {
        records,
        make: () =>
          Effect.sync(() => {
            const table = `t_${++tables}`
            return {
              sink: makeSink(table, disposition === undefined ? {} : { disposition }) as never,
              readBack: disposition === "replace" ? readWithStaging(table) : readTable(table)
            }
          }),
        id: (record) => String((record as Row).id),
        expected,
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
      MysqlSink.make({ connection: db.config, table: "t", columns: [{ name: "x", type: "uuid" as never }] })
      assert.fail("expected a ConfigError")
    } catch (e) {
      assert.strictEqual((e as { _tag: string })._tag, "ConfigError")
      assert.strictEqual((e as { path: string }).path, "columns.0.type")
    }
  })

  it.live(
    "refuses a record the codec cannot encode, naming the column and not the value; a repeated (token, seq) is skipped",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const table = `t_${++tables}`
          const writer = yield* makeSink(table).open({
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
          assert.strictEqual(result.rejected?.[0]?.index, 1)
          assert.include(result.rejected?.[0]?.reason, '"amount"')
          assert.notInclude(result.rejected?.[0]?.reason, "secret-ish")
          yield* writer.write(
            { stream: "default", records: [a!, bad], checkpoint: 2 },
            { seq: 0, checkpointFrom: null, checkpointTo: 2 }
          )
          assert.deepStrictEqual(
            (yield* readTable(table)).map((r) => r.id),
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
          options: { batch: { rows: 100, maxWaitMs: 50 }, retry: { initialDelayMs: 1, maxDelayMs: 10, maxAttempts: 4 } }
        })
      const first = yield* Effect.exit(Runner.run(pipeline(failing), {}))
      assert.isTrue(Exit.isFailure(first), "the first run fails at the fatal fault")
      assert.strictEqual(acks.faults(), 2)
      assert.strictEqual(fatal.faults(), 1)
      const second = yield* Runner.run(pipeline(sink), {})
      assert.strictEqual(second.status, "succeeded")
      assert.notStrictEqual(second.checkpointFrom, null, "the re-run resumes from the sink's checkpoint")
      const back = yield* readTable(table)
      assert.strictEqual(back.length, 2_000)
      assert.strictEqual(new Set(back.map((r) => r.id)).size, 2_000)
    }).pipe(Effect.scoped, Effect.provide(Runner.layerMemory({ purgeIntervalMs: 0 })))
  )
})
