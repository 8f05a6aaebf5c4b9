// What the Postgres state stores share: opening a pool on a migrated schema, and running a query whose failure
// becomes a StateError `Io` naming the action (the native ConnectorError kept as the cause).

import { type Config, type ConnectorError, StateStore } from "@data-mcp/core"
import { Effect, type Scope } from "effect"
import type pg from "pg"
import * as PostgresConfig from "../PostgresConfig.ts"
import type { Fragment } from "../Sql.ts"
import * as Migrations from "./migrations.ts"
import * as Pool from "./pool.ts"

/** A storage failure: retryable when the driver error was. */
export const ioError = (key: string, action: string, error: ConnectorError.ConnectorError) =>
  new StateStore.StateError({
    reason: "Io",
    key,
    detail: `could not ${action} in PostgreSQL (${error.reason._tag}). Check the database is reachable${error.retryable ? "; the operation may be retried" : ""}.`,
    cause: error
  })

/** A query runner for one store; `area` prefixes the driver operation name (`runs list the runs`). */
export const queries =
  (area: string) =>
  <R extends Record<string, unknown>>(
    runner: pg.Pool | pg.PoolClient,
    fragment: Fragment,
    key: string,
    action: string
  ) =>
    Effect.mapError(Pool.query<R>(runner, fragment, `${area} ${action}`), (error) => ioError(key, action, error))

/** Decodes the connection, opens a pool for the scope and applies the migrations to the schema. */
export const openMigrated = (
  connection: typeof PostgresConfig.PostgresConfig.Encoded,
  options: { readonly schema?: string | undefined }
): Effect.Effect<
  { readonly pool: pg.Pool; readonly schema: string },
  StateStore.StateError | Config.ConfigError,
  Scope.Scope
> =>
  Effect.gen(function* () {
    const config = yield* PostgresConfig.decode(connection)
    const schema = yield* Migrations.validateSchema(options.schema)
    const pool = yield* Pool.pool(config)
    yield* Effect.mapError(Migrations.migrate(pool, schema), (error) =>
      ioError(schema, "apply the state tables' migrations", error)
    )
    return { pool, schema }
  })
