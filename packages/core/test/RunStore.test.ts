import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { type RunEvent, RunStore, type StateStore } from "@data-mcp/core"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { TestClock } from "effect/testing"

const dirs: Array<string> = []
const tempDir = (): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dm-runs-"))
  dirs.push(dir)
  return dir
}
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
})

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

const ids = (page: RunStore.RunPage) => page.runs.map((run) => run.id)

const suite = (name: string, makeLayer: () => Layer.Layer<RunStore.RunStore, StateStore.StateError>) =>
  describe(name, () => {
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

suite("RunStore.layerMemory", () => RunStore.layerMemory)
suite("RunStore.layerFile", () => RunStore.layerFile({ directory: tempDir() }))

describe("RunStore.layerFile on disk", () => {
  const use = <A, E>(directory: string, f: (s: RunStore.RunStoreShape) => Effect.Effect<A, E>) =>
    RunStore.RunStore.use(f).pipe(Effect.provide(RunStore.layerFile({ directory })))

  it.effect("runs and events survive re-opening; no temp files are left", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const events = [batch("r/1", 0, NOW), ended("r/1", NOW + 1)]
      yield* use(dir, (s) =>
        Effect.gen(function* () {
          yield* s.create(makeRun("r/1", { status: "running" }))
          yield* s.create(makeRun("r2", { createdAt: iso(NOW - 1000) }))
          yield* s.appendEvents("r/1", events)
          yield* s.update("r/1", { status: "succeeded", summary: (events[1] as RunEvent.RunEnded).summary })
        })
      )
      yield* use(dir, (s) =>
        Effect.gen(function* () {
          assert.deepStrictEqual(ids(yield* s.list({})), ["r/1", "r2"])
          assert.strictEqual((yield* s.get("r/1"))?.status, "succeeded")
          assert.deepStrictEqual((yield* s.get("r/1"))?.summary, (events[1] as RunEvent.RunEnded).summary)
          assert.deepStrictEqual(yield* s.events("r/1"), events)
        })
      )
      for (const sub of ["runs", "events"]) {
        assert.isTrue(fs.readdirSync(path.join(dir, sub)).every((name) => !name.endsWith(".tmp")))
      }
      assert.strictEqual(fs.readdirSync(path.join(dir, "runs")).length, 2)
      assert.isFalse(fs.existsSync(path.join(dir, "runs.lock")))
    })
  )

  it.effect("a corrupt run file fails the layer with Io naming it", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      yield* use(dir, (s) => s.create(makeRun("r1")))
      const [name] = fs.readdirSync(path.join(dir, "runs"))
      const file = path.join(dir, "runs", name!)
      fs.writeFileSync(file, "{ nope")
      const error = yield* Effect.flip(use(dir, (s) => s.list({})))
      assert.strictEqual(error.reason, "Io")
      assert.strictEqual(error.key, file)
      assert.include(error.message, file)
      fs.writeFileSync(file, JSON.stringify({ id: "r1" }))
      assert.strictEqual((yield* Effect.flip(use(dir, (s) => s.list({})))).key, file)
    })
  )

  it.effect("a torn last event line is skipped and cut off; a corrupt line fails", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      yield* use(dir, (s) =>
        Effect.gen(function* () {
          yield* s.create(makeRun("r1", { status: "running" }))
          yield* s.appendEvents("r1", [batch("r1", 0, NOW)])
        })
      )
      const [name] = fs.readdirSync(path.join(dir, "events"))
      const file = path.join(dir, "events", name!)
      fs.appendFileSync(file, '{"_tag":"BatchWr')
      yield* use(dir, (s) =>
        Effect.gen(function* () {
          assert.deepStrictEqual(yield* s.events("r1"), [batch("r1", 0, NOW)])
          yield* s.appendEvents("r1", [batch("r1", 1, NOW)])
          assert.deepStrictEqual(yield* s.events("r1"), [batch("r1", 0, NOW), batch("r1", 1, NOW)])
        })
      )
      fs.writeFileSync(file, `not json\n${JSON.stringify(batch("r1", 1, NOW))}\n`)
      const error = yield* Effect.flip(use(dir, (s) => s.events("r1")))
      assert.strictEqual(error.reason, "Io")
      assert.include(error.detail, file)
      assert.include(error.detail, "line 1")
    })
  )

  it.effect("the lock refuses a second layer on the same directory", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      yield* Layer.build(RunStore.layerFile({ directory: dir }))
      assert.strictEqual((yield* Effect.flip(Layer.build(RunStore.layerFile({ directory: dir })))).reason, "Locked")
    })
  )
})
