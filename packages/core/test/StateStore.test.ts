import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { DeadLetter, RunStore, StateStore } from "@data-mcp/core"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { TestClock } from "effect/testing"

const dirs: Array<string> = []
const tempDir = (): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dm-state-"))
  dirs.push(dir)
  return dir
}
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
})

const failure = <A>(effect: Effect.Effect<A, StateStore.StateError>) => Effect.flip(effect)

const suite = (name: string, makeLayer: () => Layer.Layer<StateStore.StateStore, StateStore.StateError>) =>
  describe(name, () => {
    const withStore = <A, E>(f: (s: StateStore.StateStoreShape) => Effect.Effect<A, E>) =>
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
          assert.strictEqual((yield* failure(s.save(old, { offset: 99 }))).reason, "Fenced")
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

    it.effect("a released lease can neither save nor renew", () =>
      withStore((s) =>
        Effect.gen(function* () {
          const lease = yield* s.acquire("k", { runId: "r1", ttlMs: 1000 })
          yield* s.release(lease)
          yield* s.release(lease)
          assert.strictEqual((yield* failure(s.save(lease, 1))).reason, "Fenced")
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

    it.effect("keys may hold any characters", () =>
      withStore((s) =>
        Effect.gen(function* () {
          const keys = ["../../etc/passwd", 'a/b\\c:d*e?f"g<h>i|j', "Case", "case", "ünïcødé ✓", "x".repeat(600), ""]
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

suite("StateStore.layerMemory", () => StateStore.layerMemory)
suite("StateStore.layerFile", () => StateStore.layerFile({ directory: tempDir() }))

describe("StateStore.layerFile on disk", () => {
  const use = <A, E>(directory: string, f: (s: StateStore.StateStoreShape) => Effect.Effect<A, E>) =>
    StateStore.StateStore.use(f).pipe(Effect.provide(StateStore.layerFile({ directory })))

  it.effect("checkpoints, tokens and leases survive re-opening", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const lease = yield* use(dir, (s) =>
        Effect.gen(function* () {
          const lease = yield* s.acquire("orders", { runId: "r1", ttlMs: 10_000 })
          yield* s.save(lease, { id: 42 })
          return lease
        })
      )
      yield* use(dir, (s) =>
        Effect.gen(function* () {
          assert.deepStrictEqual(yield* s.load("orders"), { id: 42 })
          assert.deepStrictEqual(yield* s.keys, ["orders"])
          assert.strictEqual((yield* failure(s.acquire("orders", { runId: "r2", ttlMs: 1000 }))).holderRunId, "r1")
          yield* s.save(lease, { id: 43 })
          yield* TestClock.adjust(10_000)
          const next = yield* s.acquire("orders", { runId: "r2", ttlMs: 1000 })
          assert.strictEqual(next.token, lease.token + 1)
        })
      )
      yield* use(dir, (s) =>
        Effect.gen(function* () {
          assert.deepStrictEqual(yield* s.load("orders"), { id: 43 })
          assert.strictEqual((yield* failure(s.save(lease, { id: 0 }))).reason, "Fenced")
        })
      )
    })
  )

  it.effect("atomic writes leave no temp files behind; the lock goes on close", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      yield* use(dir, (s) =>
        Effect.gen(function* () {
          const lease = yield* s.acquire("k", { runId: "r1", ttlMs: 1000 })
          for (let i = 0; i < 10; i++) yield* s.save(lease, { i })
          yield* s.set("other", 1)
          assert.isTrue(fs.existsSync(path.join(dir, "state.lock")))
          assert.strictEqual(fs.readFileSync(path.join(dir, "state.lock"), "utf8").trim(), String(process.pid))
        })
      )
      const names = fs.readdirSync(path.join(dir, "state"))
      assert.strictEqual(names.length, 2)
      assert.isTrue(names.every((name) => name.endsWith(".json") && !name.startsWith(".")))
      assert.deepStrictEqual(fs.readdirSync(dir), ["state"])
    })
  )

  it.effect("temp files left by a crash are swept when the layer is built", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      fs.mkdirSync(path.join(dir, "state"), { recursive: true })
      fs.writeFileSync(path.join(dir, "state", ".x.json.123.1.tmp"), "{half")
      yield* use(dir, (s) => s.keys)
      assert.deepStrictEqual(fs.readdirSync(path.join(dir, "state")), [])
    })
  )

  it.effect("a second layer on the same directory in this process is refused", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const context = yield* Layer.build(StateStore.layerFile({ directory: dir }))
      const error = yield* Effect.flip(Layer.build(StateStore.layerFile({ directory: dir })))
      assert.strictEqual(error.reason, "Locked")
      assert.include(error.detail, "this process")
      yield* Context.get(context, StateStore.StateStore).set("k", 1)
      assert.isTrue(fs.existsSync(path.join(dir, "state.lock")))
    })
  )

  it.effect("a lock held by a live process is refused, naming the pid", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      fs.writeFileSync(path.join(dir, "state.lock"), `${process.ppid}\n`)
      const error = yield* Effect.flip(use(dir, (s) => s.keys))
      assert.strictEqual(error.reason, "Locked")
      assert.include(error.detail, String(process.ppid))
      assert.include(error.detail, "state.lock")
      assert.strictEqual(fs.readFileSync(path.join(dir, "state.lock"), "utf8").trim(), String(process.ppid))
      // the refusal did not poison this process: once the lock goes, the layer builds
      fs.unlinkSync(path.join(dir, "state.lock"))
      assert.deepStrictEqual(yield* use(dir, (s) => s.keys), [])
    })
  )

  it.effect("a lock left by a dead process is taken over", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      fs.writeFileSync(path.join(dir, "state.lock"), "2147483646\n")
      yield* use(dir, (s) =>
        Effect.gen(function* () {
          yield* s.set("k", 1)
          assert.strictEqual(fs.readFileSync(path.join(dir, "state.lock"), "utf8").trim(), String(process.pid))
        })
      )
      assert.isFalse(fs.existsSync(path.join(dir, "state.lock")))
    })
  )

  it.effect("corrupt JSON fails with Io naming the file, and is never reset", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      yield* use(dir, (s) => s.set("k", { id: 1 }))
      const [name] = fs.readdirSync(path.join(dir, "state"))
      const file = path.join(dir, "state", name!)
      fs.writeFileSync(file, '{"key":"k","tok')
      yield* use(dir, (s) =>
        Effect.gen(function* () {
          for (const error of [
            yield* failure(s.load("k")),
            yield* failure(s.acquire("k", { runId: "r1", ttlMs: 1000 })),
            yield* failure(s.set("k", 2)),
            yield* failure(s.keys)
          ]) {
            assert.strictEqual(error.reason, "Io")
            assert.strictEqual(error.key, file)
            assert.include(error.message, file)
          }
          assert.strictEqual(yield* s.load("fine"), undefined)
        })
      )
      assert.strictEqual(fs.readFileSync(file, "utf8"), '{"key":"k","tok')
      fs.writeFileSync(file, '{"key":"not-k","token":1,"holder":null}')
      assert.strictEqual((yield* Effect.flip(use(dir, (s) => s.load("k")))).reason, "Io")
    })
  )

  it.effect("state, run and dead-letter stores share one directory", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const all = Layer.mergeAll(
        StateStore.layerFile({ directory: dir }),
        RunStore.layerFile({ directory: dir }),
        DeadLetter.layerFile({ directory: dir })
      )
      yield* Effect.gen(function* () {
        yield* (yield* StateStore.StateStore).set("k", 1)
        assert.deepStrictEqual(
          fs
            .readdirSync(dir)
            .filter((n) => n.endsWith(".lock"))
            .sort(),
          ["deadletters.lock", "runs.lock", "state.lock"]
        )
      }).pipe(Effect.provide(all))
      assert.deepStrictEqual(
        fs.readdirSync(dir).filter((n) => n.endsWith(".lock")),
        []
      )
    })
  )
})
