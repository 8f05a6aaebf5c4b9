/**
 * A `DeadLetterStore` in PostgreSQL, for several app replicas sharing one database: one row per dead letter, in
 * append order, the fields queries filter on as columns and the letter itself as JSON. Same order, pagination,
 * idempotence and purge rules as core's memory and file stores.
 *
 * @since 0.1.0
 */
import { type Config, DeadLetter, StateStore } from "@data-mcp/core"
import { Effect, Layer } from "effect"
import type pg from "pg"
import * as Pool from "./internal/pool.ts"
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

/** The first key of the advisory lock that serialises appends (the second is `hashtext(schema)`). */
const APPEND_LOCK_KEY = 0x646d_646c // "dmdl"

const pageLimit = (limit: number | undefined): number =>
  limit === undefined || Number.isNaN(limit) ? 50 : Math.max(1, Math.floor(limit))

// The same cursor format as core's stores: the `seq` of the last letter of the page.
const encodeCursor = (seq: string): string => Buffer.from(`dl:${seq}`, "utf8").toString("base64url")

const decodeCursor = (cursor: string): string | undefined => {
  const match = /^dl:(\d{1,18})$/.exec(Buffer.from(cursor, "base64url").toString("utf8"))
  return match === null ? undefined : match[1]
}

const badCursor = (cursor: string) =>
  new StateStore.StateError({
    reason: "NotFound",
    key: cursor,
    detail: "this cursor was not issued by this dead-letter store; pass back the nextCursor of a previous page"
  })

const atMs = (at: string): number | null => {
  const ms = Date.parse(at)
  return Number.isFinite(ms) ? ms : null
}

/**
 * The store over an open pool, on a schema already migrated.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (pool: pg.Pool, schema: string): DeadLetter.DeadLetterStoreShape => {
  const table = sql.ident([schema, "data_mcp_dead_letters"])
  const run = StoreIo.queries("dead letters")
  const where = (query: DeadLetter.DeadLetterQuery): Array<Fragment> => {
    const conditions: Array<Fragment> = [sql`true`]
    if (query.pipeline !== undefined) conditions.push(sql`pipeline = ${query.pipeline}`)
    if (query.stateKey !== undefined) conditions.push(sql`state_key = ${query.stateKey}`)
    if (query.runId !== undefined) conditions.push(sql`run_id = ${query.runId}`)
    if (query.tenant !== undefined) conditions.push(sql`tenant = ${query.tenant}`)
    return conditions
  }

  return {
    // One transaction under an advisory lock: appends are serialised, so `seq` order is commit order and a
    // cursor never passes a letter that a slower replica commits later with a smaller `seq`. An id already
    // stored (or repeated in the batch) is skipped, so a retried append never duplicates a letter.
    append: (letters) => {
      if (letters.length === 0) return Effect.void
      const seen = new Set<string>()
      const fresh = letters.filter((letter) => !seen.has(letter.id) && seen.add(letter.id) !== undefined)
      const key = fresh[0]!.pipeline
      return Effect.scoped(
        Effect.gen(function* () {
          const client = yield* Effect.mapError(Pool.client(pool, "dead letters append"), (error) =>
            StoreIo.ioError(key, "append the dead letters", error)
          )
          const action = "append the dead letters"
          yield* run(client, sql`begin`, key, action)
          const body = Effect.gen(function* () {
            yield* run(
              client,
              sql`select pg_advisory_xact_lock(${APPEND_LOCK_KEY}::int4, hashtext(${schema}))`,
              key,
              action
            )
            // Numbers taken first and given explicitly: a default `nextval` may be evaluated before the sort.
            const numbers = yield* run<{ seq: string }>(
              client,
              sql`select nextval(pg_get_serial_sequence(format('%I.%I', ${schema}::text, 'data_mcp_dead_letters'), 'seq'))::text as seq
                from generate_series(1, ${fresh.length})`,
              key,
              action
            )
            const seqs = numbers.rows.map((row) => BigInt(row.seq)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
            yield* run(
              client,
              sql`insert into ${table} (seq, id, pipeline, state_key, run_id, tenant, at_ms, letter)
                select t.seq, t.id, t.pipeline, t.state_key, t.run_id, t.tenant, t.at_ms, t.letter::json
                from unnest(
                  ${seqs.map(String)}::bigint[],
                  ${fresh.map((l) => l.id)}::text[],
                  ${fresh.map((l) => l.pipeline)}::text[],
                  ${fresh.map((l) => l.stateKey)}::text[],
                  ${fresh.map((l) => l.runId)}::text[],
                  ${fresh.map((l) => l.tenant ?? null)}::text[],
                  ${fresh.map((l) => atMs(l.at))}::bigint[],
                  ${fresh.map((l) => JSON.stringify(l))}::text[]
                ) as t(seq, id, pipeline, state_key, run_id, tenant, at_ms, letter)
                on conflict (id) do nothing`,
              key,
              action
            )
            yield* run(client, sql`commit`, key, action)
          })
          yield* body.pipe(Effect.onError(() => Effect.ignore(run(client, sql`rollback`, key, action))))
        })
      )
    },
    list: (query) =>
      Effect.gen(function* () {
        const limit = pageLimit(query.limit)
        const conditions = where(query)
        if (query.cursor !== undefined) {
          const after = decodeCursor(query.cursor)
          if (after === undefined) return yield* Effect.fail(badCursor(query.cursor))
          conditions.push(sql`seq > ${after}::bigint`)
        }
        const result = yield* run<{ position: string; letter: DeadLetter.DeadLetter }>(
          pool,
          sql`select seq::text as position, letter from ${table} where ${sql.join(conditions, sql` and `)}
            order by seq limit ${limit + 1}`,
          query.pipeline ?? "*",
          "list the dead letters"
        )
        const page = result.rows.slice(0, limit)
        const last = page[page.length - 1]
        const letters = page.map((row) => row.letter)
        return result.rows.length > limit && last !== undefined
          ? { letters, nextCursor: encodeCursor(last.position) }
          : { letters }
      }),
    count: (query) =>
      Effect.map(
        run<{ n: string }>(
          pool,
          sql`select count(*)::text as n from ${table} where ${sql.join(where(query), sql` and `)}`,
          query.pipeline ?? "*",
          "count the dead letters"
        ),
        (result) => Number(result.rows[0]?.n ?? 0)
      ),
    remove: (ids) =>
      ids.length === 0
        ? Effect.succeed(0)
        : Effect.map(
            run(
              pool,
              sql`delete from ${table} where id = any(${[...ids]}::text[])`,
              ids[0]!,
              "remove the dead letters"
            ),
            (result) => result.rowCount ?? 0
          ),
    // One statement: the letters older than the TTL, then the oldest of the rest past `maxCount` (over every
    // pipeline, as the memory and file stores count). A letter whose time does not parse never expires.
    purge: ({ ttlMs, maxCount, now }) =>
      Effect.map(
        run(
          pool,
          sql`with live as (
              select seq, row_number() over (order by seq desc) as rank
              from ${table} where coalesce(at_ms >= ${now - ttlMs}::float8, true)
            )
            delete from ${table}
            where at_ms < ${now - ttlMs}::float8
              or seq in (select seq from live where rank > ${Math.max(0, maxCount)}::float8)`,
          "*",
          "purge the dead letters"
        ),
        (result) => result.rowCount ?? 0
      )
  }
}

/**
 * A dead-letter store in PostgreSQL, safe with several app replicas appending at once. Building the layer opens
 * a pool (closed with the layer) and applies the state tables' migrations (shared with `PostgresStateStore`).
 *
 * **Details**
 *
 * - `<schema>.data_mcp_dead_letters(seq bigserial, id text unique, pipeline, state_key, run_id, tenant, at_ms,
 *   letter json)`: the letter is stored as the JSON text written, so a record encoded with
 *   `DeadLetter.encodeRecord` round-trips losslessly.
 * - `append` is one `INSERT … ON CONFLICT (id) DO NOTHING` in a transaction holding an advisory lock: an id
 *   already stored is skipped (retries and replicas never duplicate a letter), and letters are numbered in
 *   commit order, so the cursor of a page never skips a letter committed later.
 * - `list` is oldest first by `seq`, paginated by an opaque cursor (the last `seq`) that survives removals.
 * - `purge` removes the letters older than `ttlMs`, then the oldest past `maxCount`, in one statement.
 * - Storage failures are `StateError` `Io` with the classified `ConnectorError` as `cause`.
 *
 * **Example** (A dead-letter store for several replicas)
 *
 * ```ts
 * import { PostgresDeadLetterStore } from "@data-mcp/connector-postgres"
 * import { DeadLetter } from "@data-mcp/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const store = yield* DeadLetter.DeadLetterStore
 *   return yield* store.list({ pipeline: "orders", limit: 20 })
 * })
 *
 * const layer = PostgresDeadLetterStore.layer({ host: "db", user: "etl", database: "app" }, { schema: "data_mcp" })
 * Effect.runPromise(program.pipe(Effect.provide(layer)))
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (
  connection: typeof PostgresConfig.PostgresConfig.Encoded,
  options: Options = {}
): Layer.Layer<DeadLetter.DeadLetterStore, StateStore.StateError | Config.ConfigError> =>
  Layer.effect(
    DeadLetter.DeadLetterStore,
    Effect.map(StoreIo.openMigrated(connection, options), ({ pool, schema }) =>
      DeadLetter.DeadLetterStore.of(make(pool, schema))
    )
  )
