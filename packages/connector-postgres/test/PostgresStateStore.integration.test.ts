import { createRequire } from "node:module"
import { StateStore } from "@data-mcp/core"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Scope } from "effect"
import { TestClock } from "effect/testing"
import type pg from "pg"
import * as Migrations from "../src/internal/migrations.ts"
import * as PostgresStateStore from "../src/PostgresStateStore.ts"

// vitest runs Node with `--conditions import`, under which pg's index requires pg-pool's ESM build; the client
// alone does not need the pool, so load it directly for set-up and tear-down.
const Client = createRequire(import.meta.url)("pg/lib/client.js") as typeof pg.Client

const connection = {
  host: process.env.PGHOST ?? "127.0.0.1",
  port: Number(process.env.PGPORT ?? 5432),
  user: process.env.PGUSER ?? "postgres",
  database: process.env.PGDATABASE ?? "test"
}

const withClient = async <A>(f: (client: pg.Client) => Promise<A>): Promise<A> => {
  const client = new Client({ ...connection, connectionTimeoutMillis: 5_000 })
  await client.connect()
  try {
    return await f(client)
  } finally {
    await client.end().catch(() => undefined)
  }
}

const probe = async (): Promise<string | undefined> => {
  try {
    await withClient(async () => undefined)
    return undefined
  } catch (e) {
    return e instanceof Error ? e.message : String(e)
  }
}

// With CI=true the suite never skips.
const unreachable = process.env.CI === "true" ? undefined : await probe()
if (unreachable !== undefined)
  console.warn(
    `Skipping PostgresStateStore integration tests: PostgreSQL at ${connection.host}:${connection.port} is unreachable (${unreachable})`
  )

// One schema per test, all under this file's unique prefix, dropped at the end.
const prefix = `dm_state_${process.pid}_${Date.now().toString(36)}`
let counter = 0
const schemas: Array<string> = []
const freshSchema = (): string => {
  const schema = `${prefix}_${counter++}`
  schemas.push(schema)
  return schema
}
afterAll(async () => {
  if (unreachable !== undefined) return
  await withClient(async (client) => {
    for (const schema of schemas) await client.query(`drop schema if exists "${schema}" cascade`)
  })
})

const layerOn = (schema: string) => PostgresStateStore.layer(connection, { schema })
const failure = <A>(effect: Effect.Effect<A, StateStore.StateError>) => Effect.flip(effect)

describe.skipIf(unreachable !== undefined)("PostgresStateStore", () => {
  const withStore = <A, E>(f: (s: StateStore.StateStoreShape) => Effect.Effect<A, E>) =>
    StateStore.StateStore.use(f).pipe(Effect.provide(layerOn(freshSchema())))

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

  it.effect("concurrent saves all land; the last write wins", () =>
    withStore((s) =>
      Effect.gen(function* () {
        const lease = yield* s.acquire("k", { runId: "r1", ttlMs: 1000 })
        yield* Effect.forEach(
          Array.from({ length: 20 }, (_, i) => i),
          (i) => s.save(lease, { i }),
          { concurrency: "unbounded" }
        )
        const cp = (yield* s.load("k")) as { i: number }
        assert.isTrue(Number.isInteger(cp.i) && cp.i >= 0 && cp.i < 20)
      })
    )
  )

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
