import { createRequire } from "node:module"
import { type Config, type RunEvent, RunStore, type StateStore } from "@data-mcp/core"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { TestClock } from "effect/testing"
import type pg from "pg"

import * as PostgresRunStore from "../src/PostgresRunStore.ts"

// vitest runs Node with `--conditions import`, under which pg's index requires pg-pool's ESM build; the client
// alone does not need the pool, so load it directly for set-up and tear-down.
const Client = createRequire(import.meta.url)("pg/lib/client.js") as typeof pg.Client

const connection = {
  host: process.env.PGHOST ?? "127.0.0.1",
  port: Number(process.env.PGPORT ?? 5432),
  user: process.env.PGUSER ?? "postgres",
  database: process.env.PGDATABASE ?? "test"
}

const withClient = async <A>(f: (client: pg.Client) => Promise<A>): Promise<A> => {
  const client = new Client({ ...connection, connectionTimeoutMillis: 5_000 })
  await client.connect()
  try {
    return await f(client)
  } finally {
    await client.end().catch(() => undefined)
  }
}

const probe = async (): Promise<string | undefined> => {
  try {
    await withClient(async () => undefined)
    return undefined
  } catch (e) {
    return e instanceof Error ? e.message : String(e)
  }
}

// With CI=true the suite never skips.
const unreachable = process.env.CI === "true" ? undefined : await probe()
if (unreachable !== undefined)
  console.warn(
    `Skipping PostgresRunStore integration tests: PostgreSQL at ${connection.host}:${connection.port} is unreachable (${unreachable})`
  )

// One schema per test, all under this file's unique prefix, dropped at the end.
const prefix = `dm_runs_${process.pid}_${Date.now().toString(36)}`
let counter = 0
const schemas: Array<string> = []
const freshSchema = (): string => {
  const schema = `${prefix}_${counter++}`
  schemas.push(schema)
  return schema
}
afterAll(async () => {
  if (unreachable !== undefined) return
  await withClient(async (client) => {
    for (const schema of schemas) await client.query(`drop schema if exists "${schema}" cascade`)
  })
})

const layerOn = (schema: string) => PostgresRunStore.layer(connection, { schema })

const DAY = 24 * 3600_000
const NOW = Date.parse("2026-03-01T00:00:00.000Z")
const iso = (ms: number): string => new Date(ms).toISOString()

const makeRun = (id: string, fields: Partial<RunStore.RunRecord> = {}): RunStore.RunRecord => ({
  id,
  pipeline: "orders",
  version: "1.0.0",
  stateKey: "orders:abc",
  status: "succeeded",
  params: { since: "2026-01-01" },
  guarantee: "at-least-once",
  createdAt: iso(NOW),
  updatedAt: iso(NOW),
  heartbeatAt: iso(NOW),
  ...fields
})

const batch = (runId: string, seq: number, at: number): RunEvent.RunEvent => ({
  _tag: "BatchWritten",
  runId,
  at: iso(at),
  stream: "public.orders",
  seq,
  read: 10,
  written: 9,
  deadLetters: 1
})

const ended = (runId: string, at: number): RunEvent.RunEvent => ({
  _tag: "RunFinished",
  runId,
  at: iso(at),
  summary: {
    runId,
    pipeline: "orders",
    version: "1.0.0",
    stateKey: "orders:abc",
    status: "succeeded",
    guarantee: "at-least-once",
    recordsRead: 10,
    recordsWritten: 9,
    deadLetters: 1,
    batches: 1,
    retries: 0,
    checkpointFrom: null,
    checkpointTo: { id: 10 },
    startedAt: iso(at - 1000),
    finishedAt: iso(at),
    durationMs: 1000,
    streams: { "public.orders": { read: 10, written: 9 } },
    notes: []
  }
})

// The cases of core's RunStore suite, against PostgreSQL.
const ids = (page: RunStore.RunPage) => page.runs.map((run) => run.id)

const suite = (
  name: string,
  makeLayer: () => Layer.Layer<RunStore.RunStore, StateStore.StateError | Config.ConfigError>
) =>
  describe.skipIf(unreachable !== undefined)(name, () => {
    const withStore = <A, E>(f: (s: RunStore.RunStoreShape) => Effect.Effect<A, E>) =>
      RunStore.RunStore.use(f).pipe(Effect.provide(makeLayer()))

    it.effect("create, get and update", () =>
      withStore((s) =>
        Effect.gen(function* () {
          const run = makeRun("r1", { status: "running", caller: "alice", tenant: "acme" })
          yield* s.create(run)
          assert.deepStrictEqual(yield* s.get("r1"), run)
          assert.strictEqual(yield* s.get("nope"), undefined)
          assert.strictEqual((yield* Effect.flip(s.create(run))).reason, "Conflict")
          const updated = yield* s.update("r1", {
            status: "succeeded",
            finishedAt: iso(NOW + 1000),
            caller: undefined,
            // not patchable: ignored
            ...({ id: "r2", pipeline: "other", createdAt: iso(0) } as object)
          })
          assert.strictEqual(updated.status, "succeeded")
          assert.strictEqual(updated.id, "r1")
          assert.strictEqual(updated.pipeline, "orders")
          assert.strictEqual(updated.createdAt, run.createdAt)
          assert.isFalse("caller" in updated)
          assert.deepStrictEqual(yield* s.get("r1"), updated)
          assert.strictEqual(yield* s.get("r2"), undefined)
          assert.strictEqual((yield* Effect.flip(s.update("nope", { status: "failed" }))).reason, "NotFound")
        })
      )
    )

    it.effect("list: newest first by createdAt, then id", () =>
      withStore((s) =>
        Effect.gen(function* () {
          yield* s.create(makeRun("b", { createdAt: iso(NOW) }))
          yield* s.create(makeRun("a", { createdAt: iso(NOW) }))
          yield* s.create(makeRun("c", { createdAt: iso(NOW - 1000) }))
          yield* s.create(makeRun("d", { createdAt: iso(NOW + 1000) }))
          yield* s.create(makeRun("e", { createdAt: iso(NOW) }))
          assert.deepStrictEqual(ids(yield* s.list({})), ["d", "e", "b", "a", "c"])
        })
      )
    )

    it.effect("list filters by pipeline, status, caller and tenant", () =>
      withStore((s) =>
        Effect.gen(function* () {
          yield* s.create(makeRun("1", { pipeline: "orders", status: "running", caller: "alice", tenant: "acme" }))
          yield* s.create(makeRun("2", { pipeline: "users", status: "failed", caller: "bob", tenant: "acme" }))
          yield* s.create(makeRun("3", { pipeline: "orders", status: "failed", caller: "alice", tenant: "globex" }))
          yield* s.create(makeRun("4", { pipeline: "orders", status: "failed" }))
          assert.deepStrictEqual(ids(yield* s.list({ pipeline: "orders" })), ["4", "3", "1"])
          assert.deepStrictEqual(ids(yield* s.list({ status: "failed" })), ["4", "3", "2"])
          assert.deepStrictEqual(ids(yield* s.list({ caller: "alice" })), ["3", "1"])
          assert.deepStrictEqual(ids(yield* s.list({ tenant: "acme" })), ["2", "1"])
          assert.deepStrictEqual(ids(yield* s.list({ pipeline: "orders", status: "failed", tenant: "globex" })), ["3"])
          assert.deepStrictEqual(ids(yield* s.list({ pipeline: "none" })), [])
        })
      )
    )

    it.effect("list paginates with an opaque cursor; limit defaults to 50", () =>
      withStore((s) =>
        Effect.gen(function* () {
          for (let i = 0; i < 60; i++) {
            yield* s.create(makeRun(`r${String(i).padStart(2, "0")}`, { createdAt: iso(NOW + i * 1000) }))
          }
          const first = yield* s.list({})
          assert.strictEqual(first.runs.length, 50)
          assert.strictEqual(first.runs[0]?.id, "r59")
          assert.isString(first.nextCursor)
          const rest = yield* s.list({ cursor: first.nextCursor })
          assert.strictEqual(rest.runs.length, 10)
          assert.strictEqual(rest.nextCursor, undefined)

          const seen: Array<string> = []
          let cursor: string | undefined
          do {
            // a newer run arriving between pages does not shift the pages
            if (cursor !== undefined && seen.length === 7)
              yield* s.create(makeRun("new", { createdAt: iso(NOW + DAY) }))
            const page = yield* s.list({ limit: 7, cursor })
            assert.isTrue(page.runs.length <= 7)
            seen.push(...ids(page))
            cursor = page.nextCursor
          } while (cursor !== undefined)
          assert.deepStrictEqual(seen, ids(first).concat(ids(rest)))

          const exact = yield* s.list({ limit: 61 })
          assert.strictEqual(exact.runs.length, 61)
          assert.strictEqual(exact.nextCursor, undefined)
          assert.strictEqual((yield* Effect.flip(s.list({ cursor: "garbage" }))).reason, "NotFound")
        })
      )
    )

    it.effect("events: appended in order, read from an index with a limit", () =>
      withStore((s) =>
        Effect.gen(function* () {
          yield* s.create(makeRun("r1", { status: "running" }))
          yield* s.create(makeRun("r2", { status: "running" }))
          assert.deepStrictEqual(yield* s.events("r1"), [])
          const all = [batch("r1", 0, NOW), batch("r1", 1, NOW + 1), batch("r1", 2, NOW + 2), ended("r1", NOW + 3)]
          yield* s.appendEvents("r1", all.slice(0, 2))
          yield* s.appendEvents("r2", [batch("r2", 0, NOW)])
          yield* s.appendEvents("r1", [])
          yield* s.appendEvents("r1", all.slice(2))
          assert.deepStrictEqual(yield* s.events("r1"), all)
          assert.deepStrictEqual(yield* s.events("r1", { from: 1, limit: 2 }), all.slice(1, 3))
          assert.deepStrictEqual(yield* s.events("r1", { from: 3 }), all.slice(3))
          assert.deepStrictEqual(yield* s.events("r1", { from: 10 }), [])
          assert.deepStrictEqual(yield* s.events("r2"), [batch("r2", 0, NOW)])
          assert.strictEqual((yield* Effect.flip(s.appendEvents("nope", all))).reason, "NotFound")
          assert.strictEqual((yield* Effect.flip(s.events("nope"))).reason, "NotFound")
        })
      )
    )

    it.effect("markAbandoned: running and queued runs with a stale heartbeat", () =>
      withStore((s) =>
        Effect.gen(function* () {
          yield* TestClock.setTime(NOW)
          yield* s.create(makeRun("stale-running", { status: "running", heartbeatAt: iso(NOW - 60_000) }))
          yield* s.create(makeRun("stale-queued", { status: "queued", heartbeatAt: iso(NOW - 60_000) }))
          yield* s.create(makeRun("fresh", { status: "running", heartbeatAt: iso(NOW - 1000) }))
          yield* s.create(makeRun("done", { status: "succeeded", heartbeatAt: iso(NOW - DAY) }))
          const abandoned = yield* s.markAbandoned(NOW - 30_000)
          assert.deepStrictEqual([...abandoned].sort(), ["stale-queued", "stale-running"])
          const run = yield* s.get("stale-running")
          assert.strictEqual(run?.status, "abandoned")
          assert.strictEqual(run?.updatedAt, iso(NOW))
          assert.strictEqual(run?.finishedAt, iso(NOW))
          assert.strictEqual((yield* s.get("fresh"))?.status, "running")
          assert.strictEqual((yield* s.get("done"))?.status, "succeeded")
          assert.deepStrictEqual(yield* s.markAbandoned(NOW - 30_000), [])
        })
      )
    )

    it.effect("purge by age never removes running or queued runs", () =>
      withStore((s) =>
        Effect.gen(function* () {
          const old = NOW - 100 * DAY
          yield* s.create(makeRun("old-done", { createdAt: iso(old) }))
          yield* s.create(makeRun("old-failed", { status: "failed", createdAt: iso(old) }))
          yield* s.create(makeRun("old-running", { status: "running", createdAt: iso(old) }))
          yield* s.create(makeRun("old-queued", { status: "queued", createdAt: iso(old) }))
          yield* s.create(makeRun("recent", { createdAt: iso(NOW - DAY) }))
          yield* s.appendEvents("old-done", [batch("old-done", 0, old), ended("old-done", old + 1)])
          yield* s.appendEvents("old-running", [batch("old-running", 0, old)])
          const purged = yield* s.purge(RunStore.defaultRetention, NOW)
          assert.deepStrictEqual(purged, { runs: 2, events: 2 })
          assert.deepStrictEqual(ids(yield* s.list({})).sort(), ["old-queued", "old-running", "recent"])
          assert.strictEqual((yield* s.events("old-running")).length, 1)
          assert.strictEqual((yield* Effect.flip(s.events("old-done"))).reason, "NotFound")
          // a purged id can be reused without inheriting old events
          yield* s.create(makeRun("old-done"))
          assert.deepStrictEqual(yield* s.events("old-done"), [])
        })
      )
    )

    it.effect("purge keeps the newest runs per pipeline", () =>
      withStore((s) =>
        Effect.gen(function* () {
          for (let i = 0; i < 5; i++) {
            yield* s.create(makeRun(`o${i}`, { pipeline: "orders", createdAt: iso(NOW - i * 1000) }))
            yield* s.create(makeRun(`u${i}`, { pipeline: "users", createdAt: iso(NOW - i * 1000) }))
          }
          yield* s.update("o4", { status: "running" })
          const purged = yield* s.purge({ ...RunStore.defaultRetention, runsPerPipeline: 2 }, NOW)
          assert.deepStrictEqual(purged, { runs: 5, events: 0 })
          assert.deepStrictEqual(ids(yield* s.list({ pipeline: "orders" })), ["o0", "o1", "o4"])
          assert.deepStrictEqual(ids(yield* s.list({ pipeline: "users" })), ["u0", "u1"])
        })
      )
    )

    it.effect("purge removes old events of finished runs only", () =>
      withStore((s) =>
        Effect.gen(function* () {
          const start = NOW - 10 * DAY
          yield* s.create(makeRun("done", { createdAt: iso(start) }))
          yield* s.create(makeRun("live", { status: "running", createdAt: iso(start) }))
          const doneEvents = [batch("done", 0, start), batch("done", 1, start + 2 * DAY), ended("done", NOW - DAY)]
          yield* s.appendEvents("done", doneEvents)
          yield* s.appendEvents("live", [batch("live", 0, start)])
          assert.deepStrictEqual(yield* s.purge(RunStore.defaultRetention, NOW), { runs: 0, events: 2 })
          assert.deepStrictEqual(yield* s.events("done"), doneEvents.slice(2))
          assert.strictEqual((yield* s.events("live")).length, 1)
          assert.deepStrictEqual(yield* s.purge(RunStore.defaultRetention, NOW + 7 * DAY), { runs: 0, events: 1 })
          assert.deepStrictEqual(yield* s.events("done"), [])
          assert.deepStrictEqual(yield* s.purge(RunStore.defaultRetention, NOW + 7 * DAY), { runs: 0, events: 0 })
        })
      )
    )
  })

suite("PostgresRunStore", () => layerOn(freshSchema()))

describe.skipIf(unreachable !== undefined)("PostgresRunStore with several replicas", () => {
  const makeRun = (id: string, fields: Partial<RunStore.RunRecord> = {}): RunStore.RunRecord => ({
    id,
    pipeline: "orders",
    version: "1.0.0",
    stateKey: "orders:abc",
    status: "running",
    params: { since: "2026-01-01" },
    guarantee: "at-least-once",
    createdAt: new Date(NOW).toISOString(),
    updatedAt: new Date(NOW).toISOString(),
    heartbeatAt: new Date(NOW).toISOString(),
    ...fields
  })

  it.live("two replicas share runs and events; concurrent updates and appends lose nothing", () =>
    Effect.gen(function* () {
      const schema = freshSchema()
      const [a, b] = yield* Effect.all(
        [
          Effect.map(
            Layer.build(layerOn(schema)),
            (context) => context.mapUnsafe.get(RunStore.RunStore.key) as RunStore.RunStoreShape
          ),
          Effect.map(
            Layer.build(layerOn(schema)),
            (context) => context.mapUnsafe.get(RunStore.RunStore.key) as RunStore.RunStoreShape
          )
        ],
        { concurrency: "unbounded" }
      )
      yield* a!.create(makeRun("r1"))
      const conflicts = yield* Effect.forEach([a!, b!, a!, b!], (s) => Effect.flip(s.create(makeRun("r1"))), {
        concurrency: "unbounded"
      })
      assert.deepStrictEqual(
        conflicts.map((e) => e.reason),
        ["Conflict", "Conflict", "Conflict", "Conflict"]
      )
      yield* Effect.forEach(
        Array.from({ length: 20 }, (_, i) => i),
        (i) => (i % 2 === 0 ? a! : b!).appendEvents("r1", [batch("r1", i, NOW + i)]),
        { concurrency: "unbounded" }
      )
      const seen = yield* b!.events("r1")
      assert.strictEqual(seen.length, 20)
      assert.deepStrictEqual(
        seen.map((e) => (e._tag === "BatchWritten" ? e.seq : -1)).sort((x, y) => x - y),
        Array.from({ length: 20 }, (_, i) => i)
      )
      // markAbandoned from both replicas at once: each stale run is marked by exactly one.
      for (let i = 0; i < 10; i++)
        yield* a!.create(makeRun(`s${i}`, { heartbeatAt: new Date(NOW - 60_000).toISOString() }))
      const [x, y] = yield* Effect.all([a!.markAbandoned(NOW - 30_000), b!.markAbandoned(NOW - 30_000)], {
        concurrency: "unbounded"
      })
      assert.deepStrictEqual(
        [...x!, ...y!].sort(),
        Array.from({ length: 10 }, (_, i) => `s${i}`)
      )
      assert.strictEqual((yield* b!.list({ status: "abandoned" })).runs.length, 10)
    })
  )
})
