// One ordered read of the source, streamed: mysql2's `query().stream()` (paused by backpressure, so at most a
// bounded number of rows is held whatever the table's size), cut into arrays of `limit` rows, decoded by
// `MysqlCodec` in place. Also the snapshot transaction every read runs in.
import type { Readable } from "node:stream"
import type { ConnectorError } from "@data-mcp/core"
import { Effect, Stream } from "effect"
import * as MysqlError from "../MysqlError.ts"
import { type Fragment, sql } from "../Sql.ts"
import * as Pool from "./pool.ts"
import * as internal from "./source.ts"

/** A record as read: column name → decoded value. */
export type Row = Record<string, unknown>

/** Rows the mysql2 stream buffers before it pauses the connection. */
const BUFFERED_ROWS = 512

/** A consistent, read-only snapshot transaction on the connection, ended when the scope closes. */
export const snapshot = (connection: Pool.Connection) =>
  Effect.acquireRelease(
    Effect.gen(function* () {
      yield* Pool.query(connection, sql`set transaction isolation level repeatable read`, "read")
      yield* Pool.query(connection, sql`start transaction with consistent snapshot, read only`, "read")
    }),
    () => Effect.ignore(Pool.query(connection, sql`rollback`, "read"))
  )

/**
 * The rows of `query` on `connection`, in arrays of up to `limit`, each decoded by `decode` before it is emitted.
 * mysql2 does not fail a streamed query whose connection is lost (KILL, reset): the connection's "error" event is
 * passed on to the stream, so the read fails (retryably) instead of waiting forever.
 */
export const streamRows = (
  connection: Pool.Connection,
  query: Fragment,
  limit: number,
  decode: (rows: Array<Row>) => void
): Stream.Stream<Array<Row>, ConnectorError.ConnectorError> =>
  Stream.unwrap(
    Effect.gen(function* () {
      // Listening before the query is sent: on a connection already lost (a chunk reader killed between ranges)
      // mysql2 reports the refused command as a connection "error" at once, before the stream exists.
      let rows: Readable | undefined
      let failed: Error | undefined
      const lost = (error: Error) => {
        if (rows === undefined) failed = error
        else rows.destroy(error)
      }
      yield* Effect.acquireRelease(
        Effect.sync(() => connection.on("error", lost)),
        () => Effect.sync(() => connection.off("error", lost))
      )
      // mysql2 throws at once (not through the stream) when the connection is already closed: a retryable read
      // failure like the others, never an uncaught exception.
      try {
        rows = connection
          .query({ sql: query.text, values: [...query.values] })
          .stream({ highWaterMark: Math.min(limit, BUFFERED_ROWS) })
      } catch (error) {
        return Stream.fail(MysqlError.toConnectorError(error, "read"))
      }
      // Until the reader iterates the stream, an error destroying it must not be an uncaught exception: the
      // iterator still sees it (it rejects on the stream's error), this listener only keeps it from escaping.
      rows.on("error", () => undefined)
      // The connection was already lost when the query was sent: the read fails (retryably) at once. The stream is
      // let go quietly — destroyed with the error before anything listens, it would raise an uncaught exception.
      if (failed !== undefined) {
        rows.destroy()
        return Stream.fail(MysqlError.toConnectorError(failed, "read"))
      }
      return Stream.map(
        Stream.fromAsyncIterable(internal.chunks<Row>(rows as Readable, limit), (cause) =>
          MysqlError.toConnectorError(cause, "read")
        ),
        (records) => {
          decode(records)
          return records
        }
      )
    })
  )
