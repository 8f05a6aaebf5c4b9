import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { DeadLetter } from "@data-mcp/core"
import { StoreSuites } from "@data-mcp/core/testing"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"

const dirs: Array<string> = []
const tempDir = (): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dm-dead-"))
  dirs.push(dir)
  return dir
}
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
})

const { DAY, NOW, letter } = StoreSuites
const ids = (page: { readonly letters: ReadonlyArray<DeadLetter.DeadLetter> }) => page.letters.map((l) => l.id)

StoreSuites.deadLetterStoreSuite("DeadLetter.layerMemory", () => DeadLetter.layerMemory)
StoreSuites.deadLetterStoreSuite("DeadLetter.layerFile", () => DeadLetter.layerFile({ directory: tempDir() }))

describe("DeadLetter.layerFile on disk", () => {
  const use = <A, E>(directory: string, f: (s: DeadLetter.DeadLetterStoreShape) => Effect.Effect<A, E>) =>
    DeadLetter.DeadLetterStore.use(f).pipe(Effect.provide(DeadLetter.layerFile({ directory })))

  it.effect("letters survive re-opening, also after remove and purge; order continues", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      yield* use(dir, (s) =>
        Effect.gen(function* () {
          yield* s.append([letter("a"), letter("b", { pipeline: "users/ü" }), letter("c"), letter("d")])
          yield* s.remove(["a"])
        })
      )
      yield* use(dir, (s) =>
        Effect.gen(function* () {
          assert.deepStrictEqual(yield* s.list({}), {
            letters: [letter("b", { pipeline: "users/ü" }), letter("c"), letter("d")]
          })
          yield* s.append([letter("e", { pipeline: "users/ü" })])
          assert.strictEqual(yield* s.purge({ ttlMs: DAY, maxCount: 3, now: NOW }), 1)
        })
      )
      yield* use(dir, (s) =>
        Effect.gen(function* () {
          assert.deepStrictEqual(ids(yield* s.list({})), ["c", "d", "e"])
          assert.strictEqual(yield* s.count({ pipeline: "users/ü" }), 1)
        })
      )
      const names = fs.readdirSync(path.join(dir, "deadletters"))
      assert.strictEqual(names.length, 2)
      assert.isTrue(names.every((name) => name.endsWith(".jsonl")))
    })
  )

  it.effect("a file emptied by remove is deleted", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      yield* use(dir, (s) =>
        Effect.gen(function* () {
          yield* s.append([letter("a")])
          yield* s.remove(["a"])
        })
      )
      assert.deepStrictEqual(fs.readdirSync(path.join(dir, "deadletters")), [])
    })
  )

  it.effect("a torn last line is skipped and cut off; a corrupt line fails the layer with Io", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      yield* use(dir, (s) => s.append([letter("a")]))
      const [name] = fs.readdirSync(path.join(dir, "deadletters"))
      const file = path.join(dir, "deadletters", name!)
      fs.appendFileSync(file, '{"seq":2,"letter":{"id":"torn"')
      yield* use(dir, (s) =>
        Effect.gen(function* () {
          assert.deepStrictEqual(ids(yield* s.list({})), ["a"])
          yield* s.append([letter("b")])
          assert.deepStrictEqual(ids(yield* s.list({})), ["a", "b"])
        })
      )
      assert.notInclude(fs.readFileSync(file, "utf8"), "torn")
      fs.writeFileSync(file, `${fs.readFileSync(file, "utf8")}{oops}\n`)
      const error = yield* Effect.flip(use(dir, (s) => s.count({})))
      assert.strictEqual(error.reason, "Io")
      assert.strictEqual(error.key, file)
      assert.include(error.detail, "line 3")
    })
  )

  it.effect("the lock refuses a live foreign process and takes over a dead one", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const lock = path.join(dir, "deadletters.lock")
      fs.writeFileSync(lock, String(process.ppid))
      const error = yield* Effect.flip(use(dir, (s) => s.count({})))
      assert.strictEqual(error.reason, "Locked")
      assert.include(error.detail, `process ${process.ppid}`)
      fs.writeFileSync(lock, "2147483646")
      assert.strictEqual(yield* use(dir, (s) => s.count({})), 0)
      assert.isFalse(fs.existsSync(lock))
      yield* Layer.build(DeadLetter.layerFile({ directory: dir }))
      assert.strictEqual((yield* Effect.flip(Layer.build(DeadLetter.layerFile({ directory: dir })))).reason, "Locked")
    })
  )
})
