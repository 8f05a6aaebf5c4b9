import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { type RunEvent, RunStore } from "@data-mcp/core"
import { StoreSuites } from "@data-mcp/core/testing"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"

const dirs: Array<string> = []
const tempDir = (): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dm-runs-"))
  dirs.push(dir)
  return dir
}
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
})

const { NOW, batch, ended, makeRun } = StoreSuites
const iso = (ms: number): string => new Date(ms).toISOString()
const ids = (page: RunStore.RunPage) => page.runs.map((run) => run.id)

StoreSuites.runStoreSuite("RunStore.layerMemory", () => RunStore.layerMemory)
StoreSuites.runStoreSuite("RunStore.layerFile", () => RunStore.layerFile({ directory: tempDir() }))

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
