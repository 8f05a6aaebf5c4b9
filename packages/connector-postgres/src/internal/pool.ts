// A pg Pool as a scoped resource, and the one way queries run: Sql fragments only (values always bound), driver
// errors classified into ConnectorError reasons. Shared by the source, the sink and the state stores.
import { Effect, type Scope } from "effect"
import pg from "pg"
import * as PostgresConfig from "../PostgresConfig.ts"
import * as PostgresError from "../PostgresError.ts"
import * as Sql from "../Sql.ts"

// pg emits "error" on an idle pooled client, or on a checked-out client, when its backend goes away (failover,
// pg_terminate_backend). Without a listener Node turns that into an uncaught exception and the process dies;
// the query in flight already fails with a (retryable) ConnectionError, so the event itself is only noted.
const ignoreBackendError = (_error: Error) => {}

/** Opens a pool for the config; it is ended when the scope closes. */
export const pool = (config: PostgresConfig.PostgresConfig) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const p = new pg.Pool(PostgresConfig.toPoolConfig(config))
      p.on("error", ignoreBackendError)
      return p
    }),
    (p) => Effect.promise(() => p.end().catch(() => undefined))
  )

/** Borrows a client for the scope; it is released (or destroyed after an error) when the scope closes. */
export const client = (
  p: pg.Pool,
  operation: string
): Effect.Effect<pg.PoolClient, ReturnType<typeof PostgresError.toConnectorError>, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: async () => {
        const c = await p.connect()
        c.on("error", ignoreBackendError)
        return c
      },
      catch: (cause) => PostgresError.toConnectorError(cause, operation)
    }),
    (c, exit) =>
      Effect.sync(() => {
        c.off("error", ignoreBackendError)
        c.release(exit._tag === "Failure")
      })
  )

/** Runs one statement built with `sql` and returns its rows. */
export const query = <R extends Record<string, unknown> = Record<string, unknown>>(
  runner: pg.Pool | pg.PoolClient,
  fragment: Sql.Fragment,
  operation: string
) =>
  Effect.tryPromise({
    try: () => runner.query<R>(Sql.toQueryConfig(fragment)),
    catch: (cause) => PostgresError.toConnectorError(cause, operation)
  })

/** The address tests and tools use: PGHOST/PGPORT/PGUSER/PGDATABASE, defaulting to the loopback server. */
export const configFromEnv = (env: NodeJS.ProcessEnv = process.env): PostgresConfig.PostgresConfig =>
  PostgresConfig.decodeSync({
    host: env.PGHOST ?? "127.0.0.1",
    port: Number(env.PGPORT ?? 5432),
    user: env.PGUSER ?? "postgres",
    database: env.PGDATABASE ?? "test"
  })
