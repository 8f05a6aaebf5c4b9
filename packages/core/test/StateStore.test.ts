import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { DeadLetter, RunStore, StateStore } from "@data-mcp/core"
import { StoreSuites } from "@data-mcp/core/testing"
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

StoreSuites.stateStoreSuite("StateStore.layerMemory", () => StateStore.layerMemory)
StoreSuites.stateStoreSuite("StateStore.layerFile", () => StateStore.layerFile({ directory: tempDir() }))

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
