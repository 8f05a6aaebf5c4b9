// The transactions a source reads in: `REPEATABLE READ READ ONLY`, with the codec's session settings, ended by
// a rollback when the scope closes. A read's first transaction can export its snapshot (`pg_export_snapshot()`);
// other sessions then begin theirs in that very snapshot (`SET TRANSACTION SNAPSHOT`), so chunks read on several
// connections see one consistent state of the database.

import { ConnectorError } from "@data-mcp/core"
import { Effect, type Scope } from "effect"
import type pg from "pg"
import * as PostgresCodec from "../PostgresCodec.ts"
import * as PostgresError from "../PostgresError.ts"
import { sql } from "../Sql.ts"
import * as Pool from "./pool.ts"
import * as internal from "./source.ts"

/** Runs a statement whose text the server rendered (or a constant of the codec), mapping driver errors. */
const run = (client: pg.PoolClient, statement: string) =>
  Effect.tryPromise({
    try: () => client.query(statement),
    catch: (cause) => PostgresError.toConnectorError(cause, "read")
  })

/**
 * An exported snapshot lives only as long as the transaction that exported it: once that session is gone (killed,
 * disconnected), importing it fails with SQLSTATE 22023. The read is then retried from its last checkpoint, in
 * a new snapshot, so the failure is a retryable connection problem, not a bad value.
 */
const snapshotGone = (error: ConnectorError.ConnectorError): ConnectorError.ConnectorError => {
  const code = (error.reason.cause as { readonly code?: unknown } | undefined)?.code
  return code !== "22023"
    ? error
    : ConnectorError.make(
        error.connector,
        error.operation,
        new ConnectorError.ConnectionError({
          detail:
            "The read's shared snapshot is gone (the session that exported it ended): the read restarts from its last checkpoint in a new snapshot.",
          cause: error.reason.cause
        })
      )
}

/**
 * Begins a read-only snapshot transaction on a borrowed client (in an exported snapshot when one is given),
 * rolled back when the scope closes.
 */
export const readOnly = (
  client: pg.PoolClient,
  snapshot?: string
): Effect.Effect<void, ConnectorError.ConnectorError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.gen(function* () {
      // SET TRANSACTION SNAPSHOT takes no parameters and must come first in its transaction: render it before.
      const imported =
        snapshot === undefined
          ? undefined
          : (yield* Pool.query<{ statement: string }>(client, internal.importSnapshot(snapshot), "read")).rows[0]!
              .statement
      yield* Pool.query(client, sql`begin isolation level repeatable read read only`, "read")
      if (imported !== undefined) yield* run(client, imported).pipe(Effect.mapError(snapshotGone))
      for (const statement of PostgresCodec.sessionSettings) yield* run(client, statement)
    }),
    () => Effect.promise(() => client.query("rollback").catch(() => undefined))
  )

/** Exports the current transaction's snapshot for `join`. */
export const share = (client: pg.PoolClient): Effect.Effect<string, ConnectorError.ConnectorError> =>
  Effect.map(Pool.query<{ snapshot: string }>(client, internal.exportSnapshot, "read"), (r) => r.rows[0]!.snapshot)

/** Borrows a client for the scope, in a read-only transaction in the exported snapshot. */
export const join = (
  pool: pg.Pool,
  snapshot: string
): Effect.Effect<pg.PoolClient, ConnectorError.ConnectorError, Scope.Scope> =>
  Effect.gen(function* () {
    const client = yield* Pool.client(pool, "read")
    yield* readOnly(client, snapshot)
    return client
  })
