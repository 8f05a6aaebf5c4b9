import { DeadLetter, type StateStore } from "@data-mcp/core"
import { StoreSuites } from "@data-mcp/core/testing"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"

import * as PostgresDeadLetterStore from "../src/PostgresDeadLetterStore.ts"
import { connection, database } from "./utils.ts"

const { unreachable, freshSchema } = await database("PostgresDeadLetterStore", "dm_dead")

const layerOn = (schema: string) => PostgresDeadLetterStore.layer(connection, { schema })

const { DAY, NOW, letter } = StoreSuites

const ids = (page: { readonly letters: ReadonlyArray<DeadLetter.DeadLetter> }) => page.letters.map((l) => l.id)

const use = <A, E>(schema: string, f: (s: DeadLetter.DeadLetterStoreShape) => Effect.Effect<A, E>) =>
  DeadLetter.DeadLetterStore.use(f).pipe(Effect.provide(layerOn(schema)))

StoreSuites.deadLetterStoreSuite("PostgresDeadLetterStore: core's dead-letter cases", () => layerOn(freshSchema()), {
  skip: unreachable !== undefined
})

describe.skipIf(unreachable !== undefined)("PostgresDeadLetterStore: replicas and restarts", () => {
  it.effect("letters survive re-opening, also after remove and purge; order continues", () =>
    Effect.gen(function* () {
      const schema = freshSchema()
      yield* use(schema, (s) =>
        Effect.gen(function* () {
          yield* s.append([letter("a"), letter("b", { pipeline: "users/ü" }), letter("c"), letter("d")])
          yield* s.remove(["a"])
        })
      )
      yield* use(schema, (s) =>
        Effect.gen(function* () {
          assert.deepStrictEqual(yield* s.list({}), {
            letters: [letter("b", { pipeline: "users/ü" }), letter("c"), letter("d")]
          })
          yield* s.append([letter("e", { pipeline: "users/ü" })])
          assert.strictEqual(yield* s.purge({ ttlMs: DAY, maxCount: 3, now: NOW }), 1)
        })
      )
      yield* use(schema, (s) =>
        Effect.gen(function* () {
          assert.deepStrictEqual(ids(yield* s.list({})), ["c", "d", "e"])
          assert.strictEqual(yield* s.count({ pipeline: "users/ü" }), 1)
        })
      )
    })
  )

  it.live("concurrent appends from two replicas keep every letter once, in one order both replicas see", () =>
    Effect.gen(function* () {
      const schema = freshSchema()
      const [a, b] = yield* Effect.all([Layer.build(layerOn(schema)), Layer.build(layerOn(schema))], {
        concurrency: 2
      })
      const one = a.mapUnsafe.get(DeadLetter.DeadLetterStore.key) as DeadLetter.DeadLetterStoreShape
      const two = b.mapUnsafe.get(DeadLetter.DeadLetterStore.key) as DeadLetter.DeadLetterStoreShape
      const batches = Array.from({ length: 20 }, (_, i) =>
        Array.from({ length: 10 }, (_, j) => letter(`l${i}-${j}`, { runId: `r${i}` }))
      )
      // Every batch is appended by both replicas at once (a retried write after a failover), with overlaps.
      yield* Effect.forEach(
        batches,
        (batch, i) =>
          Effect.all([one.append(batch), two.append(i % 2 === 0 ? batch : [...batch].reverse())], {
            concurrency: 2
          }),
        { concurrency: 8, discard: true }
      )
      assert.strictEqual(yield* one.count({}), 200)
      assert.strictEqual(yield* two.count({}), 200)
      const collect = (s: DeadLetter.DeadLetterStoreShape) =>
        Effect.gen(function* () {
          const seen: Array<string> = []
          let cursor: string | undefined
          do {
            const page = yield* s.list({ limit: 13, cursor })
            seen.push(...ids(page))
            cursor = page.nextCursor
          } while (cursor !== undefined)
          return seen
        })
      const fromOne = yield* collect(one)
      assert.strictEqual(new Set(fromOne).size, 200)
      assert.deepStrictEqual(yield* collect(two), fromOne)
      assert.strictEqual(yield* two.count({ runId: "r3" }), 10)
    }).pipe(Effect.scoped)
  )

  it.effect("a layer on an unreachable server fails with Io", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        Layer.build(
          PostgresDeadLetterStore.layer({ ...connection, port: 1, connectTimeoutMs: 1_000 }, { schema: freshSchema() })
        ).pipe(Effect.scoped)
      )
      assert.strictEqual(error._tag, "StateError")
      assert.strictEqual((error as StateStore.StateError).reason, "Io")
    })
  )
})
