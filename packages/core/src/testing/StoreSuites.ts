/**
 * Store conformance suites: the cases every `StateStore`, `RunStore` and `DeadLetterStore` backend must pass,
 * so the in-memory, file and database stores are held to one contract. Each suite registers vitest tests under
 * a `describe` block; a backend runs it in a line, with a function that makes a fresh, empty store layer per
 * test. Needs `vitest` and `@effect/vitest`.
 *
 * @since 0.1.0
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, type Layer } from "effect"
import { TestClock } from "effect/testing"
import * as DeadLetter from "../DeadLetter.ts"
import type * as RunEvent from "../RunEvent.ts"
import * as RunStore from "../RunStore.ts"
import * as StateStore from "../StateStore.ts"
import * as Timestamp from "../Timestamp.ts"

/**
 * What a backend declares about itself when it runs a suite.
 *
 * @category testing
 * @since 0.1.0
 */
export interface Options {
  /**
   * Register the cases as skipped (for example when the backend's server is unreachable outside CI).
   * Default: `false`.
   */
  readonly skip?: boolean | undefined
}

const describeFor = (options: Options | undefined) => (options?.skip === true ? describe.skip : describe)

/**
 * A fixed instant the run and dead-letter fixtures are stamped with: 2026-03-01T00:00:00.000Z.
 *
 * @category testing
 * @since 0.1.0
 */
export const NOW: number = Date.parse("2026-03-01T00:00:00.000Z")

/**
 * One day in milliseconds.
 *
 * @category testing
 * @since 0.1.0
 */
export const DAY: number = 24 * 3600_000

const iso = (ms: number): string => new Date(ms).toISOString()

/**
 * A succeeded run record of pipeline `orders`, created at `NOW`, with `fields` overriding.
 *
 * @category testing
 * @since 0.1.0
 */
export const makeRun = (id: string, fields: Partial<RunStore.RunRecord> = {}): RunStore.RunRecord => ({
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

/**
 * A `BatchWritten` event of run `runId`, batch `seq`, at epoch milliseconds `at`.
 *
 * @category testing
 * @since 0.1.0
 */
export const batch = (runId: string, seq: number, at: number): RunEvent.RunEvent => ({
  _tag: "BatchWritten",
  runId,
  at: iso(at),
  stream: "public.orders",
  seq,
  read: 10,
  written: 9,
  deadLetters: 1
})

/**
 * A `RunFinished` event of run `runId` at epoch milliseconds `at`, with a succeeded summary.
 *
 * @category testing
 * @since 0.1.0
 */
export const ended = (runId: string, at: number): RunEvent.RunEvent => ({
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

/**
 * A dead letter of pipeline `orders`, stage `transform`, at `NOW`, with `fields` overriding.
 *
 * @category testing
 * @since 0.1.0
 */
export const letter = (id: string, fields: Partial<DeadLetter.DeadLetter> = {}): DeadLetter.DeadLetter => ({
  id,
  pipeline: "orders",
  version: "1.0.0",
  stateKey: "orders:abc",
  runId: "run-1",
  stream: "public.orders",
  stage: "transform",
  reason: "amount: Expected a number",
  record: { id, amount: "n/a" },
  at: iso(NOW),
  ...fields
})

const failure = <A>(effect: Effect.Effect<A, StateStore.StateError>) => Effect.flip(effect)
const runIds = (page: RunStore.RunPage) => page.runs.map((run) => run.id)
const letterIds = (page: { readonly letters: ReadonlyArray<DeadLetter.DeadLetter> }) => page.letters.map((l) => l.id)

/**
 * Registers the `StateStore` cases under `describe(name)`: fencing tokens, leases (held, expired, renewed,
 * released), checkpoints, `set` and `keys`, any key and any JSON checkpoint, and concurrent acquires and saves.
 * The cases move time with `TestClock`, so the store must read the time from Effect's `Clock`.
 *
 * **Example** (Running the suite for a backend)
 *
 * ```ts
 * import { StateStore } from "@data-mcp/core"
 * import { StoreSuites } from "@data-mcp/core/testing"
 *
 * StoreSuites.stateStoreSuite("StateStore.layerMemory", () => StateStore.layerMemory)
 * ```
 *
 * @param makeLayer makes a fresh, empty store; called once per case.
 * @category testing
 * @since 0.1.0
 */
export const stateStoreSuite = <E>(
  name: string,
  makeLayer: () => Layer.Layer<StateStore.StateStore, E>,
  options?: Options
): void => {
  describeFor(options)(name, () => {
    const withStore = <A, E2>(f: (s: StateStore.StateStoreShape) => Effect.Effect<A, E2>) =>
      StateStore.StateStore.use(f).pipe(Effect.provide(makeLayer()))

    it.effect("tokens strictly increase per key", () =>
      withStore((s) =>
        Effect.gen(function* () {
          const a = yield* s.acquire("k", { runId: "r1", ttlMs: 1000 })
          yield* s.release(a)
          const b = yield* s.acquire("k", { runId: "r2", ttlMs: 1000 })
          yield* s.release(b)
          const c = yield* s.acquire("k", { runId: "r1", ttlMs: 1000 })
          assert.deepStrictEqual([a.token, b.token, c.token], [1, 2, 3])
          assert.strictEqual((yield* s.acquire("other", { runId: "r1", ttlMs: 1000 })).token, 1)
          assert.deepStrictEqual(c, { key: "k", runId: "r1", token: 3, expiresAt: 1000 })
          // The same run re-acquiring its own live lease gets a new token.
          assert.strictEqual((yield* s.acquire("k", { runId: "r1", ttlMs: 1000 })).token, 4)
        })
      )
    )

    it.effect("a live lease is held: LeaseHeld names the holder", () =>
      withStore((s) =>
        Effect.gen(function* () {
          yield* s.acquire("k", { runId: "r1", ttlMs: 1000 })
          yield* TestClock.adjust(999)
          const error = yield* failure(s.acquire("k", { runId: "r2", ttlMs: 1000 }))
          assert.strictEqual(error.reason, "LeaseHeld")
          assert.strictEqual(error.holderRunId, "r1")
          assert.isFalse(error.retryable)
        })
      )
    )

    it.effect("an expired lease is taken over; the old holder is fenced", () =>
      withStore((s) =>
        Effect.gen(function* () {
          const old = yield* s.acquire("k", { runId: "r1", ttlMs: 1000 })
          yield* s.save(old, { offset: 1 })
          yield* TestClock.adjust(1000)
          const fresh = yield* s.acquire("k", { runId: "r2", ttlMs: 1000 })
          assert.isTrue(fresh.token > old.token)
          const fencedSave = yield* failure(s.save(old, { offset: 99 }))
          assert.strictEqual(fencedSave.reason, "Fenced")
          assert.isFalse(fencedSave.retryable)
          assert.include(fencedSave.detail, "superseded by token 2")
          assert.strictEqual((yield* failure(s.renew(old, 1000))).reason, "Fenced")
          yield* s.release(old) // no-op: r2 still holds the lease
          const held = yield* failure(s.acquire("k", { runId: "r3", ttlMs: 1000 }))
          assert.strictEqual(held.holderRunId, "r2")
          assert.deepStrictEqual(yield* s.load("k"), { offset: 1 })
          yield* s.save(fresh, { offset: 2 })
          assert.deepStrictEqual(yield* s.load("k"), { offset: 2 })
        })
      )
    )

    it.effect("renew extends the lease; release frees it at once", () =>
      withStore((s) =>
        Effect.gen(function* () {
          const lease = yield* s.acquire("k", { runId: "r1", ttlMs: 1000 })
          yield* TestClock.adjust(800)
          const renewed = yield* s.renew(lease, 1000)
          assert.strictEqual(renewed.expiresAt, 1800)
          assert.strictEqual(renewed.token, lease.token)
          yield* TestClock.adjust(800)
          assert.strictEqual((yield* failure(s.acquire("k", { runId: "r2", ttlMs: 1000 }))).reason, "LeaseHeld")
          yield* s.save(renewed, "cp")
          yield* s.release(renewed)
          const next = yield* s.acquire("k", { runId: "r2", ttlMs: 1000 })
          assert.strictEqual(next.token, 2)
          assert.strictEqual((yield* failure(s.save(renewed, "late"))).reason, "Fenced")
          assert.strictEqual((yield* failure(s.renew(renewed, 10))).reason, "Fenced")
        })
      )
    )

    it.effect("an expired lease nobody took over can still be renewed", () =>
      withStore((s) =>
        Effect.gen(function* () {
          const lease = yield* s.acquire("k", { runId: "r1", ttlMs: 1000 })
          yield* TestClock.adjust(5000)
          const renewed = yield* s.renew(lease, 1000)
          assert.strictEqual(renewed.expiresAt, 6000)
          yield* s.save(renewed, 1)
          assert.strictEqual((yield* failure(s.acquire("k", { runId: "r2", ttlMs: 1000 }))).holderRunId, "r1")
        })
      )
    )

    it.effect("a released lease can neither save nor renew", () =>
      withStore((s) =>
        Effect.gen(function* () {
          const lease = yield* s.acquire("k", { runId: "r1", ttlMs: 1000 })
          yield* s.release(lease)
          yield* s.release(lease)
          const error = yield* failure(s.save(lease, 1))
          assert.strictEqual(error.reason, "Fenced")
          assert.include(error.detail, "already released")
          assert.strictEqual((yield* failure(s.renew(lease, 1000))).reason, "Fenced")
          assert.strictEqual(yield* s.load("k"), undefined)
        })
      )
    )

    it.effect("load, set and keys; set fences a live lease", () =>
      withStore((s) =>
        Effect.gen(function* () {
          assert.strictEqual(yield* s.load("a"), undefined)
          assert.deepStrictEqual(yield* s.keys, [])
          const lease = yield* s.acquire("b", { runId: "r1", ttlMs: 60_000 })
          yield* s.save(lease, { "public.users": { id: "9007199254740993", at: "2024-01-01 00:00:00.123456" } })
          yield* s.set("a", [1, "two", null, true])
          assert.deepStrictEqual(yield* s.keys, ["a", "b"])
          assert.deepStrictEqual(yield* s.load("a"), [1, "two", null, true])
          assert.deepStrictEqual(yield* s.load("b"), {
            "public.users": { id: "9007199254740993", at: "2024-01-01 00:00:00.123456" }
          })
          yield* s.set("b", { reset: true })
          assert.strictEqual((yield* failure(s.save(lease, { stale: true }))).reason, "Fenced")
          assert.deepStrictEqual(yield* s.load("b"), { reset: true })
          const next = yield* s.acquire("b", { runId: "r2", ttlMs: 1000 })
          assert.isTrue(next.token > lease.token + 1)
          yield* s.set("b", undefined)
          assert.strictEqual(yield* s.load("b"), undefined)
          assert.deepStrictEqual(yield* s.keys, ["a"])
          yield* s.set("a", undefined)
          yield* s.release(next)
          assert.isTrue((yield* s.acquire("b", { runId: "r3", ttlMs: 1000 })).token > next.token)
        })
      )
    )

    it.effect("any JSON checkpoint round-trips, null and NUL characters included", () =>
      withStore((s) =>
        Effect.gen(function* () {
          const lease = yield* s.acquire("k", { runId: "r1", ttlMs: 1000 })
          yield* s.save(lease, null)
          assert.strictEqual(yield* s.load("k"), null)
          assert.deepStrictEqual(yield* s.keys, ["k"])
          const value = { z: 1, a: 'nul\u0000 ✓ "q"', n: [1.5, -0.25, 1e21], nested: { b: false, a: {} } }
          yield* s.save(lease, value)
          assert.deepStrictEqual(yield* s.load("k"), value)
        })
      )
    )

    it.effect("keys may hold any characters", () =>
      withStore((s) =>
        Effect.gen(function* () {
          const keys = [
            "../../etc/passwd",
            'a/b\\c:d*e?f"g<h>i|j',
            "Case",
            "case",
            "ünïcødé ✓",
            "x".repeat(600),
            "",
            "'; drop table x; --"
          ]
          for (const [i, key] of keys.entries()) yield* s.set(key, i)
          for (const [i, key] of keys.entries()) assert.strictEqual(yield* s.load(key), i)
          assert.deepStrictEqual(yield* s.keys, [...keys].sort())
        })
      )
    )

    it.effect("concurrent acquires: exactly one wins", () =>
      withStore((s) =>
        Effect.gen(function* () {
          const results = yield* Effect.forEach(
            Array.from({ length: 10 }, (_, i) => `r${i}`),
            (runId) => Effect.result(s.acquire("k", { runId, ttlMs: 1000 })),
            { concurrency: "unbounded" }
          )
          const won = results.filter((r) => r._tag === "Success")
          assert.strictEqual(won.length, 1)
          assert.strictEqual(won[0]?._tag === "Success" ? won[0].success.token : undefined, 1)
        })
      )
    )

    it.effect("concurrent saves are serialised", () =>
      withStore((s) =>
        Effect.gen(function* () {
          const lease = yield* s.acquire("k", { runId: "r1", ttlMs: 1000 })
          yield* Effect.forEach(
            Array.from({ length: 20 }, (_, i) => i),
            (i) => s.save(lease, { i }),
            {
              concurrency: "unbounded"
            }
          )
          const cp = (yield* s.load("k")) as { i: number }
          assert.isTrue(Number.isInteger(cp.i) && cp.i >= 0 && cp.i < 20)
        })
      )
    )
  })
}

/**
 * Registers the `RunStore` cases under `describe(name)`: create, get and update; listing order, filters and
 * cursor pagination; event append and reads; `markAbandoned` (with `TestClock`); and purge by age, by count per
 * pipeline, and of old events. Fixtures: `makeRun`, `batch`, `ended`.
 *
 * **Example** (Running the suite for a backend)
 *
 * ```ts
 * import { RunStore } from "@data-mcp/core"
 * import { StoreSuites } from "@data-mcp/core/testing"
 *
 * StoreSuites.runStoreSuite("RunStore.layerMemory", () => RunStore.layerMemory)
 * ```
 *
 * @param makeLayer makes a fresh, empty store; called once per case.
 * @category testing
 * @since 0.1.0
 */
export const runStoreSuite = <E>(
  name: string,
  makeLayer: () => Layer.Layer<RunStore.RunStore, E>,
  options?: Options
): void => {
  describeFor(options)(name, () => {
    const withStore = <A, E2>(f: (s: RunStore.RunStoreShape) => Effect.Effect<A, E2>) =>
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
          assert.deepStrictEqual(runIds(yield* s.list({})), ["d", "e", "b", "a", "c"])
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
          assert.deepStrictEqual(runIds(yield* s.list({ pipeline: "orders" })), ["4", "3", "1"])
          assert.deepStrictEqual(runIds(yield* s.list({ status: "failed" })), ["4", "3", "2"])
          assert.deepStrictEqual(runIds(yield* s.list({ caller: "alice" })), ["3", "1"])
          assert.deepStrictEqual(runIds(yield* s.list({ tenant: "acme" })), ["2", "1"])
          assert.deepStrictEqual(runIds(yield* s.list({ pipeline: "orders", status: "failed", tenant: "globex" })), [
            "3"
          ])
          assert.deepStrictEqual(runIds(yield* s.list({ pipeline: "none" })), [])
        })
      )
    )

    it.effect("list finds the run of an idempotency key, kept across updates", () =>
      withStore((s) =>
        Effect.gen(function* () {
          yield* s.create(makeRun("1", { pipeline: "orders", caller: "alice", idempotencyKey: "k-1" }))
          yield* s.create(makeRun("2", { pipeline: "orders", caller: "alice", idempotencyKey: "k-2" }))
          yield* s.create(makeRun("3", { pipeline: "orders", caller: "alice" }))
          yield* s.update("1", { status: "succeeded" })
          assert.deepStrictEqual(
            runIds(yield* s.list({ pipeline: "orders", caller: "alice", idempotencyKey: "k-1" })),
            ["1"]
          )
          assert.deepStrictEqual((yield* s.get("1"))?.idempotencyKey, "k-1")
          assert.deepStrictEqual(runIds(yield* s.list({ idempotencyKey: "k-3" })), [])
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
            seen.push(...runIds(page))
            cursor = page.nextCursor
          } while (cursor !== undefined)
          assert.deepStrictEqual(seen, runIds(first).concat(runIds(rest)))

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
          assert.deepStrictEqual(runIds(yield* s.list({})).sort(), ["old-queued", "old-running", "recent"])
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
          assert.deepStrictEqual(runIds(yield* s.list({ pipeline: "orders" })), ["o0", "o1", "o4"])
          assert.deepStrictEqual(runIds(yield* s.list({ pipeline: "users" })), ["u0", "u1"])
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
}

/**
 * Registers the `DeadLetterStore` cases under `describe(name)`: append and idempotent re-append, list and count
 * with filters, cursor pagination that survives removals, remove, purge by TTL and count, and a lossless round
 * trip of an encoded record. Fixture: `letter`.
 *
 * **Example** (Running the suite for a backend)
 *
 * ```ts
 * import { DeadLetter } from "@data-mcp/core"
 * import { StoreSuites } from "@data-mcp/core/testing"
 *
 * StoreSuites.deadLetterStoreSuite("DeadLetter.layerMemory", () => DeadLetter.layerMemory)
 * ```
 *
 * @param makeLayer makes a fresh, empty store; called once per case.
 * @category testing
 * @since 0.1.0
 */
export const deadLetterStoreSuite = <E>(
  name: string,
  makeLayer: () => Layer.Layer<DeadLetter.DeadLetterStore, E>,
  options?: Options
): void => {
  describeFor(options)(name, () => {
    const withStore = <A, E2>(f: (s: DeadLetter.DeadLetterStoreShape) => Effect.Effect<A, E2>) =>
      DeadLetter.DeadLetterStore.use(f).pipe(Effect.provide(makeLayer()))

    it.effect("append, list oldest first, count", () =>
      withStore((s) =>
        Effect.gen(function* () {
          assert.deepStrictEqual(yield* s.list({}), { letters: [] })
          assert.strictEqual(yield* s.count({}), 0)
          const a = letter("a", { tenant: "acme" })
          yield* s.append([a, letter("b", { pipeline: "users" })])
          yield* s.append([letter("c")])
          yield* s.append([])
          const page = yield* s.list({})
          assert.deepStrictEqual(letterIds(page), ["a", "b", "c"])
          assert.deepStrictEqual(page.letters[0], a)
          assert.strictEqual(page.nextCursor, undefined)
          assert.strictEqual(yield* s.count({}), 3)
        })
      )
    )

    it.effect("an id already stored is skipped, so a retried append never duplicates", () =>
      withStore((s) =>
        Effect.gen(function* () {
          yield* s.append([letter("a"), letter("b"), letter("a")])
          yield* s.append([letter("b"), letter("c")])
          assert.deepStrictEqual(letterIds(yield* s.list({})), ["a", "b", "c"])
        })
      )
    )

    it.effect("list and count filter by pipeline, stateKey, runId and tenant", () =>
      withStore((s) =>
        Effect.gen(function* () {
          yield* s.append([
            letter("1", { pipeline: "orders", runId: "r1", tenant: "acme" }),
            letter("2", { pipeline: "users", runId: "r2", tenant: "acme", stateKey: "users:x" }),
            letter("3", { pipeline: "orders", runId: "r3", tenant: "globex" }),
            letter("4", { pipeline: "orders", runId: "r1" })
          ])
          assert.deepStrictEqual(letterIds(yield* s.list({ pipeline: "orders" })), ["1", "3", "4"])
          assert.deepStrictEqual(letterIds(yield* s.list({ runId: "r1" })), ["1", "4"])
          assert.deepStrictEqual(letterIds(yield* s.list({ tenant: "acme" })), ["1", "2"])
          assert.deepStrictEqual(letterIds(yield* s.list({ stateKey: "users:x" })), ["2"])
          assert.deepStrictEqual(letterIds(yield* s.list({ pipeline: "orders", tenant: "globex" })), ["3"])
          assert.strictEqual(yield* s.count({ pipeline: "orders" }), 3)
          assert.strictEqual(yield* s.count({ pipeline: "orders", runId: "r1" }), 2)
          assert.strictEqual(yield* s.count({ pipeline: "none" }), 0)
        })
      )
    )

    it.effect("list paginates with a cursor that survives removals; limit defaults to 50", () =>
      withStore((s) =>
        Effect.gen(function* () {
          const all = Array.from({ length: 60 }, (_, i) =>
            letter(`l${String(i).padStart(2, "0")}`, { pipeline: i % 2 === 0 ? "orders" : "users" })
          )
          yield* s.append(all)
          const first = yield* s.list({})
          assert.strictEqual(first.letters.length, 50)
          assert.isString(first.nextCursor)
          assert.deepStrictEqual(
            letterIds(yield* s.list({ cursor: first.nextCursor })),
            letterIds({ letters: all.slice(50) })
          )

          const seen: Array<string> = []
          let cursor: string | undefined
          do {
            const page = yield* s.list({ limit: 7, cursor })
            seen.push(...letterIds(page))
            cursor = page.nextCursor
            if (seen.length === 7) yield* s.remove(["l00", "l01", "l07"])
          } while (cursor !== undefined)
          assert.deepStrictEqual(seen, letterIds({ letters: all.filter((l) => l.id !== "l07") }))

          const users = yield* s.list({ pipeline: "users", limit: 10 })
          assert.strictEqual(users.letters.length, 10)
          const more = yield* s.list({ pipeline: "users", limit: 100, cursor: users.nextCursor })
          assert.strictEqual(more.letters.length, 18)
          assert.strictEqual(more.nextCursor, undefined)
          assert.strictEqual((yield* Effect.flip(s.list({ cursor: "not-a-cursor" }))).reason, "NotFound")
        })
      )
    )

    it.effect("remove by id returns how many went", () =>
      withStore((s) =>
        Effect.gen(function* () {
          yield* s.append([letter("a"), letter("b", { pipeline: "users" }), letter("c"), letter("d")])
          assert.strictEqual(yield* s.remove(["a", "b", "zzz"]), 2)
          assert.strictEqual(yield* s.remove([]), 0)
          assert.deepStrictEqual(letterIds(yield* s.list({})), ["c", "d"])
          assert.strictEqual(yield* s.count({ pipeline: "users" }), 0)
          yield* s.append([letter("a")]) // a removed id may come back (a replay that failed again)
          assert.deepStrictEqual(letterIds(yield* s.list({})), ["c", "d", "a"])
        })
      )
    )

    it.effect("purge removes letters past the TTL, then the oldest past maxCount", () =>
      withStore((s) =>
        Effect.gen(function* () {
          const at = (ms: number) => new Date(ms).toISOString()
          yield* s.append([
            letter("old1", { at: at(NOW - 20 * DAY) }),
            letter("old2", { at: at(NOW - 15 * DAY), pipeline: "users" }),
            letter("n1", { at: at(NOW - 3 * DAY) }),
            letter("n2", { at: at(NOW - 2 * DAY), pipeline: "users" }),
            letter("n3", { at: at(NOW - DAY) }),
            letter("n4", { at: at(NOW) })
          ])
          const ttlMs = 14 * DAY
          assert.strictEqual(yield* s.purge({ ttlMs, maxCount: 1000, now: NOW }), 2)
          assert.deepStrictEqual(letterIds(yield* s.list({})), ["n1", "n2", "n3", "n4"])
          assert.strictEqual(yield* s.purge({ ttlMs, maxCount: 2, now: NOW }), 2)
          assert.deepStrictEqual(letterIds(yield* s.list({})), ["n3", "n4"])
          assert.strictEqual(yield* s.purge({ ttlMs, maxCount: 2, now: NOW }), 0)
          assert.strictEqual(yield* s.purge({ ttlMs, maxCount: 0, now: NOW }), 2)
          assert.strictEqual(yield* s.count({}), 0)
        })
      )
    )

    it.effect("a record with bigint, bytes, timestamps and dates round-trips losslessly", () =>
      withStore((s) =>
        Effect.gen(function* () {
          const record = {
            id: 9007199254740993n,
            payload: new Uint8Array([0, 1, 254, 255]),
            createdAt: Timestamp.fromEpochMicros(1_700_000_000_123_456n),
            localAt: Timestamp.fromEpochMicros(1_700_000_000_123_456n, { zoned: false }),
            seenAt: new Date("2026-01-02T03:04:05.678Z"),
            amount: "12345678901234567890.000001",
            nested: [{ big: -1n, none: null }]
          }
          yield* s.append([letter("x", { record: DeadLetter.encodeRecord(record) })])
          const [stored] = (yield* s.list({})).letters
          const decoded = DeadLetter.decodeRecord(stored!.record) as typeof record
          assert.strictEqual(decoded.id, record.id)
          assert.deepStrictEqual(decoded.payload, record.payload)
          assert.instanceOf(decoded.payload, Uint8Array)
          assert.strictEqual(decoded.createdAt.toISOString(), record.createdAt.toISOString())
          assert.strictEqual(decoded.localAt.toISOString(), record.localAt.toISOString())
          assert.deepStrictEqual(decoded.seenAt, record.seenAt)
          assert.deepStrictEqual(decoded.nested, record.nested)
          assert.strictEqual(decoded.amount, record.amount)
        })
      )
    )
  })
}
