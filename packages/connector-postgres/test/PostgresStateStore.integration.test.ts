import { StateStore } from "@data-mcp/core"
import { StoreSuites } from "@data-mcp/core/testing"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Scope } from "effect"
import { TestClock } from "effect/testing"
import * as Migrations from "../src/internal/migrations.ts"
import * as PostgresStateStore from "../src/PostgresStateStore.ts"
import { connection, database, withClient } from "./utils.ts"

const { unreachable, freshSchema } = await database("PostgresStateStore", "dm_state")

const layerOn = (schema: string) => PostgresStateStore.layer(connection, { schema })
const failure = <A>(effect: Effect.Effect<A, StateStore.StateError>) => Effect.flip(effect)

StoreSuites.stateStoreSuite("PostgresStateStore", () => layerOn(freshSchema()), { skip: unreachable !== undefined })

describe.skipIf(unreachable !== undefined)("PostgresStateStore", () => {
  it.effect("checkpoints, tokens and leases survive a new layer on the same schema", () =>
    Effect.gen(function* () {
      const schema = freshSchema()
      const use = <A, E>(f: (s: StateStore.StateStoreShape) => Effect.Effect<A, E>) =>
        StateStore.StateStore.use(f).pipe(Effect.provide(layerOn(schema)))
      const lease = yield* use((s) =>
        Effect.gen(function* () {
          const lease = yield* s.acquire("orders", { runId: "r1", ttlMs: 10_000 })
          yield* s.save(lease, { id: 42 })
          return lease
        })
      )
      yield* use((s) =>
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
      yield* use((s) =>
        Effect.gen(function* () {
          assert.deepStrictEqual(yield* s.load("orders"), { id: 43 })
          assert.strictEqual((yield* failure(s.save(lease, { id: 0 }))).reason, "Fenced")
        })
      )
    })
  )

  it.effect("a bad schema name is a ConfigError; an unreachable server is a retryable Io error", () =>
    Effect.gen(function* () {
      const bad = yield* Effect.flip(Layer.build(PostgresStateStore.layer(connection, { schema: "x".repeat(64) })))
      assert.strictEqual(bad._tag, "ConfigError")
      const down = yield* Effect.flip(
        Layer.build(
          PostgresStateStore.layer({ ...connection, port: 1, connectTimeoutMs: 2_000 }, { schema: freshSchema() })
        )
      )
      assert.strictEqual(down._tag, "StateError")
      assert.isTrue(down._tag === "StateError" && down.reason === "Io" && down.retryable)
    })
  )
})

describe.skipIf(unreachable !== undefined)("PostgresStateStore with several replicas", () => {
  // Each replica is its own layer: its own pool, its own migration run.
  const replicas = (schema: string, n: number) =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
      const contexts = yield* Effect.forEach(
        Array.from({ length: n }, () => layerOn(schema)),
        (layer) => Layer.buildWithScope(layer, scope),
        { concurrency: "unbounded" }
      )
      return contexts.map((context) => context.mapUnsafe.get(StateStore.StateStore.key) as StateStore.StateStoreShape)
    })

  it.live("layers built at once on a new schema apply each migration exactly once", () =>
    Effect.gen(function* () {
      const schema = freshSchema()
      const stores = yield* replicas(schema, 6)
      assert.strictEqual(stores.length, 6)
      const rows = yield* Effect.promise(() =>
        withClient((client) => client.query(`select version from "${schema}".data_mcp_migrations order by version`))
      )
      assert.deepStrictEqual(
        rows.rows.map((row) => row.version),
        Migrations.migrations.map((m) => m.version)
      )
      // A later layer finds nothing to do and works on the same data.
      yield* stores[0]!.set("k", 1)
      const again = yield* replicas(schema, 1)
      assert.strictEqual(yield* again[0]!.load("k"), 1)
    })
  )

  it.live("20 concurrent acquires of one key from two replicas: one winner, the rest LeaseHeld naming it", () =>
    Effect.gen(function* () {
      const [a, b] = yield* replicas(freshSchema(), 2)
      const results = yield* Effect.forEach(
        Array.from({ length: 20 }, (_, i) => i),
        (i) => Effect.result((i % 2 === 0 ? a! : b!).acquire("k", { runId: `r${i}`, ttlMs: 60_000 })),
        { concurrency: "unbounded" }
      )
      const won = results.flatMap((r) => (r._tag === "Success" ? [r.success] : []))
      assert.strictEqual(won.length, 1)
      assert.strictEqual(won[0]!.token, 1)
      for (const r of results) {
        if (r._tag === "Failure") {
          assert.strictEqual(r.failure.reason, "LeaseHeld")
          assert.strictEqual(r.failure.holderRunId, won[0]!.runId)
        }
      }
    })
  )

  it.live("20 runs on two replicas contending for one key: one holder at a time, tokens never repeat", () =>
    Effect.gen(function* () {
      const [a, b] = yield* replicas(freshSchema(), 2)
      let holders = 0
      let maxHolders = 0
      const tokens: Array<number> = []
      const runOnce = (store: StateStore.StateStoreShape, runId: string): Effect.Effect<void> =>
        Effect.gen(function* () {
          const result = yield* Effect.result(store.acquire("k", { runId, ttlMs: 60_000 }))
          if (result._tag === "Failure") {
            assert.strictEqual(result.failure.reason, "LeaseHeld")
            yield* Effect.sleep(Math.floor(Math.random() * 5))
            return yield* runOnce(store, runId)
          }
          const lease = result.success
          holders++
          maxHolders = Math.max(maxHolders, holders)
          tokens.push(lease.token)
          yield* Effect.orDie(store.save(lease, { runId, token: lease.token }))
          yield* Effect.sleep(2)
          holders--
          yield* Effect.orDie(store.release(lease))
        }).pipe(Effect.orDie)
      yield* Effect.forEach(
        Array.from({ length: 20 }, (_, i) => i),
        (i) => runOnce(i % 2 === 0 ? a! : b!, `r${i}`),
        { concurrency: "unbounded" }
      )
      assert.strictEqual(maxHolders, 1)
      assert.strictEqual(tokens.length, 20)
      assert.strictEqual(new Set(tokens).size, 20)
      assert.deepStrictEqual(
        tokens,
        [...tokens].sort((x, y) => x - y)
      )
      const last = (yield* a!.load("k")) as { token: number }
      assert.strictEqual(last.token, Math.max(...tokens))
    })
  )

  it.live("a takeover on one replica fences the old holder on the other", () =>
    Effect.gen(function* () {
      const [a, b] = yield* replicas(freshSchema(), 2)
      const old = yield* a!.acquire("k", { runId: "r1", ttlMs: 1 })
      yield* Effect.sleep(5)
      const fresh = yield* b!.acquire("k", { runId: "r2", ttlMs: 60_000 })
      assert.strictEqual(fresh.token, old.token + 1)
      assert.strictEqual((yield* failure(a!.save(old, "stale"))).reason, "Fenced")
      assert.strictEqual((yield* failure(a!.renew(old, 1000))).reason, "Fenced")
      yield* b!.save(fresh, "new")
      yield* b!.set("k", "operator")
      assert.strictEqual((yield* failure(b!.save(fresh, "late"))).reason, "Fenced")
      assert.strictEqual(yield* a!.load("k"), "operator")
    })
  )
})
