// Chunked snapshots against the real MariaDB/MySQL: the conformance suite on a chunked stream; every row once, in
// key order, with a checkpoint after every batch; a resume from any checkpoint reads exactly the rest; the readers
// share one snapshot (writes made once the read has started — updates, deletes, inserts below and above the upper
// bound — are not seen by any chunk; a write in flight when the read starts is waited for); a user without the LOCK
// TABLES privilege still reads every row once, with the fallback logged; option checks.
// With CI=true the suite must run; otherwise an unreachable server skips it with the reason printed.

import { randomBytes } from "node:crypto"
import type { Batch, Pipeline } from "@data-mcp/core"
import { ConnectorConformance } from "@data-mcp/core/testing"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Logger, Redacted, Stream } from "effect"
import * as MysqlSource from "../src/MysqlSource.ts"
import * as Db from "./utils.ts"

const db = await Db.database("MysqlSource chunks", "dm_chunks")
let tables = 0

interface Rec {
  readonly id: bigint
  readonly name: string
}

const makeRecords = (n: number, offset = 0): ReadonlyArray<Rec> =>
  Array.from({ length: n }, (_, j) => ({ id: BigInt((j + offset) * 3 + 1), name: `row ${j + offset} \t 🎉` }))

const createTable = (table: string, records: ReadonlyArray<Rec>) =>
  Effect.promise(() =>
    Db.withConnection(async (c) => {
      await c.query(`create table \`${table}\` (id bigint primary key, name text not null)`)
      if (records.length > 0)
        await c.query(`insert into \`${table}\` (id, name) values ?`, [records.map((r) => [r.id, r.name])])
    }, db.name)
  )

const exec = (statement: string) => Effect.promise(() => Db.withConnection((c) => c.query(statement), db.name))

const chunked = (table: string, rows: number, concurrency: number, batchSize = 25) =>
  MysqlSource.make({
    connection: { ...db.config, poolSize: concurrency + 2 },
    streams: [{ table, key: "id", chunks: { rows, concurrency } }],
    batchSize
  })

const context = { runId: "test", batchRows: 25 }

const idsOf = (batches: ReadonlyArray<Batch.Batch<MysqlSource.Row, unknown>>) =>
  batches.flatMap((b) => b.records.map((r) => String(r.id)))

const positionsOf = (
  table: string,
  batches: ReadonlyArray<Batch.Batch<MysqlSource.Row, MysqlSource.MysqlCheckpoint>>
) => batches.map((b) => b.checkpoint?.[`${db.name}.${table}`])

describe.skipIf(db.unreachable !== undefined)("MysqlSource chunks", () => {
  ConnectorConformance.suite<Rec, never>("mysql-source-chunks", {
    source: {
      records: (n) => makeRecords(n),
      make: (records) =>
        Effect.gen(function* () {
          const table = `conf_${++tables}`
          yield* createTable(table, records)
          return chunked(table, 7, 3, 5) as unknown as Pipeline.AnySource<Rec>
        }),
      id: (r) => String(r.id)
    }
  })

  it.live("reads every row once in key order, a checkpoint after every batch, and ends with done", () =>
    Effect.gen(function* () {
      const table = `all_${++tables}`
      const records = makeRecords(1_000)
      yield* createTable(table, records)
      const batches = yield* Stream.runCollect(chunked(table, 100, 3).read(undefined, context))
      assert.deepStrictEqual(
        idsOf(batches),
        records.map((r) => String(r.id))
      )
      // 10 ranges of 100 rows, 4 batches each (25 rows), then the closing { done: true }.
      assert.strictEqual(batches.length, 41)
      const positions = positionsOf(table, batches)
      assert.deepStrictEqual(positions.at(-1), { done: true })
      assert.deepStrictEqual(positions[3], { key: String(records[99]!.id) })
      assert.deepStrictEqual(positions[39], { key: String(records[999]!.id) })
      const row = batches[0]!.records[0]!
      assert.strictEqual(row.id, 1n)
      assert.strictEqual(row.name, "row 0 \t 🎉")
    })
  )

  it.live("a resume from any checkpoint reads exactly the rest", () =>
    Effect.gen(function* () {
      const table = `resume_${++tables}`
      const records = makeRecords(300)
      yield* createTable(table, records)
      const source = chunked(table, 40, 2, 15)
      const all = yield* Stream.runCollect(source.read(undefined, context))
      const ids = idsOf(all)
      for (const at of [0, 1, 2, 5, 11, all.length - 2]) {
        const rest = yield* Stream.runCollect(source.read(all[at]!.checkpoint!, context))
        const seen = idsOf(all.slice(0, at + 1)).length
        assert.deepStrictEqual(idsOf(rest), ids.slice(seen), `resumed after batch ${at}`)
      }
      const none = yield* Stream.runCollect(source.read(all.at(-1)!.checkpoint!, context))
      assert.strictEqual(idsOf(none).length, 0)
    })
  )

  it.live("all readers share the snapshot taken at the start: later writes are seen by no chunk", () =>
    Effect.gen(function* () {
      const table = `snap_${++tables}`
      const records = makeRecords(600)
      yield* createTable(table, records)
      const last = records.at(-1)!.id
      let wrote = false
      const batches = yield* Stream.runCollect(
        chunked(table, 50, 3, 10)
          .read(undefined, context)
          .pipe(
            Stream.tap(() =>
              wrote
                ? Effect.void
                : Effect.gen(function* () {
                    wrote = true
                    // Writes to ranges no reader has started yet, and above the upper bound.
                    yield* exec(`update \`${table}\` set name = 'changed' where id = ${records[550]!.id}`)
                    yield* exec(`delete from \`${table}\` where id = ${records[500]!.id}`)
                    yield* exec(`insert into \`${table}\` (id, name) values (${records[450]!.id + 1n}, 'new below')`)
                    yield* exec(`insert into \`${table}\` (id, name) values (${last + 10n}, 'new above')`)
                  })
            )
          )
      )
      assert.isTrue(wrote)
      assert.deepStrictEqual(
        idsOf(batches),
        records.map((r) => String(r.id))
      )
      const rows = batches.flatMap((b) => b.records)
      assert.strictEqual(rows.find((r) => r.id === records[550]!.id)?.name, records[550]!.name)
      assert.notInclude(
        rows.map((r) => r.name),
        "changed"
      )
    })
  )

  it.live("a write in flight when the read starts is waited for, then seen by every reader", () =>
    Effect.gen(function* () {
      const table = `inflight_${++tables}`
      const records = makeRecords(400)
      yield* createTable(table, records)
      // An open transaction has written into the first and the last key range; it commits 400 ms later. The
      // readers open their snapshots only once the table lock is granted, after that commit: all of them see both
      // rows (without the lock, the readers would start at once and see neither).
      const writer = yield* Effect.promise(() => Db.openConnection(db.name))
      yield* Effect.addFinalizer(() => Effect.promise(() => writer.end().catch(() => undefined)))
      yield* Effect.promise(() => writer.query("start transaction"))
      yield* Effect.promise(() =>
        writer.query(
          `insert into \`${table}\` (id, name) values (2, 'first range'), (${records[398]!.id + 1n}, 'last range')`
        )
      )
      yield* Effect.forkChild(
        Effect.sleep("400 millis").pipe(Effect.andThen(Effect.promise(() => writer.query("commit")))),
        { startImmediately: true }
      )
      const started = Date.now()
      const batches = yield* Stream.runCollect(chunked(table, 100, 3, 50).read(undefined, context))
      assert.isAtLeast(Date.now() - started, 300)
      const ids = idsOf(batches)
      assert.strictEqual(ids.length, 402)
      assert.include(ids, "2")
      assert.include(ids, String(records[398]!.id + 1n))
      assert.deepStrictEqual(
        ids,
        [...ids].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1))
      )
    }).pipe(Effect.scoped)
  )

  it.live(
    "without the LOCK TABLES privilege each reader keeps its own snapshot, and every row is still read once",
    () =>
      Effect.gen(function* () {
        const table = `nolock_${++tables}`
        const records = makeRecords(250)
        yield* createTable(table, records)
        // A user who may read the database but not lock its tables.
        const user = `dm_nolock_${randomBytes(4).toString("hex")}`
        const password = randomBytes(12).toString("hex")
        yield* exec(`create user '${user}'@'%' identified by '${password}'`)
        yield* Effect.addFinalizer(() => Effect.ignore(exec(`drop user if exists '${user}'@'%'`)))
        yield* exec(`grant select on \`${db.name}\`.* to '${user}'@'%'`)
        const logs: Array<string> = []
        const logger = Logger.make(({ message }) => {
          logs.push(String(Array.isArray(message) ? message.join(" ") : message))
        })
        const source = MysqlSource.make({
          connection: { ...db.config, user, password: Redacted.make(password), poolSize: 5 },
          streams: [{ table, key: "id", chunks: { rows: 40, concurrency: 3 } }],
          batchSize: 20
        })
        const batches = yield* Stream.runCollect(source.read(undefined, context)).pipe(
          Effect.provide(Logger.layer([logger]))
        )
        assert.deepStrictEqual(
          idsOf(batches),
          records.map((r) => String(r.id))
        )
        assert.isTrue(
          logs.some((l) => l.includes("LOCK TABLES") && l.includes("own snapshot")),
          "the fallback is logged"
        )
        assert.isFalse(logs.some((l) => l.includes(password)))
      }).pipe(Effect.scoped)
  )

  it.live("an empty table ends with done; a single reader works without a lock", () =>
    Effect.gen(function* () {
      const table = `empty_${++tables}`
      yield* createTable(table, [])
      const empty = yield* Stream.runCollect(chunked(table, 10, 2).read(undefined, context))
      assert.deepStrictEqual(positionsOf(table, empty), [{ done: true }])
      const one = `one_${++tables}`
      yield* createTable(one, makeRecords(33))
      const batches = yield* Stream.runCollect(chunked(one, 10, 1, 4).read(undefined, context))
      assert.strictEqual(idsOf(batches).length, 33)
    })
  )

  it("refuses chunks with a cursor, on a query, or beyond the pool, naming the field", () => {
    const cases: ReadonlyArray<readonly [MysqlSource.MysqlSourceOptions, string]> = [
      [{ connection: db.config, streams: [{ table: "t", key: "id", cursor: "at", chunks: {} }] }, "streams.0.chunks"],
      [{ connection: db.config, streams: [{ table: "t", key: "id", chunks: { rows: 0 } }] }, "streams.0.chunks.rows"],
      [
        {
          connection: { ...db.config, poolSize: 4 },
          streams: [
            { table: "t", key: "id" },
            { table: "u", key: "id", chunks: { concurrency: 4 } }
          ]
        },
        "streams.1.chunks.concurrency"
      ],
      [
        {
          connection: db.config,
          streams: [
            { table: "t", key: "id" },
            { table: "t", key: "id" }
          ]
        },
        "streams.1"
      ]
    ]
    for (const [options, path] of cases) {
      try {
        MysqlSource.make(options)
        assert.fail(`expected a ConfigError at ${path}`)
      } catch (e) {
        assert.strictEqual((e as { _tag: string })._tag, "ConfigError")
        assert.strictEqual((e as { path: string }).path, path)
      }
    }
  })
})
