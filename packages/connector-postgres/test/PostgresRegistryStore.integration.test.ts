import { Batch, Pipeline, PipelineRegistry, Sink, Source } from "@data-mcp/core"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Stream } from "effect"

import * as PostgresRegistryStore from "../src/PostgresRegistryStore.ts"
import { connection, database } from "./utils.ts"

const { unreachable, freshSchema } = await database("PostgresRegistryStore", "dm_registry")

const layerOn = (schema: string) => PostgresRegistryStore.layer(connection, { schema })

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

const entry = (
  name: string,
  version: string,
  fields: Partial<PipelineRegistry.Entry> = {}
): PipelineRegistry.Entry => ({
  name,
  version,
  hash: `hash-${name}-${version}`,
  description: `Pipeline ${name}.`,
  registeredAt: "2026-03-01T00:00:00.000Z",
  ...fields
})

const useStore = <A, E>(schema: string, f: (s: PipelineRegistry.RegistryStoreShape) => Effect.Effect<A, E>) =>
  PipelineRegistry.RegistryStore.use(f).pipe(Effect.provide(layerOn(schema)))

const useRegistry = <A, E>(schema: string, f: (r: PipelineRegistry.PipelineRegistryShape) => Effect.Effect<A, E>) =>
  PipelineRegistry.PipelineRegistry.use(f).pipe(
    Effect.provide(PipelineRegistry.layer.pipe(Layer.provide(layerOn(schema))))
  )

describe.skipIf(unreachable !== undefined)("PostgresRegistryStore", () => {
  it.effect("all, put (upsert by name and version) and remove; entries round-trip and survive re-opening", () =>
    Effect.gen(function* () {
      const schema = freshSchema()
      const spec = { source: { kind: "csv", options: { path: "a.csv" } }, n: [1, 2.5, null, "ü"] }
      yield* useStore(schema, (s) =>
        Effect.gen(function* () {
          assert.deepStrictEqual(yield* s.all, [])
          yield* s.put(entry("orders", "1.0.0"))
          yield* s.put(entry("orders", "1.1.0", { tenant: "acme", spec }))
          yield* s.put(entry("customers", "0.1.0"))
          const deprecated = entry("orders", "1.0.0", {
            deprecated: { reason: "use 1.1.0", at: "2026-03-02T00:00:00.000Z" }
          })
          yield* s.put(deprecated)
          assert.deepStrictEqual(yield* s.all, [
            entry("customers", "0.1.0"),
            deprecated,
            entry("orders", "1.1.0", { tenant: "acme", spec })
          ])
        })
      )
      yield* useStore(schema, (s) =>
        Effect.gen(function* () {
          assert.strictEqual((yield* s.all).length, 3)
          assert.isTrue(yield* s.remove("orders", "1.0.0"))
          assert.isFalse(yield* s.remove("orders", "1.0.0"))
          assert.isFalse(yield* s.remove("nope", "1.0.0"))
          assert.deepStrictEqual(
            (yield* s.all).map((e) => `${e.name}@${e.version}`),
            ["customers@0.1.0", "orders@1.1.0"]
          )
        })
      )
    })
  )

  it.effect("put never replaces a stored version's hash: Conflict", () =>
    useStore(freshSchema(), (s) =>
      Effect.gen(function* () {
        yield* s.put(entry("orders", "1.0.0"))
        const error = yield* Effect.flip(s.put(entry("orders", "1.0.0", { hash: "other" })))
        assert.strictEqual(error.reason, "Conflict")
        assert.strictEqual(error.key, "orders@1.0.0")
        assert.deepStrictEqual(yield* s.all, [entry("orders", "1.0.0")])
      })
    )
  )

  it.live("PipelineRegistry over two layers (replicas) refuses a changed definition under the same version", () =>
    Effect.gen(function* () {
      const schema = freshSchema()
      const first = yield* useRegistry(schema, (r) => r.register(pipeline("orders", "1.0.0")))
      yield* useRegistry(schema, (r) =>
        Effect.gen(function* () {
          // The same definition registers again (another replica starting up) and gets the stored entry.
          assert.deepStrictEqual(yield* r.register(pipeline("orders", "1.0.0")), first)
          const error = yield* Effect.flip(r.register(pipeline("orders", "1.0.0", "A changed description.")))
          assert.strictEqual(error._tag, "RegistryError")
          assert.strictEqual((error as PipelineRegistry.RegistryError).reason, "Conflict")
          yield* r.register(pipeline("orders", "1.1.0", "A changed description."))
          yield* r.deprecate("orders@1.0.0", "use 1.1.0")
        })
      )
      // Two replicas at once, each with a different definition of one new version: exactly one wins.
      const results = yield* Effect.all(
        [
          Effect.result(useRegistry(schema, (r) => r.register(pipeline("orders", "2.0.0", "Definition A.")))),
          Effect.result(useRegistry(schema, (r) => r.register(pipeline("orders", "2.0.0", "Definition B."))))
        ],
        { concurrency: 2 }
      )
      assert.strictEqual(results.filter((r) => r._tag === "Success").length, 1)
      yield* useRegistry(schema, (r) =>
        Effect.gen(function* () {
          const versions = yield* r.versions("orders")
          assert.deepStrictEqual(
            versions.map((e) => [e.version, e.deprecated?.reason]),
            [
              ["2.0.0", undefined],
              ["1.1.0", undefined],
              ["1.0.0", "use 1.1.0"]
            ]
          )
          assert.strictEqual((yield* r.get("orders")).entry.version, "2.0.0")
        })
      )
    })
  )
})
