// A mysql2 pool as a scoped resource, and the one way queries run: Sql fragments only (values always bound),
// every connection in the connector's session (UTC, utf8mb4, strict), driver errors classified into
// ConnectorError reasons. Shared by the source and the sink.
import type { Readable } from "node:stream"
import { ConnectorError } from "@data-mcp/core"
import { Effect, type Scope } from "effect"
import mysql from "mysql2"
import * as MysqlConfig from "../MysqlConfig.ts"
import * as MysqlError from "../MysqlError.ts"
import type * as Sql from "../Sql.ts"

/** The callback pool, and the promise face of it. */
export type Pool = mysql.Pool
export type Connection = mysql.PoolConnection

// mysql2 emits "error" on a pool connection whose server side went away (KILL, restart); the query in flight
// already fails with a (retryable) connection error, so the event itself is only noted.
const ignoreConnectionError = (_error: Error) => {}

/** Opens a pool for the config; every new connection runs the session settings first. Ended when the scope closes. */
export const pool = (config: MysqlConfig.MysqlConfig): Effect.Effect<Pool, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const p = mysql.createPool(MysqlConfig.toPoolOptions(config))
      p.on("connection", (connection) => {
        connection.on("error", ignoreConnectionError)
        // Queued ahead of anything the connection is asked to do; a failure surfaces on the next query.
        for (const statement of MysqlConfig.sessionSettings) connection.query(statement, () => undefined)
      })
      return p
    }),
    (p) =>
      Effect.promise(() =>
        p
          .promise()
          .end()
          .catch(() => undefined)
      )
  )

/** Borrows a connection for the scope; released, or destroyed after a failure, when the scope closes. */
export const connection = (
  p: Pool,
  operation: string
): Effect.Effect<Connection, ConnectorError.ConnectorError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.callback<Connection, ConnectorError.ConnectorError>((resume) => {
      p.getConnection((error, c) => {
        if (error !== null) resume(Effect.fail(MysqlError.toConnectorError(error, operation)))
        else resume(Effect.succeed(c))
      })
    }),
    (c, exit) =>
      Effect.sync(() => {
        if (exit._tag === "Failure") c.destroy()
        else c.release()
      })
  )

/** The result of a statement: rows for a select, the OK packet otherwise. */
export type Result<R> = ReadonlyArray<R> & { readonly affectedRows?: number; readonly warningStatus?: number }

/** Runs one statement built with `sql` and returns its rows (or its OK packet). */
export const query = <R = Record<string, unknown>>(
  runner: Pool | Connection,
  fragment: Sql.Fragment,
  operation: string,
  options?: {
    readonly typeCast?: mysql.QueryOptions["typeCast"]
    /** The rows a `LOAD DATA LOCAL INFILE` statement streams (whatever file name the server asks for). */
    readonly infile?: () => Readable
  }
): Effect.Effect<Result<R>, ConnectorError.ConnectorError> =>
  Effect.callback((resume) => {
    // mysql2 throws at once on a connection already closed: a (retryable) failure, like an error in the callback.
    try {
      runner.query(
        {
          sql: fragment.text,
          values: [...fragment.values],
          ...(options?.typeCast === undefined ? {} : { typeCast: options.typeCast }),
          // Without a factory mysql2 answers a server's file request with an empty file and fails: no file is ever read.
          ...(options?.infile === undefined ? {} : { infileStreamFactory: options.infile })
        },
        (error, rows) => {
          if (error !== null) resume(Effect.fail(MysqlError.toConnectorError(error, operation)))
          else resume(Effect.succeed(rows as unknown as Result<R>))
        }
      )
    } catch (error) {
      resume(Effect.fail(MysqlError.toConnectorError(error, operation)))
    }
  })

/** The failure of an operation whose detail this connector writes itself (not a driver error). */
export const failure = (
  connector: string,
  operation: string,
  reason: ConnectorError.Reason
): ConnectorError.ConnectorError => ConnectorError.make(connector, operation, reason)
