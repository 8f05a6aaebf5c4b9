import { randomBytes } from "node:crypto"
import { Memory, Pipeline, Runner, StateStore } from "@data-mcp/core"
import { FaultInjection } from "@data-mcp/core/testing"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect, Exit, Option } from "effect"
import type pg from "pg"
import * as Pool from "../src/internal/pool.ts"
import * as PostgresSink from "../src/PostgresSink.ts"
import { sql } from "../src/Sql.ts"
import * as Db from "./utils.ts"

// merge and replace dispositions against the real PostgreSQL (see PostgresSink.integration.test.ts).
const connection = { ...Pool.configFromEnv(), connectTimeoutMs: 5_000 }

const run = <A, E>(f: (pool: pg.Pool) => Effect.Effect<A, E>) =>
  Effect.runPromise(Effect.scoped(Effect.flatMap(Pool.pool(connection), f)))

const unreachable = await Db.unreachable("PostgresSink merge")

const schema = `dm_merge_${randomBytes(4).toString("hex")}`
let tables = 0
const nextTable = () => `m_${++tables}`

const columns = [
  { name: "id", type: "bigint" },
  { name: "v", type: "bigint" },
  { name: "name", type: "text" },
  { name: "del", type: "boolean" },
  { name: "deleted_at", type: "timestamptz" }
] as const

type Rec = {
  readonly id: number
  readonly v: number
  readonly name: string
  readonly del?: boolean
}

type Merge = {
  readonly key: Array<string>
  readonly strategy?: "upsert" | "delete-insert"
  readonly versionBy?: string
  readonly deleteWhen?: string
  readonly softDelete?: string
}

const makeSink = (
  table: string,
  disposition: "append" | "replace" | { readonly merge: Merge },
  options?: { readonly transactional?: boolean }
) =>
  PostgresSink.make({
    connection,
    table: [schema, table],
    columns,
    disposition,
    ...(options?.transactional === undefined ? {} : { transactional: options.transactional })
  })

type Out = { readonly id: number; readonly v: number; readonly name: string; readonly deleted: boolean }

const readBack = (table: string) =>
  Effect.scoped(
    Effect.gen(function* () {
      const pool = yield* Pool.pool(connection)
      const result = yield* Pool.query<{ id: string; v: string; name: string; deleted: boolean }>(
        pool,
        sql`select id::text as id, v::text as v, name, deleted_at is not null as deleted from ${sql.ident([schema, table])} order by id, v`,
        "read"
      )
      return result.rows.map((r): Out => ({ id: Number(r.id), v: Number(r.v), name: r.name, deleted: r.deleted }))
    })
  )

const tableExists = (table: string) =>
  Effect.scoped(
    Effect.gen(function* () {
      const pool = yield* Pool.pool(connection)
      const result = yield* Pool.query<{ n: string }>(
        pool,
        sql`select count(*)::text as n from pg_tables where schemaname = ${schema} and tablename like ${`${table}__dm_staging_%`}`,
        "read"
      )
      return Number(result.rows[0]!.n)
    })
  )

const openWriter = (sink: ReturnType<typeof makeSink>, key: string, token = 1) =>
  sink.open({
    runId: `r${token}`,
    pipeline: "merge",
    stateKey: key,
    lease: { key, runId: `r${token}`, token, expiresAt: Date.now() + 60_000 }
  })

const batch = (records: ReadonlyArray<Rec>) => ({ stream: "default", records, checkpoint: null })

const out = (id: number, v: number, name: string, deleted = false): Out => ({ id, v, name, deleted })

const pipelineOf = (name: string, rows: ReadonlyArray<Rec>, sink: ReturnType<typeof makeSink>, batchRows = 2) =>
  Pipeline.make({
    name,
    version: "1.0.0",
    description: "merge and replace dispositions",
    source: Memory.source(rows, { batchSize: batchRows }),
    sink,
    options: {
      batch: { rows: batchRows, maxWaitMs: 20 },
      retry: { initialDelayMs: 1, maxDelayMs: 10, maxAttempts: 4 }
    }
  })

const describeIf = unreachable === undefined ? describe : describe.skip

describeIf("PostgresSink merge and replace", () => {
  beforeAll(() => run((p) => Pool.query(p, sql`create schema if not exists ${sql.ident(schema)}`, "check")))
  afterAll(() => run((p) => Pool.query(p, sql`drop schema if exists ${sql.ident(schema)} cascade`, "check")))

  it("validates the disposition and names the field", () => {
    const failsAt = (disposition: unknown, path: string) => {
      try {
        makeSink("x", disposition as never)
        assert.fail(`expected a ConfigError at ${path}`)
      } catch (e) {
        assert.strictEqual((e as { _tag: string })._tag, "ConfigError")
        assert.strictEqual((e as { path: string }).path, path)
      }
    }
    failsAt({ merge: { key: ["nope"] } }, "disposition.merge.key.0")
    failsAt({ merge: { key: ["id"], versionBy: "missing" } }, "disposition.merge.versionBy")
    failsAt({ merge: { key: ["id"], deleteWhen: "name" } }, "disposition.merge.deleteWhen")
    failsAt({ merge: { key: ["id"], deleteWhen: "del", softDelete: "name" } }, "disposition.merge.softDelete")
    failsAt({ merge: { key: ["id"], softDelete: "deleted_at" } }, "disposition.merge.softDelete")
    failsAt({ merge: { key: [] } }, "disposition.merge.key")
    failsAt("upsert", "disposition")
    const sink = makeSink("x", { merge: { key: ["id"], versionBy: "v" } })
    assert.deepStrictEqual(sink.capabilities, {
      transactional: true,
      idempotent: true,
      maxConcurrentWrites: 1,
      encodings: ["postgres/copy-binary", "postgres/copy-text"],
      batch: { rows: 50_000, bytes: 16 * 1024 * 1024 }
    })
    assert.deepStrictEqual(sink.disposition, { type: "merge", strategy: "upsert", key: ["id"], versionBy: "v" })
    assert.strictEqual(makeSink("x", "replace").disposition.type, "replace")
    assert.isFalse(makeSink("x", "append").capabilities.idempotent)
  })

  for (const strategy of ["upsert", "delete-insert"] as const) {
    it.live(`${strategy}: duplicates keep the highest version, older rows never regress, hard deletes`, () =>
      Effect.scoped(
        Effect.gen(function* () {
          const table = nextTable()
          const sink = makeSink(table, { merge: { key: ["id"], strategy, versionBy: "v", deleteWhen: "del" } })
          const writer = yield* openWriter(sink, `merge:${table}`)
          // One batch with duplicate keys: the highest version wins, a tie goes to the last in the batch.
          yield* writer.write(
            batch([
              { id: 1, v: 1, name: "a" },
              { id: 1, v: 3, name: "c" },
              { id: 1, v: 2, name: "b" },
              { id: 2, v: 1, name: "x" },
              { id: 2, v: 1, name: "y" },
              { id: 3, v: 5, name: "p" }
            ]),
            { seq: 0, checkpointFrom: null, checkpointTo: 1 }
          )
          assert.deepStrictEqual(yield* readBack(table), [out(1, 3, "c"), out(2, 1, "y"), out(3, 5, "p")])
          // An older version after a newer one changes nothing; an equal or newer one applies.
          yield* writer.write(
            batch([
              { id: 1, v: 2, name: "old" },
              { id: 2, v: 2, name: "z" },
              { id: 3, v: 5, name: "same version" },
              { id: 4, v: 1, name: "new" }
            ]),
            { seq: 1, checkpointFrom: 1, checkpointTo: 2 }
          )
          assert.deepStrictEqual(yield* readBack(table), [
            out(1, 3, "c"),
            out(2, 2, "z"),
            out(3, 5, "same version"),
            out(4, 1, "new")
          ])
          // Hard deletes: a newer delete removes the row, an older one does not; a delete of an unknown key is
          // nothing; the last record of a key decides between delete and upsert.
          yield* writer.write(
            batch([
              { id: 1, v: 2, name: "stale delete", del: true },
              { id: 2, v: 3, name: "delete", del: true },
              { id: 5, v: 1, name: "ghost", del: true },
              { id: 4, v: 2, name: "deleted then", del: true },
              { id: 4, v: 3, name: "revived", del: false }
            ]),
            { seq: 2, checkpointFrom: 2, checkpointTo: 3 }
          )
          assert.deepStrictEqual(yield* readBack(table), [
            out(1, 3, "c"),
            out(3, 5, "same version"),
            out(4, 3, "revived")
          ])
          // The same (token, seq) again is skipped; the same batch under a new seq changes nothing either.
          const again = batch([{ id: 1, v: 3, name: "c" }])
          yield* writer.write(again, { seq: 2, checkpointFrom: 2, checkpointTo: 3 })
          yield* writer.write(again, { seq: 3, checkpointFrom: 3, checkpointTo: 4 })
          assert.deepStrictEqual(yield* readBack(table), [
            out(1, 3, "c"),
            out(3, 5, "same version"),
            out(4, 3, "revived")
          ])
        })
      )
    )

    it.live(`${strategy}: soft deletes set the column and keep the row`, () =>
      Effect.scoped(
        Effect.gen(function* () {
          const table = nextTable()
          const sink = makeSink(table, {
            merge: { key: ["id"], strategy, versionBy: "v", deleteWhen: "del", softDelete: "deleted_at" }
          })
          const writer = yield* openWriter(sink, `soft:${table}`)
          yield* writer.write(
            batch([
              { id: 1, v: 1, name: "a" },
              { id: 2, v: 1, name: "b" }
            ]),
            { seq: 0, checkpointFrom: null, checkpointTo: 1 }
          )
          yield* writer.write(
            batch([
              { id: 1, v: 2, name: "a gone", del: true },
              { id: 2, v: 0, name: "stale delete", del: true },
              { id: 3, v: 1, name: "tombstone", del: true }
            ]),
            { seq: 1, checkpointFrom: 1, checkpointTo: 2 }
          )
          assert.deepStrictEqual(yield* readBack(table), [
            out(1, 2, "a gone", true),
            out(2, 1, "b"),
            out(3, 1, "tombstone", true)
          ])
          // An older update after the soft delete does not revive the row.
          yield* writer.write(batch([{ id: 1, v: 1, name: "a" }]), { seq: 2, checkpointFrom: 2, checkpointTo: 3 })
          assert.deepStrictEqual((yield* readBack(table))[0], out(1, 2, "a gone", true))
        })
      )
    )
  }

  it.live("boolean soft delete column", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const table = nextTable()
        const sink = PostgresSink.make({
          connection,
          table: [schema, table],
          columns: [
            { name: "id", type: "bigint" },
            { name: "del", type: "boolean" },
            { name: "gone", type: "boolean" }
          ],
          disposition: { merge: { key: ["id"], deleteWhen: "del", softDelete: "gone" } }
        })
        const writer = yield* openWriter(sink as never, `bool:${table}`)
        yield* writer.write(batch([{ id: 1 }, { id: 2 }] as never), { seq: 0, checkpointFrom: null, checkpointTo: 1 })
        yield* writer.write(batch([{ id: 2, del: true }] as never), { seq: 1, checkpointFrom: 1, checkpointTo: 2 })
        const pool = yield* Pool.pool(connection)
        const rows = yield* Pool.query<{ id: string; gone: boolean | null }>(
          pool,
          sql`select id::text as id, gone from ${sql.ident([schema, table])} order by id`,
          "read"
        )
        assert.deepStrictEqual(rows.rows, [
          { id: "1", gone: null },
          { id: "2", gone: true }
        ])
      })
    )
  )

  // The runner replays a batch whose acknowledgement was lost. Transactional: skipped by (token, seq).
  // Not transactional: written twice, which a merge absorbs (idempotent).
  for (const transactional of [true, false]) {
    it.live(`a replayed batch changes nothing (transactional: ${transactional})`, () =>
      Effect.gen(function* () {
        const table = nextTable()
        const rows: ReadonlyArray<Rec> = Array.from({ length: 40 }, (_, i) => ({
          id: i % 10,
          v: i,
          name: `n${i}`,
          del: i >= 36 && i % 2 === 0
        }))
        const sink = makeSink(table, { merge: { key: ["id"], versionBy: "v", deleteWhen: "del" } }, { transactional })
        const [replaying, counter] = FaultInjection.sink(sink, { on: [2, 5, 9], kind: "transient", when: "after" })
        const summary = yield* Runner.run(pipelineOf(`replay_${table}`, rows, replaying, 4), {})
        assert.strictEqual(summary.status, "succeeded")
        assert.strictEqual(counter.faults(), 3)
        // ids 0..9: the last version of each is 30..39; 36 and 38 (ids 6, 8) are deletes.
        assert.deepStrictEqual(
          yield* readBack(table),
          [0, 1, 2, 3, 4, 5, 7, 9].map((id) => out(id, 30 + id, `n${30 + id}`))
        )
      }).pipe(Effect.provide(Runner.layerMemory({ purgeIntervalMs: 0 })))
    )
  }

  it.live("replace: the target is untouched until finish, then swapped in", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const table = nextTable()
        const sink = makeSink(table, "replace")
        assert.deepStrictEqual(sink.capabilities, {
          transactional: true,
          idempotent: false,
          maxConcurrentWrites: 1,
          encodings: ["postgres/copy-binary", "postgres/copy-text"],
          batch: { rows: 50_000, bytes: 16 * 1024 * 1024 }
        })
        const first = yield* openWriter(sink, `replace:${table}`, 1)
        yield* first.write(batch([{ id: 1, v: 1, name: "old" }]), { seq: 0, checkpointFrom: null, checkpointTo: 1 })
        assert.deepStrictEqual(yield* readBack(table), [])
        yield* first.finish!
        assert.deepStrictEqual(yield* readBack(table), [out(1, 1, "old")])
        // A finish retried after its acknowledgement was lost does nothing more.
        yield* first.finish!
        assert.deepStrictEqual(yield* readBack(table), [out(1, 1, "old")])
        assert.isTrue(Option.isNone(yield* first.loadCheckpoint!), "finish clears the checkpoint")

        const second = yield* openWriter(sink, `replace:${table}`, 2)
        assert.strictEqual(yield* tableExists(table), 1, "the staging table is created at open")
        yield* second.write(
          batch([
            { id: 2, v: 1, name: "new" },
            { id: 3, v: 1, name: "new" }
          ]),
          { seq: 0, checkpointFrom: null, checkpointTo: 1 }
        )
        yield* second.write(batch([{ id: 4, v: 1, name: "new" }]), { seq: 1, checkpointFrom: 1, checkpointTo: 2 })
        assert.deepStrictEqual(yield* readBack(table), [out(1, 1, "old")])
        yield* second.finish!
        assert.deepStrictEqual(yield* readBack(table), [out(2, 1, "new"), out(3, 1, "new"), out(4, 1, "new")])
        // A run with no rows publishes an empty table.
        const third = yield* openWriter(sink, `replace:${table}`, 3)
        yield* third.finish!
        assert.deepStrictEqual(yield* readBack(table), [])
      })
    )
  )

  it.live("replace: a finish by a run whose lease was taken over fails with StateError Fenced and swaps nothing", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const table = nextTable()
        const sink = makeSink(table, "replace")
        const key = `fenced:${table}`
        const stale = yield* openWriter(sink, key, 1)
        yield* stale.write(batch([{ id: 1, v: 1, name: "stale" }]), { seq: 0, checkpointFrom: null, checkpointTo: 1 })
        // A newer run (token 2) takes the state key over and writes.
        const newer = yield* openWriter(sink, key, 2)
        yield* newer.write(batch([{ id: 2, v: 1, name: "newer" }]), { seq: 0, checkpointFrom: null, checkpointTo: 1 })
        const error = yield* Effect.flip(stale.finish!)
        assert.instanceOf(error, StateStore.StateError)
        assert.strictEqual(error._tag, "StateError")
        assert.strictEqual((error as StateStore.StateError).reason, "Fenced")
        assert.isFalse((error as StateStore.StateError).retryable)
        assert.include((error as StateStore.StateError).message, "the staging table was not swapped in")
        assert.deepStrictEqual(yield* readBack(table), [], "the target is untouched")
        assert.strictEqual(yield* tableExists(table), 1, "the staging table is still there")
        // The run holding the lease publishes its rows.
        yield* newer.finish!
        assert.deepStrictEqual(yield* readBack(table), [out(2, 1, "newer")])
      })
    )
  )

  it.live("replace through the runner: a failed run leaves the old target, a re-run publishes every row once", () =>
    Effect.gen(function* () {
      const table = nextTable()
      const sink = makeSink(table, "replace")
      const oldRows: ReadonlyArray<Rec> = [1, 2, 3].map((id) => ({ id, v: 0, name: "old" }))
      const newRows: ReadonlyArray<Rec> = Array.from({ length: 25 }, (_, i) => ({ id: 100 + i, v: 1, name: "new" }))
      const name = `replace_${table}`
      const ok = yield* Runner.run(pipelineOf(name, oldRows, sink), {})
      assert.strictEqual(ok.status, "succeeded")
      assert.deepStrictEqual(yield* readBack(table), [out(1, 0, "old"), out(2, 0, "old"), out(3, 0, "old")])

      const [failing, fatal] = FaultInjection.sink(sink, { on: 6, kind: "fatal", when: "after" })
      const failed = yield* Effect.exit(Runner.run(pipelineOf(name, newRows, failing), {}))
      assert.isTrue(Exit.isFailure(failed), "the run fails at the fatal fault")
      assert.strictEqual(fatal.faults(), 1)
      assert.deepStrictEqual(yield* readBack(table), [out(1, 0, "old"), out(2, 0, "old"), out(3, 0, "old")])
      assert.strictEqual(yield* tableExists(table), 1, "the staging table survives the failed run")

      const rerun = yield* Runner.run(pipelineOf(name, newRows, sink), {})
      assert.strictEqual(rerun.status, "succeeded")
      assert.deepStrictEqual(
        yield* readBack(table),
        newRows.map((r) => out(r.id, 1, "new"))
      )
    }).pipe(Effect.provide(Runner.layerMemory({ purgeIntervalMs: 0 })))
  )
})
