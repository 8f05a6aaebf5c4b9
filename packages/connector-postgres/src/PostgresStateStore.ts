/**
 * A `StateStore` in PostgreSQL, for several app replicas sharing one database: one row per state key holds the
 * fencing token, the lease holder and the checkpoint. Every lease change and every checkpoint write is a single
 * conditional statement, so two replicas can never both hold a lease and a fenced-out run never writes.
 *
 * @since 0.1.0
 */
import { type Checkpoint, type Config, StateStore } from "@data-mcp/core"
import { Clock, Effect, Layer } from "effect"
import type pg from "pg"
import * as StoreIo from "./internal/storeIo.ts"
import type * as PostgresConfig from "./PostgresConfig.ts"
import { type Fragment, sql } from "./Sql.ts"

/**
 * Options of `layer`.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /** The schema the state tables live in (created if missing). Default `"data_mcp"`. */
  readonly schema?: string
}

interface Row {
  readonly token: string
  readonly holder_run_id: string | null
  readonly expires_at: string | null
}

const io = (key: string, action: string) => (cause: unknown) =>
  new StateStore.StateError({
    reason: "Io",
    key,
    detail: `could not ${action} in PostgreSQL: ${cause instanceof Error ? cause.message : String(cause)}. Check the database is reachable; the operation may be retried.`,
    cause
  })

const fenced = (lease: StateStore.Lease, current: Row | undefined, action: string) => {
  const token = current === undefined ? 0 : Number(current.token)
  return new StateStore.StateError({
    reason: "Fenced",
    key: lease.key,
    detail:
      token !== lease.token
        ? `cannot ${action}: lease token ${lease.token} of run ${lease.runId} was superseded by token ${token}. This run lost its lease and must stop without writing; the newer run owns the state.`
        : `cannot ${action}: run ${lease.runId} already released lease token ${lease.token}. Acquire a new lease first.`
  })
}

const leaseHeld = (key: string, holderRunId: string, expiresAt: number) =>
  new StateStore.StateError({
    reason: "LeaseHeld",
    key,
    holderRunId,
    detail: `run ${holderRunId} holds the lease until ${new Date(expiresAt).toISOString()}. Wait for it to finish, cancel it, or start with onConflict "queue" or "attach".`
  })

/** How many times `acquire` re-tries when the holder it was refused by is gone by the time it looks. */
const ACQUIRE_ATTEMPTS = 5

/**
 * The store over an open pool, on a schema already migrated. Exposed for the tests and for apps that manage
 * their own pool.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (pool: pg.Pool, schema: string): StateStore.StateStoreShape => {
  const table = sql.ident([schema, "data_mcp_state"])
  const query = StoreIo.queries("state")
  const run = <R extends Record<string, unknown>>(fragment: Fragment, key: string, action: string) =>
    query<R>(pool, fragment, key, action)
  const current = (key: string, action: string) =>
    Effect.map(
      run<Row & Record<string, unknown>>(
        sql`select token::text as token, holder_run_id, expires_at::text as expires_at from ${table} where key = ${key}`,
        key,
        action
      ),
      (result) => result.rows[0]
    )

  const acquire = (
    key: string,
    runId: string,
    ttlMs: number,
    attempt: number
  ): Effect.Effect<StateStore.Lease, StateStore.StateError> =>
    Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const expiresAt = now + ttlMs
      const won = yield* run<{ token: string }>(
        sql`insert into ${table} as s (key, token, holder_run_id, expires_at) values (${key}, 1, ${runId}, ${expiresAt})
          on conflict (key) do update
            set token = s.token + 1, holder_run_id = excluded.holder_run_id, expires_at = excluded.expires_at, updated_at = now()
            where s.holder_run_id is null or s.holder_run_id = excluded.holder_run_id or s.expires_at <= ${now}
          returning token::text as token`,
        key,
        "acquire the lease"
      )
      const row = won.rows[0]
      if (row !== undefined) return { key, runId, token: Number(row.token), expiresAt }
      const holder = yield* current(key, "acquire the lease")
      if (holder?.holder_run_id != null && holder.expires_at !== null && Number(holder.expires_at) > now) {
        return yield* Effect.fail(leaseHeld(key, holder.holder_run_id, Number(holder.expires_at)))
      }
      // The holder released or expired between the two statements: try again.
      if (attempt + 1 >= ACQUIRE_ATTEMPTS) {
        return yield* Effect.fail(io(key, "acquire the lease")("the lease changed hands repeatedly while acquiring"))
      }
      return yield* acquire(key, runId, ttlMs, attempt + 1)
    })

  return {
    acquire: (key, { runId, ttlMs }) => acquire(key, runId, ttlMs, 0),
    renew: (lease, ttlMs) =>
      Effect.gen(function* () {
        const expiresAt = (yield* Clock.currentTimeMillis) + ttlMs
        const result = yield* run(
          sql`update ${table} set expires_at = ${expiresAt}, updated_at = now()
            where key = ${lease.key} and token = ${lease.token} and holder_run_id = ${lease.runId}`,
          lease.key,
          "renew the lease"
        )
        if (result.rowCount === 1) return { ...lease, expiresAt }
        return yield* Effect.fail(fenced(lease, yield* current(lease.key, "renew the lease"), "renew"))
      }),
    release: (lease) =>
      Effect.asVoid(
        run(
          sql`update ${table} set holder_run_id = null, expires_at = null, updated_at = now()
            where key = ${lease.key} and token = ${lease.token} and holder_run_id = ${lease.runId}`,
          lease.key,
          "release the lease"
        )
      ),
    load: (key) =>
      Effect.map(
        run<{ checkpoint: Checkpoint.Json; absent: boolean }>(
          sql`select checkpoint, checkpoint is null as absent from ${table} where key = ${key}`,
          key,
          "load the checkpoint"
        ),
        (result) => {
          const row = result.rows[0]
          return row === undefined || row.absent ? undefined : row.checkpoint
        }
      ),
    save: (lease, checkpoint) =>
      Effect.gen(function* () {
        const result = yield* run(
          sql`update ${table} set checkpoint = ${JSON.stringify(checkpoint)}::json, updated_at = now()
            where key = ${lease.key} and token = ${lease.token} and holder_run_id = ${lease.runId}`,
          lease.key,
          "save the checkpoint"
        )
        if (result.rowCount !== 1) {
          return yield* Effect.fail(fenced(lease, yield* current(lease.key, "save the checkpoint"), "save"))
        }
      }),
    set: (key, checkpoint) =>
      Effect.asVoid(
        run(
          sql`insert into ${table} as s (key, token, holder_run_id, expires_at, checkpoint)
            values (${key}, 0, null, null, ${checkpoint === undefined ? null : JSON.stringify(checkpoint)}::json)
            on conflict (key) do update
              set token = case when s.holder_run_id is null then s.token else s.token + 1 end,
                holder_run_id = null, expires_at = null, checkpoint = excluded.checkpoint, updated_at = now()`,
          key,
          "set the checkpoint"
        )
      ),
    keys: Effect.map(
      run<{ key: string }>(sql`select key from ${table} where checkpoint is not null`, schema, "list the keys"),
      (result) => result.rows.map((row) => row.key).sort()
    )
  }
}

/**
 * A state store in PostgreSQL, safe with several app replicas writing at once. Building the layer opens a pool
 * (closed with the layer) and applies the state tables' migrations.
 *
 * **Details**
 *
 * - Table `<schema>.data_mcp_state(key text primary key, token bigint, holder_run_id text, expires_at bigint,
 *   checkpoint json, updated_at timestamptz)`; `<schema>.data_mcp_migrations(version, description, applied_at)`
 *   records the applied migrations. Migrations run in one transaction under
 *   `pg_advisory_xact_lock(0x646d6d67, hashtext(schema))`, so replicas starting together apply each once.
 * - `acquire` is one `INSERT … ON CONFLICT DO UPDATE … WHERE` the holder released, expired or is the same run,
 *   `RETURNING` the new token (always one more than the last); `renew`, `release` and `save` are `UPDATE`s
 *   conditional on `(key, token, run)`, so a fenced run's write touches no row and fails with `Fenced`.
 * - `set` is an operator override; like the file store it moves the token on when a lease is held, fencing it.
 * - Lease expiry uses Effect's `Clock` (epoch milliseconds computed by the caller, stored in `expires_at`), as
 *   the memory and file stores do, so `TestClock` drives it in tests. Replicas' clocks should be in sync (NTP):
 *   a skewed clock can take an unexpired lease over early, but fencing still keeps the old holder from writing.
 * - Checkpoints are stored as `json` (the text as written, so any JSON value, `null` included, round-trips).
 *   Keys are any text without NUL characters.
 * - Storage failures are `StateError` `Io` (retryable) with the classified `ConnectorError` as `cause`.
 *
 * **Example** (A state store for several replicas)
 *
 * ```ts
 * import { PostgresStateStore } from "@data-mcp/connector-postgres"
 * import { StateStore } from "@data-mcp/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const store = yield* StateStore.StateStore
 *   const lease = yield* store.acquire("orders:abc", { runId: "run-1", ttlMs: 60_000 })
 *   yield* store.save(lease, { id: 42 })
 *   yield* store.release(lease)
 * })
 *
 * const layer = PostgresStateStore.layer({ host: "db", user: "etl", database: "app" }, { schema: "data_mcp" })
 * Effect.runPromise(program.pipe(Effect.provide(layer)))
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (
  connection: typeof PostgresConfig.PostgresConfig.Encoded,
  options: Options = {}
): Layer.Layer<StateStore.StateStore, StateStore.StateError | Config.ConfigError> =>
  Layer.effect(
    StateStore.StateStore,
    Effect.map(StoreIo.openMigrated(connection, options), ({ pool, schema }) =>
      StateStore.StateStore.of(make(pool, schema))
    )
  )
