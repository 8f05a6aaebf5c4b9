/**
 * A `RegistryStore` in PostgreSQL, so several app replicas share one pipeline registry and the hash rule
 * (a version is never re-registered with a different definition) holds across replicas and restarts.
 *
 * @since 0.1.0
 */
import { type Config, PipelineRegistry, StateStore } from "@data-mcp/core"
import { Effect, Layer } from "effect"
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

type Entry = PipelineRegistry.Entry

/**
 * The store over an open pool, on a schema already migrated.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (pool: pg.Pool, schema: string): PipelineRegistry.RegistryStoreShape => {
  const table = sql.ident([schema, "data_mcp_registry"])
  const query = StoreIo.queries("registry")
  const run = <R extends Record<string, unknown>>(fragment: Fragment, key: string, action: string) =>
    query<R>(pool, fragment, key, action)
  return {
    all: Effect.map(
      run<{ entry: Entry }>(
        sql`select entry from ${table} order by name collate "C", version collate "C"`,
        schema,
        "read the registry"
      ),
      (result) => result.rows.map((row) => row.entry)
    ),
    // An upsert that never changes the hash of a stored version: two replicas registering one version with
    // different definitions at the same moment both pass the registry's check, and the later one fails here
    // with `Conflict` instead of silently replacing the other's definition.
    put: (entry) => {
      const key = `${entry.name}@${entry.version}`
      return Effect.flatMap(
        run(
          sql`insert into ${table} as r (name, version, hash, entry) values (${entry.name}, ${entry.version}, ${entry.hash}, ${JSON.stringify(entry)}::json)
            on conflict (name, version) do update set entry = excluded.entry, updated_at = now()
              where r.hash = excluded.hash`,
          key,
          "store the registry entry"
        ),
        (result) =>
          result.rowCount === 1
            ? Effect.void
            : Effect.fail(
                new StateStore.StateError({
                  reason: "Conflict",
                  key,
                  detail: `${key} is registered with a different definition (by another replica); bump the version to change it`
                })
              )
      )
    },
    remove: (name, version) =>
      Effect.map(
        run(
          sql`delete from ${table} where name = ${name} and version = ${version}`,
          `${name}@${version}`,
          "remove the registry entry"
        ),
        (result) => (result.rowCount ?? 0) > 0
      )
  }
}

/**
 * A registry store in PostgreSQL, shared by every replica. Building the layer opens a pool (closed with the
 * layer) and applies the state tables' migrations (shared with `PostgresStateStore`).
 *
 * **Details**
 *
 * - `<schema>.data_mcp_registry(name, version, hash, entry json, updated_at)`, primary key `(name, version)`.
 * - `put` upserts by name and version but never replaces an entry with one of another hash: that fails with
 *   `StateError` `Conflict` (only a race between replicas gets that far; the registry refuses it first).
 * - `all` is ordered by name then version (bytewise); the registry sorts by semver itself.
 *
 * **Example** (A registry shared by replicas)
 *
 * ```ts
 * import { PostgresRegistryStore } from "@data-mcp/connector-postgres"
 * import { PipelineRegistry } from "@data-mcp/core"
 * import { Layer } from "effect"
 *
 * const registry = PipelineRegistry.layer.pipe(
 *   Layer.provide(PostgresRegistryStore.layer({ host: "db", user: "etl", database: "app" }))
 * )
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (
  connection: typeof PostgresConfig.PostgresConfig.Encoded,
  options: Options = {}
): Layer.Layer<PipelineRegistry.RegistryStore, StateStore.StateError | Config.ConfigError> =>
  Layer.effect(
    PipelineRegistry.RegistryStore,
    Effect.map(StoreIo.openMigrated(connection, options), ({ pool, schema }) =>
      PipelineRegistry.RegistryStore.of(make(pool, schema))
    )
  )
