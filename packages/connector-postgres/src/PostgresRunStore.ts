/**
 * A `RunStore` in PostgreSQL, for several app replicas sharing one database: runs in one table (the fields
 * lists filter and sort on as columns, the record as JSON), their events in another, in append order. Same
 * ordering, pagination, abandonment and retention rules as the memory and file stores.
 *
 * @since 0.1.0
 */
import { type Config, type RunEvent, RunStore, StateStore } from "@data-mcp/core"
import { Clock, Effect, Layer } from "effect"
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

type RunRecord = RunStore.RunRecord
type Runner = pg.Pool | pg.PoolClient

const millis = (iso: string): number => Date.parse(iso)
const finite = (ms: number): number | null => (Number.isFinite(ms) ? ms : null)
const jsonCopy = <A>(value: A): A => JSON.parse(JSON.stringify(value)) as A
const pageLimit = (limit: number | undefined): number =>
  limit === undefined || Number.isNaN(limit) ? 50 : Math.max(1, Math.floor(limit))

const encodeCursor = (createdMs: number, id: string): string =>
  Buffer.from(JSON.stringify([createdMs, id]), "utf8").toString("base64url")

const decodeCursor = (cursor: string): readonly [number, string] | undefined => {
  const text = Buffer.from(cursor, "base64url").toString("utf8")
  if (!text.startsWith("[")) return undefined
  const value: unknown = JSON.parse(text)
  return Array.isArray(value) && value.length === 2 && typeof value[0] === "number" && typeof value[1] === "string"
    ? [value[0], value[1]]
    : undefined
}

const badCursor = (cursor: string) =>
  new StateStore.StateError({
    reason: "NotFound",
    key: cursor,
    detail: "this cursor was not issued by this run store; pass back the nextCursor of a previous page"
  })

const notFound = (id: string) =>
  new StateStore.StateError({
    reason: "NotFound",
    key: id,
    detail: `no run ${id} (never created, or purged by retention)`
  })

/**
 * The store over an open pool, on a schema already migrated.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (pool: pg.Pool, schema: string): RunStore.RunStoreShape => {
  const runs = sql.ident([schema, "data_mcp_runs"])
  const events = sql.ident([schema, "data_mcp_run_events"])
  const run = StoreIo.queries("runs")
  /** Runs `f` in a transaction on one client; rolled back if it fails. */
  const transaction = <A>(
    key: string,
    action: string,
    f: (client: pg.PoolClient) => Effect.Effect<A, StateStore.StateError>
  ) =>
    Effect.scoped(
      Effect.gen(function* () {
        const client = yield* Effect.mapError(Pool.client(pool, `runs ${action}`), (error) =>
          StoreIo.ioError(key, action, error)
        )
        yield* run(client, sql`begin`, key, action)
        const value = yield* f(client).pipe(
          Effect.onError(() => Effect.ignore(run(client, sql`rollback`, key, action)))
        )
        yield* run(client, sql`commit`, key, action)
        return value
      })
    )
  const columns = (
    record: RunRecord
  ) => sql`${record.pipeline}, ${record.status}, ${record.caller ?? null}, ${record.tenant ?? null},
    ${millis(record.createdAt) || 0}, ${finite(millis(record.heartbeatAt))}, ${JSON.stringify(record)}::json`
  const put = (runner: Runner, record: RunRecord, action: string) =>
    run(
      runner,
      sql`update ${runs} set (pipeline, status, caller, tenant, created_ms, heartbeat_ms, record) = (${columns(record)})
        where id = ${record.id}`,
      record.id,
      action
    )
  const exists = (id: string, action: string) =>
    Effect.flatMap(run(pool, sql`select 1 from ${runs} where id = ${id}`, id, action), (result) =>
      result.rows.length === 0 ? Effect.fail(notFound(id)) : Effect.void
    )

  return {
    create: (record) =>
      Effect.flatMap(
        run(
          pool,
          sql`insert into ${runs} (id, pipeline, status, caller, tenant, created_ms, heartbeat_ms, record)
            values (${record.id}, ${columns(jsonCopy(record))}) on conflict (id) do nothing`,
          record.id,
          "create the run"
        ),
        (result) =>
          result.rowCount === 1
            ? Effect.void
            : Effect.fail(
                new StateStore.StateError({
                  reason: "Conflict",
                  key: record.id,
                  detail: `run ${record.id} already exists`
                })
              )
      ),
    update: (id, patch) =>
      transaction(id, "update the run", (client) =>
        Effect.gen(function* () {
          const result = yield* run<{ record: RunRecord }>(
            client,
            sql`select record from ${runs} where id = ${id} for update`,
            id,
            "update the run"
          )
          const current = result.rows[0]?.record
          if (current === undefined) return yield* Effect.fail(notFound(id))
          const updated: RunRecord = jsonCopy({
            ...current,
            ...patch,
            id: current.id,
            pipeline: current.pipeline,
            createdAt: current.createdAt
          })
          yield* put(client, updated, "update the run")
          return updated
        })
      ),
    get: (id) =>
      Effect.map(
        run<{ record: RunRecord }>(pool, sql`select record from ${runs} where id = ${id}`, id, "read the run"),
        (result) => result.rows[0]?.record
      ),
    list: (query) =>
      Effect.gen(function* () {
        const limit = pageLimit(query.limit)
        const conditions: Array<Fragment> = [sql`true`]
        if (query.pipeline !== undefined) conditions.push(sql`pipeline = ${query.pipeline}`)
        if (query.status !== undefined) conditions.push(sql`status = ${query.status}`)
        if (query.caller !== undefined) conditions.push(sql`caller = ${query.caller}`)
        if (query.tenant !== undefined) conditions.push(sql`tenant = ${query.tenant}`)
        if (query.idempotencyKey !== undefined)
          conditions.push(sql`record->>'idempotencyKey' = ${query.idempotencyKey}`)
        if (query.cursor !== undefined) {
          const cursor = query.cursor
          const after = yield* Effect.try({ try: () => decodeCursor(cursor), catch: () => badCursor(cursor) })
          if (after === undefined) return yield* Effect.fail(badCursor(cursor))
          conditions.push(
            sql`(created_ms < ${after[0]} or (created_ms = ${after[0]} and id collate "C" < ${after[1]}))`
          )
        }
        const result = yield* run<{ record: RunRecord; created_ms_text: string; id: string }>(
          pool,
          sql`select record, created_ms::text as created_ms_text, id from ${runs} where ${sql.join(conditions, sql` and `)}
            order by created_ms desc, id collate "C" desc limit ${limit + 1}`,
          query.pipeline ?? "*",
          "list the runs"
        )
        const page = result.rows.slice(0, limit)
        const last = page[page.length - 1]
        return result.rows.length > limit && last !== undefined
          ? { runs: page.map((row) => row.record), nextCursor: encodeCursor(Number(last.created_ms_text), last.id) }
          : { runs: page.map((row) => row.record) }
      }),
    appendEvents: (id, list) =>
      list.length === 0
        ? exists(id, "append the run's events")
        : Effect.flatMap(
            run(
              pool,
              sql`insert into ${events} (run_id, at_ms, event)
                select ${id}, t.at_ms, t.event::json
                from unnest(${list.map((event) => finite(millis(event.at)))}::bigint[], ${list.map((event) => JSON.stringify(event))}::text[])
                  with ordinality as t(at_ms, event, n)
                where exists (select 1 from ${runs} where id = ${id})
                order by t.n`,
              id,
              "append the run's events"
            ),
            (result) => (result.rowCount === 0 ? Effect.fail(notFound(id)) : Effect.void)
          ),
    events: (id, options) =>
      Effect.gen(function* () {
        yield* exists(id, "read the run's events")
        const from = Math.max(0, Math.floor(options?.from ?? 0))
        const limit = options?.limit === undefined ? null : Math.max(0, Math.floor(options.limit))
        const result = yield* run<{ event: RunEvent.RunEvent }>(
          pool,
          sql`select event from ${events} where run_id = ${id} order by seq offset ${from} limit ${limit}`,
          id,
          "read the run's events"
        )
        return result.rows.map((row) => row.event)
      }),
    markAbandoned: (staleBefore) =>
      transaction("runs", "mark abandoned runs", (client) =>
        Effect.gen(function* () {
          const now = new Date(yield* Clock.currentTimeMillis).toISOString()
          const stale = yield* run<{ record: RunRecord }>(
            client,
            sql`select record from ${runs} where status in ('running', 'queued') and heartbeat_ms < ${staleBefore}
              order by id for update skip locked`,
            "runs",
            "mark abandoned runs"
          )
          const ids: Array<string> = []
          for (const { record } of stale.rows) {
            yield* put(
              client,
              { ...record, status: "abandoned", updatedAt: now, finishedAt: now },
              "mark abandoned runs"
            )
            ids.push(record.id)
          }
          return ids
        })
      ),
    purge: (retention, now) =>
      transaction("runs", "purge runs", (client) =>
        Effect.gen(function* () {
          const runCutoff = now - retention.runMaxAgeMs
          const eventCutoff = now - retention.eventMaxAgeMs
          const gone = yield* run<{ runs: string; events: string }>(
            client,
            sql`with ranked as (
                select id, status, created_ms,
                  row_number() over (partition by pipeline order by created_ms desc, id collate "C" desc) - 1 as rank
                from ${runs}
              ), victims as (
                select id from ranked
                where status not in ('running', 'queued') and (created_ms < ${runCutoff} or rank >= ${retention.runsPerPipeline})
              ), counted as (
                select count(*) as n from ${events} where run_id in (select id from victims)
              ), deleted as (
                delete from ${runs} where id in (select id from victims) returning id
              )
              select (select count(*) from deleted)::text as runs, (select n from counted)::text as events`,
            "runs",
            "purge runs"
          )
          const old = yield* run(
            client,
            sql`delete from ${events} e using ${runs} r
              where e.run_id = r.id and r.status not in ('running', 'queued') and r.created_ms < ${eventCutoff}
                and e.at_ms < ${eventCutoff}`,
            "runs",
            "purge run events"
          )
          const row = gone.rows[0]
          return { runs: Number(row?.runs ?? 0), events: Number(row?.events ?? 0) + (old.rowCount ?? 0) }
        })
      )
  }
}

/**
 * A run store in PostgreSQL, safe with several app replicas writing at once. Building the layer opens a pool
 * (closed with the layer) and applies the state tables' migrations (shared with `PostgresStateStore`).
 *
 * **Details**
 *
 * - `<schema>.data_mcp_runs(id, pipeline, status, caller, tenant, created_ms, heartbeat_ms, record json)` and
 *   `<schema>.data_mcp_run_events(run_id → runs on delete cascade, seq bigserial, at_ms, event json)`.
 * - `update` and `markAbandoned` read and write under `select … for update` in one transaction, so replicas
 *   never lose each other's changes; `markAbandoned` skips rows another replica is already marking.
 * - Lists are newest first by `createdAt` then `id` (bytewise), paginated by an opaque `(createdAt, id)` cursor.
 * - `events(id, { from })` counts from the oldest event kept, as the memory store does after a purge.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (
  connection: typeof PostgresConfig.PostgresConfig.Encoded,
  options: Options = {}
): Layer.Layer<RunStore.RunStore, StateStore.StateError | Config.ConfigError> =>
  Layer.effect(
    RunStore.RunStore,
    Effect.map(StoreIo.openMigrated(connection, options), ({ pool, schema }) =>
      RunStore.RunStore.of(make(pool, schema))
    )
  )
