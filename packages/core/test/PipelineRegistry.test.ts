import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Batch, Pipeline, PipelineRegistry, Sink, Source, type StateStore } from "@data-mcp/core"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Stream } from "effect"

const { RegistryStore } = PipelineRegistry

const dirs: Array<string> = []
const tempDir = (): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dm-registry-"))
  dirs.push(dir)
  return dir
}
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
})

const source = Source.make<{ readonly id: number }>({
  name: "numbers",
  read: () => Stream.make(Batch.make([{ id: 1 }]))
})
const sink = Sink.make<unknown>({
  name: "discard",
  capabilities: { transactional: false, idempotent: false },
  disposition: Sink.append,
  open: () => Effect.succeed({ write: (batch) => Effect.succeed({ written: batch.records.length }) })
})

const pipeline = (name: string, version: string, description = `Pipeline ${name}.`) =>
  Pipeline.make({ name, version, description, source, sink })

type Registry = PipelineRegistry.PipelineRegistryShape

/** Fails with the RegistryError the effect fails with (a StateError fails the test). */
const registryError = <A>(effect: Effect.Effect<A, PipelineRegistry.RegistryError | StateStore.StateError>) =>
  Effect.map(Effect.flip(effect), (error) => {
    assert.strictEqual(error._tag, "RegistryError", error.message)
    return error as PipelineRegistry.RegistryError
  })

const suite = (name: string, makeLayer: () => Layer.Layer<PipelineRegistry.PipelineRegistry, StateStore.StateError>) =>
  describe(name, () => {
    const withRegistry = <A, E>(f: (r: Registry) => Effect.Effect<A, E>) =>
      PipelineRegistry.PipelineRegistry.use(f).pipe(Effect.provide(makeLayer()))

    it.effect("registers, lists and gets by name and name@version", () =>
      withRegistry((r) =>
        Effect.gen(function* () {
          const p1 = pipeline("orders", "1.0.0")
          const p2 = pipeline("orders", "1.1.0", "Orders, faster.")
          const q = pipeline("customers", "0.1.0")
          const e1 = yield* r.register(p1)
          assert.strictEqual(e1.name, "orders")
          assert.strictEqual(e1.version, "1.0.0")
          assert.strictEqual(e1.hash, Pipeline.contentHash(p1))
          assert.strictEqual(e1.description, "Pipeline orders.")
          assert.isFalse(Number.isNaN(Date.parse(e1.registeredAt)))
          yield* r.register(p2)
          yield* r.register(q)

          const list = yield* r.list()
          assert.deepStrictEqual(
            list.map((e) => `${e.name}@${e.version}`),
            ["customers@0.1.0", "orders@1.1.0", "orders@1.0.0"]
          )
          const latest = yield* r.get("orders")
          assert.strictEqual(latest.entry.version, "1.1.0")
          assert.strictEqual(latest.pipeline, p2)
          const exact = yield* r.get("orders@1.0.0")
          assert.strictEqual(exact.entry.version, "1.0.0")
          assert.strictEqual(exact.pipeline, p1)
        })
      )
    )

    it.effect("unknown names, versions and malformed references fail with RegistryError", () =>
      withRegistry((r) =>
        Effect.gen(function* () {
          yield* r.register(pipeline("orders", "1.0.0"))
          const missing = yield* registryError(r.get("nope"))
          assert.strictEqual(missing._tag, "RegistryError")
          assert.strictEqual(missing.reason, "NotFound")
          assert.strictEqual(missing.reference, "nope")
          assert.strictEqual((yield* registryError(r.get("orders@9.9.9"))).reason, "NotFound")
          for (const ref of ["", "@1.0.0", "orders@"]) {
            assert.strictEqual((yield* registryError(r.get(ref))).reason, "InvalidReference", ref)
          }
        })
      )
    )

    it.effect("the same name and version with another description is a Conflict; the first stays", () =>
      withRegistry((r) =>
        Effect.gen(function* () {
          yield* r.register(pipeline("orders", "1.0.0", "Copies orders."))
          const error = yield* registryError(r.register(pipeline("orders", "1.0.0", "Deletes orders.")))
          assert.strictEqual(error._tag, "RegistryError")
          assert.strictEqual(error.reason, "Conflict")
          assert.strictEqual(error.reference, "orders@1.0.0")
          assert.isFalse(error.retryable)
          assert.include(error.message, "orders@1.0.0")
          const { entry } = yield* r.get("orders@1.0.0")
          assert.strictEqual(entry.description, "Copies orders.")
          assert.lengthOf(yield* r.versions("orders"), 1)
        })
      )
    )

    it.effect("re-registering an identical definition is idempotent", () =>
      withRegistry((r) =>
        Effect.gen(function* () {
          const first = yield* r.register(pipeline("orders", "1.0.0"))
          const again = yield* r.register(pipeline("orders", "1.0.0"))
          assert.deepStrictEqual(again, first)
          assert.lengthOf(yield* r.list(), 1)
        })
      )
    )

    it.effect("concurrent registrations of one version with different definitions: exactly one wins", () =>
      withRegistry((r) =>
        Effect.gen(function* () {
          const results = yield* Effect.forEach(
            ["A", "B", "C", "D"],
            (d) => Effect.result(r.register(pipeline("orders", "1.0.0", `Definition ${d}.`))),
            { concurrency: "unbounded" }
          )
          const wins = results.filter((x) => x._tag === "Success")
          assert.lengthOf(wins, 1)
          for (const x of results) {
            if (x._tag === "Failure") {
              assert.strictEqual(x.failure._tag, "RegistryError")
              assert.strictEqual(x.failure.reason, "Conflict")
            }
          }
          const { entry } = yield* r.get("orders@1.0.0")
          assert.strictEqual(wins[0]!._tag === "Success" ? wins[0]!.success.hash : "", entry.hash)
        })
      )
    )

    it.effect("deprecate changes what get(name) returns; the exact version stays reachable", () =>
      withRegistry((r) =>
        Effect.gen(function* () {
          yield* r.register(pipeline("orders", "1.0.0"))
          yield* r.register(pipeline("orders", "2.0.0"))
          assert.strictEqual((yield* r.get("orders")).entry.version, "2.0.0")
          const deprecated = yield* r.deprecate("orders@2.0.0", "drops rows")
          assert.strictEqual(deprecated.deprecated?.reason, "drops rows")
          assert.strictEqual((yield* r.get("orders")).entry.version, "1.0.0")
          const exact = yield* r.get("orders@2.0.0")
          assert.strictEqual(exact.entry.deprecated?.reason, "drops rows")
          assert.deepStrictEqual(
            (yield* r.list()).map((e) => e.version),
            ["1.0.0"]
          )
          assert.deepStrictEqual(
            (yield* r.list({ includeDeprecated: true })).map((e) => e.version),
            ["2.0.0", "1.0.0"]
          )
          assert.lengthOf(yield* r.versions("orders"), 2)
          assert.strictEqual((yield* registryError(r.deprecate("orders@3.0.0", "x"))).reason, "NotFound")
        })
      )
    )

    it.effect("remove one version or every version of a name", () =>
      withRegistry((r) =>
        Effect.gen(function* () {
          yield* r.register(pipeline("orders", "1.0.0"))
          yield* r.register(pipeline("orders", "1.1.0"))
          yield* r.register(pipeline("orders", "1.2.0"))
          yield* r.register(pipeline("customers", "1.0.0"))
          assert.strictEqual(yield* r.remove("orders@1.2.0"), 1)
          assert.strictEqual((yield* r.get("orders")).entry.version, "1.1.0")
          assert.strictEqual((yield* registryError(r.get("orders@1.2.0"))).reason, "NotFound")
          assert.strictEqual(yield* r.remove("orders"), 2)
          assert.strictEqual((yield* registryError(r.get("orders"))).reason, "NotFound")
          assert.strictEqual((yield* registryError(r.remove("orders"))).reason, "NotFound")
          assert.deepStrictEqual(
            (yield* r.list()).map((e) => e.name),
            ["customers"]
          )
          // After removal the version may be registered again, even with another definition.
          yield* r.register(pipeline("orders", "1.2.0", "A new definition."))
          assert.strictEqual((yield* r.get("orders")).entry.description, "A new definition.")
        })
      )
    )

    it.effect("versions are ordered by semver, not as strings", () =>
      withRegistry((r) =>
        Effect.gen(function* () {
          for (const v of [
            "1.9.0",
            "2.0.0-rc.1",
            "1.10.0",
            "0.9.0",
            "2.0.0",
            "2.0.0-rc.10",
            "2.0.0-rc.2",
            "2.0.0-alpha"
          ]) {
            yield* r.register(pipeline("orders", v))
          }
          assert.deepStrictEqual(
            (yield* r.versions("orders")).map((e) => e.version),
            ["2.0.0", "2.0.0-rc.10", "2.0.0-rc.2", "2.0.0-rc.1", "2.0.0-alpha", "1.10.0", "1.9.0", "0.9.0"]
          )
          assert.strictEqual((yield* r.get("orders")).entry.version, "2.0.0")
        })
      )
    )

    it.effect("keeps tenant and spec for pipelines stored as data", () =>
      withRegistry((r) =>
        Effect.gen(function* () {
          const entry = yield* r.register(pipeline("orders", "1.0.0"), {
            tenant: "acme",
            spec: { template: "copy", params: { table: "orders" } }
          })
          assert.strictEqual(entry.tenant, "acme")
          const got = yield* r.get("orders")
          assert.strictEqual(got.entry.tenant, "acme")
          assert.deepStrictEqual(got.entry.spec, { template: "copy", params: { table: "orders" } })
        })
      )
    )
  })

suite("PipelineRegistry.layerMemory", () => PipelineRegistry.layerMemory)
suite("PipelineRegistry.layer + RegistryStore.layerFile", () =>
  PipelineRegistry.layer.pipe(Layer.provide(RegistryStore.layerFile({ directory: tempDir() }))))

describe("PipelineRegistry.compareVersions", () => {
  const sorted = (versions: ReadonlyArray<string>) => [...versions].sort(PipelineRegistry.compareVersions)

  it("orders numerically by major, minor, patch", () => {
    assert.deepStrictEqual(sorted(["1.10.0", "1.9.0", "1.2.10", "1.2.9", "10.0.0", "9.0.0"]), [
      "1.2.9",
      "1.2.10",
      "1.9.0",
      "1.10.0",
      "9.0.0",
      "10.0.0"
    ])
  })

  it("puts a pre-release before its release and orders pre-releases by semver rules", () => {
    // The example order from semver.org §11.
    const spec = [
      "1.0.0-alpha",
      "1.0.0-alpha.1",
      "1.0.0-alpha.beta",
      "1.0.0-beta",
      "1.0.0-beta.2",
      "1.0.0-beta.11",
      "1.0.0-rc.1",
      "1.0.0"
    ]
    assert.deepStrictEqual(sorted([...spec].reverse()), spec)
    assert.isBelow(PipelineRegistry.compareVersions("2.0.0-rc.1", "2.0.0"), 0)
    assert.isAbove(PipelineRegistry.compareVersions("2.0.0-rc.1", "1.99.99"), 0)
  })

  it("ignores build metadata for precedence (a '-' in it does not make a pre-release)", () => {
    assert.isAbove(PipelineRegistry.compareVersions("1.0.0+build-1", "1.0.0-rc.1"), 0)
    assert.isAbove(PipelineRegistry.compareVersions("1.0.1+b", "1.0.0"), 0)
    assert.isBelow(PipelineRegistry.compareVersions("1.0.0-rc.1+build-7", "1.0.0"), 0)
  })

  it("is antisymmetric", () => {
    const versions = ["0.0.1", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0", "1.0.0+b1", "1.1.0", "1.10.0-x.7.z.92"]
    for (const a of versions) {
      for (const b of versions) {
        assert.strictEqual(
          Math.sign(PipelineRegistry.compareVersions(a, b)),
          -Math.sign(PipelineRegistry.compareVersions(b, a)),
          `${a} vs ${b}`
        )
      }
    }
  })
})

describe("RegistryStore.layerFile", () => {
  const open = (directory: string) => PipelineRegistry.layer.pipe(Layer.provide(RegistryStore.layerFile({ directory })))

  it.effect("entries survive re-opening, and the hash rule holds across restarts", () =>
    Effect.gen(function* () {
      const directory = tempDir()
      const p = pipeline("orders", "1.0.0", "Copies orders.")
      const first = yield* PipelineRegistry.PipelineRegistry.use((r) =>
        Effect.gen(function* () {
          const entry = yield* r.register(p)
          yield* r.register(pipeline("orders", "1.1.0"))
          yield* r.deprecate("orders@1.1.0", "broken")
          return entry
        })
      ).pipe(Effect.provide(open(directory)))
      assert.isTrue(fs.existsSync(path.join(directory, "registry.json")))

      yield* PipelineRegistry.PipelineRegistry.use((r) =>
        Effect.gen(function* () {
          const got = yield* r.get("orders")
          assert.deepStrictEqual(got.entry, first)
          // Pipeline values live in the process that registered them.
          assert.isUndefined(got.pipeline)
          assert.strictEqual((yield* r.get("orders@1.1.0")).entry.deprecated?.reason, "broken")
          const conflict = yield* registryError(r.register(pipeline("orders", "1.0.0", "Something else.")))
          assert.strictEqual(conflict.reason, "Conflict")
          const again = yield* r.register(pipeline("orders", "1.0.0", "Copies orders."))
          assert.deepStrictEqual(again, first)
          assert.isDefined((yield* r.get("orders@1.0.0")).pipeline)
        })
      ).pipe(Effect.provide(open(directory)))
    })
  )

  it.effect("a second store on the same directory is refused while the first is open", () =>
    Effect.gen(function* () {
      const directory = tempDir()
      const error = yield* Effect.gen(function* () {
        yield* Layer.build(RegistryStore.layerFile({ directory }))
        return yield* Effect.flip(Layer.build(RegistryStore.layerFile({ directory })))
      }).pipe(Effect.scoped)
      assert.strictEqual(error._tag, "StateError")
      // Closed: it opens again.
      yield* Layer.build(RegistryStore.layerFile({ directory })).pipe(Effect.scoped)
    })
  )
})
