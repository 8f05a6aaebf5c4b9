// Chunked snapshots against the real PostgreSQL: key ranges (and CTID ranges for a table without a key) read several
// at a time on their own connections in one exported snapshot, emitted in key order with a checkpoint at every page;
// a run killed mid-way (backends terminated, or the runner's fiber cancelled) resumes from the last checkpoint with
// every row exactly once in a transactional PostgresSink. Concurrency is shown by the server's own view of the
// connections while the consumer holds back, never by timing.
import { randomBytes } from "node:crypto"
import { Batch, Connector, ConnectorError, Pipeline, Runner, RunStore, type RunSummary } from "@data-mcp/core"
import { FaultInjection } from "@data-mcp/core/testing"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Fiber, Stream } from "effect"
import { postgres } from "../src/PostgresConnector.ts"
import * as PostgresSink from "../src/PostgresSink.ts"
import * as PostgresSource from "../src/PostgresSource.ts"
import { type Fragment, sql } from "../src/Sql.ts"
import { type Batches, collect, config, rowsOf, run, type Source } from "./sourceRead.ts"
import * as Db from "./utils.ts"

const { unreachable, freshSchema } = await Db.database("PostgresSource chunks", "dm_srcc")
const suffix = randomBytes(4).toString("hex")

const idsOf = (batches: Batches) => batches.flatMap((b) => b.records.map((r) => Number(r.id)))

/** `schema.items`: ids 2, 4, …, 2n (odd ids free for later inserts), a name per id. */
const items = (n: number) =>
  Effect.gen(function* () {
    const schema = freshSchema()
    const table = sql.ident([schema, "items"])
    yield* run(
      sql`create schema ${sql.ident(schema)}`,
      sql`create table ${table} (id int8 primary key, name text not null)`,
      sql`insert into ${table} select 2 * g, 'näme ' || g || ' ' || md5(g::text) from generate_series(1, ${n}::int) g`,
      sql`analyze ${table}`
    )
    return { schema, table }
  })

/** count, distinct ids and an order-independent checksum of a table. */
const fingerprint = (table: Fragment) =>
  Effect.map(
    rowsOf<{ n: string; ids: string; checksum: string }>(
      sql`select count(*)::text as n, count(distinct id)::text as ids,
        coalesce(sum(hashtext(id::text || name)::bigint), 0)::text as checksum from ${table}`
    ),
    (rows) => rows[0]!
  )

/** The backends of an application name: their state, and whether they are inside a transaction. */
const backends = (applicationName: string) =>
  rowsOf<{ state: string; xact: boolean; last: string }>(
    sql`select state, xact_start is not null as xact, query as last from pg_stat_activity
      where application_name = ${applicationName} order by state`
  )

const keyed = (table: [string, string], chunks: PostgresSource.ChunkOptions, batchSize: number, app?: string) =>
  PostgresSource.make({
    connection: app === undefined ? config : { ...config, applicationName: app },
    streams: [{ table, key: "id", chunks }],
    batchSize
  })

describe.skipIf(unreachable !== undefined)("PostgresSource chunked snapshots", () => {
  it.live("50,000 rows in chunks of 3,500, three at a time: every row once, in key order, a checkpoint per page", () =>
    Effect.gen(function* () {
      const { schema } = yield* items(50_000)
      const stream = `${schema}.items`
      const source = keyed([schema, "items"], { rows: 3_500, concurrency: 3 }, 1_000)
      const batches = yield* collect(source)
      const expected = Array.from({ length: 50_000 }, (_, i) => 2 * (i + 1))
      assert.deepStrictEqual(idsOf(batches), expected)
      // A page may be handed over in several batches; the last one carries the page's checkpoint: the exact text
      // of its last key. Every checkpoint is valid; then the stream is done.
      const checkpointed = batches.slice(0, -1).filter((b) => b.checkpoint !== undefined)
      assert.isAtLeast(checkpointed.length, 50)
      for (const batch of checkpointed)
        assert.deepStrictEqual(batch.checkpoint, { [stream]: { key: String(batch.records.at(-1)!.id) } })
      assert.deepStrictEqual(batches.at(-1)!.checkpoint, { [stream]: { done: true } })
      // Pages never cross a chunk: each chunk of 3,500 rows ends in a checkpoint of its own.
      const checkpoints = new Set(batches.map((b) => JSON.stringify(b.checkpoint)))
      for (let row = 3_500; row < 50_000; row += 3_500)
        assert.isTrue(checkpoints.has(JSON.stringify({ [stream]: { key: String(2 * row) } })), `chunk end ${row}`)
      // A resume from any page's checkpoint reads exactly the rest.
      for (const page of [0, 3, 17, 40]) {
        const at = batches.indexOf(checkpointed[page]!)
        const rest = yield* collect(source, batches[at]!.checkpoint)
        assert.deepStrictEqual(idsOf(rest), expected.slice(idsOf(batches.slice(0, at + 1)).length), `after ${page}`)
      }
      // The same through encoded batches (COPY text handed over undecoded).
      const encoded = yield* collect(source, undefined, ["postgres/copy-text"])
      assert.isTrue(encoded.slice(0, -1).every((b) => Batch.encodedOf(b) !== undefined))
      assert.deepStrictEqual(
        encoded.flatMap((b) => (b.checkpoint === undefined ? [] : [b.checkpoint])),
        batches.flatMap((b) => (b.checkpoint === undefined ? [] : [b.checkpoint]))
      )
      assert.deepStrictEqual(idsOf(encoded), expected)
    })
  )

  it.live(
    "every chunk reads the one snapshot: rows inserted, deleted or changed after the read began are not seen",
    () =>
      Effect.gen(function* () {
        const { schema, table } = yield* items(20_000)
        const before = yield* fingerprint(table)
        // Two at a time: when the first batch arrives, chunks 3..10 have not begun; they open after the changes.
        const source = keyed([schema, "items"], { rows: 2_000, concurrency: 2 }, 500)
        let changed = false
        const batches = yield* Stream.runCollect(
          source.read(undefined, { runId: "t", batchRows: 10 }).pipe(
            Stream.tap(() =>
              changed
                ? Effect.void
                : Effect.andThen(
                    run(
                      sql`insert into ${table} select 2 * g + 1, 'new' from generate_series(1, 20000) g`,
                      sql`delete from ${table} where id > 30000`,
                      sql`update ${table} set name = 'changed' where id % 3 = 0`
                    ),
                    Effect.sync(() => {
                      changed = true
                    })
                  )
            )
          )
        )
        assert.isTrue(changed)
        const rows = batches.flatMap((b) => b.records)
        assert.deepStrictEqual(
          rows.map((r) => Number(r.id)),
          Array.from({ length: 20_000 }, (_, i) => 2 * (i + 1))
        )
        assert.isFalse(rows.some((r) => r.name === "changed" || r.name === "new"))
        const after = yield* fingerprint(table)
        assert.notDeepEqual(after, before, "the table did change meanwhile")
      })
  )

  /** Reads `source`, holding the first batch until `resume` is called. */
  const pausedRead = (source: Source) =>
    Effect.gen(function* () {
      const paused = yield* Deferred.make<void>()
      const resume = yield* Deferred.make<void>()
      let first = true
      const fiber = yield* Effect.forkChild(
        Effect.exit(
          Stream.runCollect(
            source.read(undefined, { runId: "t", batchRows: 10 }).pipe(
              Stream.tap(() => {
                if (!first) return Effect.void
                first = false
                return Deferred.succeed(paused, undefined).pipe(Effect.andThen(Deferred.await(resume)))
              })
            )
          )
        ),
        { startImmediately: true }
      )
      yield* Deferred.await(paused)
      return { fiber, resume: Deferred.succeed(resume, undefined) }
    })

  /**
   * Waits until the chunks in flight are read — every other connection has ended its chunk's transaction — and
   * only the connection that planned them (and exported the snapshot) is still inside a transaction, with at
   * least `connections` backends in all; returns what it saw.
   */
  const settled = (app: string, connections: number) =>
    Effect.gen(function* () {
      let seen: ReadonlyArray<{ state: string; xact: boolean; last: string }> = []
      for (let poll = 0; poll < 400; poll++) {
        seen = yield* backends(app)
        const readers = seen.filter((b) => !b.xact)
        if (
          seen.length >= connections &&
          seen.length - readers.length === 1 &&
          readers.every((b) => b.last === "rollback")
        )
          break
        yield* Effect.sleep(25)
      }
      return seen.map((b) => (b.xact ? "in transaction" : "idle")).sort()
    })

  it.live("chunks are read on several connections at once: the server shows them while the consumer waits", () =>
    Effect.gen(function* () {
      const { schema } = yield* items(30_000)
      const app = `dm_chunks_${suffix}`
      const { fiber, resume } = yield* pausedRead(keyed([schema, "items"], { rows: 2_000, concurrency: 3 }, 500, app))
      // The consumer holds the first batch. The connection that planned the chunks keeps the exported snapshot open
      // (in a transaction); three chunks were read at once, so the pool opened three more connections. A
      // sequential read would have reused one; a fourth chunk waits for a permit and opens none.
      assert.deepStrictEqual(yield* settled(app, 4), ["idle", "idle", "idle", "in transaction"])
      yield* resume
      const exit = yield* Fiber.join(fiber)
      assert.strictEqual(exit._tag, "Success")
      if (exit._tag === "Success") assert.strictEqual(idsOf(exit.value).length, 30_000)
    })
  )

  it.live("a consumer that stops early leaves no connection or transaction behind", () =>
    Effect.gen(function* () {
      const { schema } = yield* items(20_000)
      const app = `dm_chunks_stop_${suffix}`
      const source = keyed([schema, "items"], { rows: 2_000, concurrency: 3 }, 500, app)
      // Batches of 500 (the batch size hint bounds a page's groups): three batches are the first three pages.
      const head = yield* Stream.runCollect(Stream.take(source.read(undefined, { runId: "t", batchRows: 500 }), 3))
      assert.deepStrictEqual(
        idsOf(head),
        Array.from({ length: 1_500 }, (_, i) => 2 * (i + 1))
      )
      let left = yield* backends(app)
      for (let poll = 0; poll < 200 && left.length > 0; poll++) {
        yield* Effect.sleep(25)
        left = yield* backends(app)
      }
      assert.deepStrictEqual(left, [])
    })
  )

  it.live("when the session holding the snapshot dies, the next chunk fails retryably (a retry starts afresh)", () =>
    Effect.gen(function* () {
      const { schema } = yield* items(20_000)
      const app = `dm_chunks_gone_${suffix}`
      const { fiber, resume } = yield* pausedRead(keyed([schema, "items"], { rows: 2_000, concurrency: 2 }, 500, app))
      assert.deepStrictEqual(yield* settled(app, 3), ["idle", "idle", "in transaction"])
      yield* run(
        sql`select pg_terminate_backend(pid) from pg_stat_activity where application_name = ${app} and xact_start is not null`
      )
      while ((yield* backends(app)).some((b) => b.xact)) yield* Effect.sleep(10)
      // Chunk 3 cannot import the snapshot any more.
      yield* resume
      const exit = yield* Fiber.join(fiber)
      assert.strictEqual(exit._tag, "Failure")
      const error = exit._tag === "Failure" ? Cause.squash(exit.cause) : undefined
      assert.instanceOf(error, ConnectorError.ConnectorError)
      assert.strictEqual((error as ConnectorError.ConnectorError).reason._tag, "ConnectionError")
      assert.isTrue((error as ConnectorError.ConnectorError).retryable)
      assert.include((error as ConnectorError.ConnectorError).message, "shared snapshot is gone")
    })
  )

  const killOrCancel = (how: "terminate" | "cancel") =>
    Effect.gen(function* () {
      const { schema, table } = yield* items(50_000)
      const app = `dm_chunks_${how}_${suffix}`
      const target = sql.ident([schema, "copy"])
      const pipeline = Pipeline.make<PostgresSource.Row, PostgresSource.Row>({
        name: `chunks_${how}_${suffix}`,
        version: "1.0.0",
        description: "a chunked snapshot into a transactional sink, interrupted",
        source: keyed([schema, "items"], { rows: 2_500, concurrency: 3 }, 1_000, app),
        sink: FaultInjection.slowSink(
          PostgresSink.make({
            connection: config,
            table: [schema, "copy"],
            columns: [
              { name: "id", type: "bigint" },
              { name: "name", type: "text" }
            ],
            transactional: true
          }),
          5
        ),
        options: {
          batch: { rows: 1_000, maxWaitMs: 20 },
          retry: { initialDelayMs: 5, maxDelayMs: 50, maxAttempts: 8 }
        }
      })
      const copied = () =>
        Effect.map(rowsOf<{ n: number }>(sql`select count(*)::int as n from ${target}`), (r) => r[0]!.n).pipe(
          Effect.orElseSucceed(() => 0)
        )
      const handle = yield* Runner.start(pipeline, {})
      while ((yield* copied()) < 12_000) yield* Effect.sleep(10)
      let summary: RunSummary.RunSummary
      if (how === "terminate") {
        // Every backend of the source inside a transaction: the one holding the exported snapshot, and any chunk
        // reader caught mid-read. Chunks still to come cannot import the snapshot any more: the read fails
        // (retryably) and restarts from its last checkpoint, in a new snapshot.
        const killed = yield* rowsOf<{ killed: boolean }>(
          sql`select pg_terminate_backend(pid) as killed from pg_stat_activity
            where application_name = ${app} and xact_start is not null`
        )
        assert.isAbove(killed.filter((k) => k.killed).length, 0)
        summary = yield* handle.result
        const events = yield* RunStore.RunStore.use((s) => s.events(handle.id))
        assert.isAbove(events.filter((e) => e._tag === "RetryScheduled").length, 0, "the read was retried")
      } else {
        const cancelled = yield* handle.cancel
        assert.strictEqual(cancelled.status, "cancelled")
        summary = yield* Runner.run(pipeline, {})
        assert.isNotNull(summary.checkpointFrom, "the re-run resumes from a checkpoint")
        assert.isBelow(summary.recordsRead, 50_000, "the re-run does not start over")
      }
      assert.strictEqual(summary.status, "succeeded")
      const [expected, actual] = [yield* fingerprint(table), yield* fingerprint(target)]
      assert.deepStrictEqual(actual, expected)
      assert.strictEqual(actual.ids, "50000")
    }).pipe(Effect.provide(Runner.layerMemory({ purgeIntervalMs: 0 })))

  it.live("a run whose source backends are terminated mid-way resumes: every row exactly once", () =>
    killOrCancel("terminate")
  )

  it.live("a run cancelled mid-way and re-run resumes from the last checkpoint: every row exactly once", () =>
    killOrCancel("cancel")
  )

  it.live("a table without a key is read by CTID ranges: every row once, resumable from any chunk", () =>
    Effect.gen(function* () {
      const schema = freshSchema()
      const table = sql.ident([schema, "log"])
      yield* run(
        sql`create schema ${sql.ident(schema)}`,
        sql`create table ${table} (line int not null, text text not null)`,
        sql`insert into ${table} select g % 997, md5(g::text) from generate_series(1, 20000) g`
      )
      const stream = `${schema}.log`
      const all = (yield* rowsOf<{ line: number; text: string }>(sql`select line, text from ${table}`))
        .map((r) => `${r.line}:${r.text}`)
        .sort()
      const lines = (batches: Batches) => batches.flatMap((b) => b.records.map((r) => `${r.line}:${r.text}`))
      for (const concurrency of [1, 3]) {
        const source = PostgresSource.make({
          connection: config,
          streams: [{ table: [schema, "log"], chunks: { rows: 1_500, concurrency } }]
        })
        for (const encodings of [undefined, ["postgres/copy-text"], ["postgres/copy-binary"]]) {
          const batches = yield* collect(source, undefined, encodings)
          assert.deepStrictEqual([...lines(batches)].sort(), all, `concurrency ${concurrency}`)
          // A checkpoint per chunk, at the next chunk's first page (on its last batch); the last chunk ends the stream.
          const ends = batches.slice(0, -1).filter((b) => b.checkpoint !== undefined)
          const pages = ends.map((b) => (b.checkpoint![stream] as { page: number }).page)
          assert.isAbove(pages.length, 5)
          assert.deepStrictEqual(
            pages,
            [...pages].sort((a, b) => a - b)
          )
          assert.deepStrictEqual(batches.at(-1)!.checkpoint, { [stream]: { done: true } })
          if (encodings !== undefined)
            assert.isTrue(batches.filter((b) => Batch.size(b) > 0).every((b) => Batch.encodedOf(b) !== undefined))
          // Resumed from a chunk's checkpoint (the table unchanged): the rest, so that every row is read once.
          const at = batches.indexOf(ends[Math.floor(ends.length / 2)]!)
          const rest = yield* collect(source, batches[at]!.checkpoint, encodings)
          assert.deepStrictEqual([...lines(batches.slice(0, at + 1)), ...lines(rest)].sort(), all)
        }
      }
      // A materialized view has CTID ranges too; a view has none: it needs a key.
      yield* run(sql`create materialized view ${sql.ident([schema, "log_mv"])} as select * from ${table}`)
      const mv = yield* collect(
        PostgresSource.make({
          connection: config,
          streams: [{ table: [schema, "log_mv"], chunks: { rows: 4_000, concurrency: 2 } }]
        })
      )
      assert.deepStrictEqual([...lines(mv)].sort(), all)
      yield* run(sql`create view ${sql.ident([schema, "log_view"])} as select * from ${table}`)
      const error = yield* Effect.flip(
        collect(PostgresSource.make({ connection: config, streams: [{ table: [schema, "log_view"] }] }))
      )
      assert.include(error.message, "Give the stream a key")
    })
  )

  it.live("a spec can ask for chunks and a keyless table; bad chunk options are refused when decoded", () =>
    Effect.gen(function* () {
      const { schema } = yield* items(3_000)
      const options = (chunks: unknown) => ({
        connection: config,
        streams: [{ table: [schema, "items"], key: "id", chunks }, { table: [schema, "items_copy"] }]
      })
      yield* run(
        sql`create table ${sql.ident([schema, "items_copy"])} as select * from ${sql.ident([schema, "items"])}`
      )
      const decoded = yield* Connector.decodeConfig(postgres, "source", options({ rows: 700, concurrency: 2 }))
      const source = postgres.source!.make(decoded as never) as Source
      const batches = yield* collect(source)
      assert.strictEqual(batches.filter((b) => b.stream === `${schema}.items`).flatMap((b) => b.records).length, 3_000)
      assert.strictEqual(
        batches.filter((b) => b.stream === `${schema}.items_copy`).flatMap((b) => b.records).length,
        3_000
      )
      const refused = yield* Effect.flip(Connector.decodeConfig(postgres, "source", options({ rows: 0 })))
      assert.strictEqual(refused._tag, "ConfigError")
    })
  )
})
