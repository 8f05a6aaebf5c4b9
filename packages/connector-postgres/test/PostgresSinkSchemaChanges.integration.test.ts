// Schema changes the sink makes are visible in the run (DESIGN §5): through `Runner.start` against the real
// PostgreSQL, a created table, added columns and widened types each give a `SchemaChanged` event (with the
// target and a version that persists across runs) and a line in the summary's notes — once, even when the
// acknowledgement of the write that made the change is lost and the write is replayed.
import { Memory, Pipeline, type RunEvent, Runner, type Sink } from "@data-mcp/core"
import { FaultInjection } from "@data-mcp/core/testing"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import * as Pool from "../src/internal/pool.ts"
import * as PostgresSink from "../src/PostgresSink.ts"
import { sql } from "../src/Sql.ts"
import * as Db from "./utils.ts"

const connection = { ...Pool.configFromEnv(), connectTimeoutMs: 5_000 }
const db = await Db.database("PostgresSink schema changes", "dm_sc")
const schema = db.freshSchema()
let tables = 0
const nextTable = () => `s_${++tables}`

type Row = Record<string, unknown>

const runWith = (name: string, rows: ReadonlyArray<Row>, sink: Sink.Sink<Row>) =>
  Effect.gen(function* () {
    const handle = yield* Runner.start(
      Pipeline.make<Row, Row>({
        name,
        version: "1.0.0",
        description: "schema changes made by the sink",
        source: Memory.source(rows, { batchSize: 2 }),
        sink,
        options: {
          batch: { rows: 2, maxWaitMs: 10 },
          retry: { initialDelayMs: 1, maxDelayMs: 5, maxAttempts: 4 }
        }
      }),
      {}
    )
    const events = yield* Stream.runCollect(handle.events)
    const summary = yield* handle.result
    const changed = events.filter((e): e is RunEvent.SchemaChanged => e._tag === "SchemaChanged")
    return { summary, events, changed }
  })

const shortly = (changed: ReadonlyArray<RunEvent.SchemaChanged>) =>
  changed.map((e) => ({ stream: e.stream, target: e.target, version: e.version, diff: e.diff }))

const diff = (parts: {
  readonly added?: ReadonlyArray<{ readonly path: string; readonly type: string }>
  readonly widened?: ReadonlyArray<{ readonly path: string; readonly from: string; readonly to: string }>
}) => ({
  added: parts.added ?? [],
  removed: [],
  widened: parts.widened ?? [],
  incompatible: [],
  nullable: [],
  optional: []
})

const versionsOf = (table: string) =>
  Effect.map(
    Db.exec(
      sql`select version, run_id, seq::text as seq from ${sql.ident([schema, "data_mcp_schema"])} where table_name = ${table} order by version`
    ),
    (r) => r.rows.map((row) => ({ version: row.version as number, seq: row.seq as string | null }))
  )

const describeIf = db.unreachable === undefined ? describe : describe.skip

describeIf("PostgresSink schema changes in runs", () => {
  beforeAll(() => Effect.runPromise(Db.exec(sql`create schema if not exists ${sql.ident(schema)}`)))
  afterAll(() => Effect.runPromise(Db.exec(sql`drop schema if exists ${sql.ident(schema)} cascade`)))

  it.live("created table, added and widened columns: one SchemaChanged each, a summary line each, across runs", () =>
    Effect.gen(function* () {
      const table = nextTable()
      const target = `${schema}.${table}`
      const sink = PostgresSink.make({ connection, table: [schema, table] })
      const first = yield* runWith(
        `changes_${table}`,
        [
          { id: 1, amount: 5 },
          { id: 2, amount: 6 },
          { id: 3, amount: 7, email: "a@x" },
          { id: 4, amount: 8, tags: ["x"] },
          { id: 5, amount: 1.5 },
          { id: 6, amount: 2 }
        ],
        sink
      )
      assert.strictEqual(first.summary.status, "succeeded")
      assert.deepStrictEqual(shortly(first.changed), [
        {
          stream: "default",
          target,
          version: 1,
          diff: diff({
            added: [
              { path: "id", type: "bigint" },
              { path: "amount", type: "bigint" }
            ]
          })
        },
        {
          stream: "default",
          target,
          version: 2,
          diff: diff({
            added: [
              { path: "email", type: "text" },
              { path: "tags", type: "text[]" }
            ]
          })
        },
        {
          stream: "default",
          target,
          version: 3,
          diff: diff({ widened: [{ path: "amount", from: "bigint", to: "numeric" }] })
        }
      ])
      assert.deepStrictEqual(
        first.summary.notes.filter((n) => n.startsWith("sink ")),
        [
          `sink postgres changed ${target} to version 1: + added: id (bigint); + added: amount (bigint)`,
          `sink postgres changed ${target} to version 2: + added: email (text); + added: tags (text[])`,
          `sink postgres changed ${target} to version 3: ~ widened: amount bigint → numeric`
        ]
      )
      // Each change is announced before its batch is reported written.
      const tags = first.events.map((e) => e._tag)
      assert.deepStrictEqual(tags.slice(0, 3), ["RunStarted", "SchemaChanged", "BatchWritten"])

      // A run whose records fit the table changes nothing and says nothing.
      // (Other pipeline names: a memory source resumes from its offset, so the same name would read nothing.)
      const same = yield* runWith(`changes_${table}_same`, [{ id: 7, amount: 1, email: "b@x" }], sink)
      assert.strictEqual(same.summary.recordsWritten, 1)
      assert.deepStrictEqual(same.changed, [])
      assert.isFalse(same.summary.notes.some((n) => n.startsWith("sink ")))

      // The versions persist: the next change of this table is version 4.
      const later = yield* runWith(`changes_${table}_later`, [{ id: 8, amount: 1, note: "n" }], sink)
      assert.strictEqual(later.summary.recordsWritten, 1)
      assert.deepStrictEqual(shortly(later.changed), [
        { stream: "default", target, version: 4, diff: diff({ added: [{ path: "note", type: "text" }] }) }
      ])
      assert.deepStrictEqual(
        (yield* versionsOf(table)).map((v) => v.version),
        [1, 2, 3, 4]
      )
    }).pipe(Effect.provide(Runner.layerMemory({ purgeIntervalMs: 0 })))
  )

  it.live("a declared table created when the sink opens is reported with the first batch", () =>
    Effect.gen(function* () {
      const table = nextTable()
      const sink = PostgresSink.make({
        connection,
        table: [schema, table],
        columns: [
          { name: "id", type: "bigint" },
          { name: "tags", type: "text[]" }
        ]
      })
      const first = yield* runWith(`declared_${table}`, [{ id: 1, tags: ["a"] }], sink)
      assert.deepStrictEqual(shortly(first.changed), [
        {
          stream: "default",
          target: `${schema}.${table}`,
          version: 1,
          diff: diff({
            added: [
              { path: "id", type: "bigint" },
              { path: "tags", type: "text[]" }
            ]
          })
        }
      ])
      // The table exists now: opening it again is no change.
      const again = yield* runWith(`declared_${table}_again`, [{ id: 2, tags: [] }], sink)
      assert.strictEqual(again.summary.recordsWritten, 1)
      assert.deepStrictEqual(again.changed, [])
      assert.deepStrictEqual(yield* versionsOf(table), [{ version: 1, seq: null }])
    }).pipe(Effect.provide(Runner.layerMemory({ purgeIntervalMs: 0 })))
  )

  it.live("a lost acknowledgement of the evolving write still reports its change, once", () =>
    Effect.gen(function* () {
      const table = nextTable()
      const target = `${schema}.${table}`
      // The 2nd write commits (and adds "extra"), then reports a transient failure; the retry is skipped by the
      // fenced state row and must report the committed change.
      const [sink, counter] = FaultInjection.sink(PostgresSink.make({ connection, table: [schema, table] }), {
        on: 2,
        kind: "transient",
        when: "after"
      })
      const run = yield* runWith(
        `replayed_${table}`,
        [{ id: 1 }, { id: 2 }, { id: 3, extra: "x" }, { id: 4 }, { id: 5 }],
        sink
      )
      assert.strictEqual(run.summary.status, "succeeded")
      assert.strictEqual(counter.faults(), 1)
      assert.strictEqual(run.summary.retries, 1)
      assert.deepStrictEqual(shortly(run.changed), [
        { stream: "default", target, version: 1, diff: diff({ added: [{ path: "id", type: "bigint" }] }) },
        { stream: "default", target, version: 2, diff: diff({ added: [{ path: "extra", type: "text" }] }) }
      ])
      assert.deepStrictEqual(yield* versionsOf(table), [
        { version: 1, seq: "0" },
        { version: 2, seq: "1" }
      ])
      const rows = yield* Db.exec(sql`select count(*)::int as n from ${sql.ident([schema, table])}`)
      assert.strictEqual(rows.rows[0]?.n, 5)
    }).pipe(Effect.provide(Runner.layerMemory({ purgeIntervalMs: 0 })))
  )
})
