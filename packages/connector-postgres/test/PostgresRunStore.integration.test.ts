import { RunStore } from "@data-mcp/core"
import { StoreSuites } from "@data-mcp/core/testing"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"

import * as PostgresRunStore from "../src/PostgresRunStore.ts"
import { connection, database } from "./utils.ts"

const { unreachable, freshSchema } = await database("PostgresRunStore", "dm_runs")

const layerOn = (schema: string) => PostgresRunStore.layer(connection, { schema })

const { NOW, batch } = StoreSuites

StoreSuites.runStoreSuite("PostgresRunStore", () => layerOn(freshSchema()), { skip: unreachable !== undefined })

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
