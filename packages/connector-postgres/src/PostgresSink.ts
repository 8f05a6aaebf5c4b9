/**
 * A PostgreSQL sink: appends records with `COPY … FROM STDIN` (the codec's lossless COPY text encoding) and,
 * when `transactional` (the default), commits each batch's rows, its checkpoint and the run's (lease token,
 * batch seq) in one transaction against a state table in the target schema — exactly-once delivery: a
 * retried write that already committed is skipped, and a run whose lease was taken over is fenced.
 *
 * @since 0.1.0
 */
import { Readable } from "node:stream"
import { pipeline } from "node:stream/promises"
import { type Checkpoint, Config, Sink, StateStore } from "@data-mcp/core"
import { Effect, Option, Schema, type Scope } from "effect"
import type pg from "pg"
import { from as copyFromStdin } from "pg-copy-streams"
import * as Pool from "./internal/pool.ts"
import * as SinkSql from "./internal/sinkSql.ts"
import * as PostgresCodec from "./PostgresCodec.ts"
import * as PostgresConfig from "./PostgresConfig.ts"
import * as PostgresError from "./PostgresError.ts"
import { sql } from "./Sql.ts"

const Name = Schema.String.check(Schema.isNonEmpty()).check(Schema.isMaxLength(63))

/**
 * A declared column of the target table.
 *
 * @category schemas
 * @since 0.1.0
 */
export const Column = Schema.Struct({
  name: Name.annotate({ description: "The column name (the record key), 1 to 63 characters." }),
  type: Schema.Literals(SinkSql.columnTypes).annotate({
    description:
      "The column's PostgreSQL type: bigint, integer, numeric, double precision, text, boolean, timestamptz, timestamp, date, jsonb or bytea."
  })
})

/**
 * The options of `PostgresSink.make`.
 *
 * @category schemas
 * @since 0.1.0
 */
export const SinkOptions = Schema.Struct({
  connection: PostgresConfig.PostgresConfig.annotate({
    description: "Where the server is: the PostgresConfig connection options."
  }),
  table: Schema.Union([Name, Schema.Tuple([Name, Name])]).annotate({
    description: "The target table: a name in the connection's schema, or [schema, table]."
  }),
  columns: Schema.Array(Column)
    .check(Schema.isMinLength(1))
    .annotate({ description: "The target table's columns, in COPY order; at least one." }),
  create: Schema.optionalKey(
    Schema.Boolean.annotate({ description: "Create the table on first run if it does not exist (default true)." })
  ),
  transactional: Schema.optionalKey(
    Schema.Boolean.annotate({
      description:
        "Commit each batch with its checkpoint and the run's lease token in one transaction, fenced: exactly-once (default true)."
    })
  ),
  name: Schema.optionalKey(
    Schema.String.check(Schema.isNonEmpty()).annotate({
      description: 'The sink name in errors, logs and metrics (default "postgres").'
    })
  )
})

/**
 * The decoded options of `PostgresSink.make`.
 *
 * @category models
 * @since 0.1.0
 */
export type SinkOptions = typeof SinkOptions.Type

/**
 * The options as given.
 *
 * @category models
 * @since 0.1.0
 */
export type SinkOptionsInput = typeof SinkOptions.Encoded

/**
 * Validates sink options, failing with a `ConfigError` that names the field (never its value).
 *
 * @category constructors
 * @since 0.1.0
 */
export const decode = (input: unknown): Effect.Effect<SinkOptions, Config.ConfigError> =>
  Config.decode("postgres sink", SinkOptions, input)

const targetOf = (options: SinkOptions): SinkSql.Target => {
  const [schema, table] =
    typeof options.table === "string" ? [PostgresConfig.schemaOf(options.connection), options.table] : options.table
  return { schema, table, columns: options.columns }
}

// Clients that already run under the codec's session settings (pool clients are reused).
const configured = new WeakSet<pg.PoolClient>()

const applySessionSettings = (client: pg.PoolClient) =>
  configured.has(client)
    ? Effect.void
    : Effect.tryPromise({
        try: async () => {
          // Constant statements of the codec, with no values: run as written.
          for (const statement of PostgresCodec.sessionSettings) await client.query(statement)
          configured.add(client)
        },
        catch: (cause) => PostgresError.toConnectorError(cause, "write")
      })

const copyRows = (client: pg.PoolClient, target: SinkSql.Target, payload: string) =>
  Effect.tryPromise({
    try: () => {
      const command = SinkSql.copyFrom(target)
      return pipeline(Readable.from([Buffer.from(payload, "utf8")]), client.query(copyFromStdin(command.text)))
    },
    catch: (cause) => PostgresError.toConnectorError(cause, "write")
  })

/** Encodes each record on its own, so a value the codec refuses rejects only its record. */
const encodeBatch = (encoder: PostgresCodec.Encoder, records: ReadonlyArray<Record<string, unknown>>) => {
  let payload = ""
  let written = 0
  const rejected: Array<{ readonly index: number; readonly reason: string }> = []
  records.forEach((record, index) => {
    try {
      payload += encoder.encodeRow(record)
      written++
    } catch (e) {
      const reason =
        e instanceof PostgresCodec.CodecError
          ? `column "${e.column}": ${e.detail}`
          : "the record could not be encoded for COPY"
      rejected.push({ index, reason })
    }
  })
  return { payload, written, rejected }
}

const inTransaction = <A, E>(client: pg.PoolClient, body: Effect.Effect<A, E>) =>
  Effect.gen(function* () {
    yield* Pool.query(client, SinkSql.begin, "write")
    const result = yield* body.pipe(Effect.onError(() => Effect.ignore(Pool.query(client, SinkSql.rollback, "write"))))
    return result
  })

const openTarget = (p: pg.Pool, target: SinkSql.Target, options: { create: boolean; transactional: boolean }) =>
  Effect.scoped(
    Effect.gen(function* () {
      if (!options.create && !options.transactional) return
      const client = yield* Pool.client(p, "open")
      yield* inTransaction(
        client,
        Effect.gen(function* () {
          yield* Pool.query(client, SinkSql.ddlLock(target), "open")
          if (options.create) yield* Pool.query(client, SinkSql.createTable(target), "open")
          if (options.transactional) yield* Pool.query(client, SinkSql.createStateTable(target), "open")
          yield* Pool.query(client, SinkSql.commit, "open")
        })
      )
    })
  )

/**
 * Makes a PostgreSQL sink with the `append` disposition. Options are validated up front (a bad option throws
 * a `ConfigError` naming the field); nothing connects until the runner opens the sink.
 *
 * **Details**
 *
 * - `open` opens a pool for the run and, under `pg_advisory_xact_lock`, creates the table (`create`, default
 *   true) and the state table `data_mcp_state (state_key, token, seq, checkpoint)` in the target schema.
 * - `write` encodes the batch with the codec (a record it refuses is returned in `rejected`, naming the column,
 *   never the value) and loads it with `COPY … FROM STDIN`. Transactional (the default): in one transaction it
 *   locks the state row, fails with `StateError` `Fenced` if a higher lease token has written, skips the batch
 *   if this token already committed this `seq`, else copies the rows and stores (token, seq, checkpoint).
 * - `loadCheckpoint` (transactional) returns the checkpoint committed with the data: the authority on resume.
 * - Driver errors are `ConnectorError`s classified by `PostgresError`; retryable ones are retried by the runner.
 *
 * **Example** (An exactly-once sink into a new table)
 *
 * ```ts
 * import { PostgresSink } from "@data-mcp/connector-postgres"
 *
 * const sink = PostgresSink.make({
 *   connection: { host: "127.0.0.1", user: "postgres", database: "test" },
 *   table: ["public", "orders"],
 *   columns: [
 *     { name: "id", type: "bigint" },
 *     { name: "total", type: "numeric" },
 *     { name: "placed_at", type: "timestamptz" }
 *   ]
 * })
 * sink.capabilities // { transactional: true, idempotent: false, maxConcurrentWrites: 1 }
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (input: SinkOptionsInput): Sink.Sink<Record<string, unknown>> => {
  const options = Config.decodeSync("postgres sink", SinkOptions, input)
  const name = options.name ?? "postgres"
  const transactional = options.transactional ?? true
  const create = options.create ?? true
  const target = targetOf(options)
  const codecColumns = target.columns.map((c) => ({ name: c.name, oid: SinkSql.typeOid[c.type] }))

  const open = (
    context: Sink.OpenContext
  ): Effect.Effect<Sink.Writer<Record<string, unknown>>, Sink.SinkError | StateStore.StateError, Scope.Scope> =>
    Effect.gen(function* () {
      const p = yield* Pool.pool(options.connection)
      yield* openTarget(p, target, { create, transactional })
      const { stateKey, lease } = context

      const fenced = (stored: string) =>
        new StateStore.StateError({
          reason: "Fenced",
          key: stateKey,
          detail: `run ${context.runId} holds token ${lease.token}, but token ${stored} has written to ${target.schema}.${target.table}; stop without writing`
        })

      const writeTransactional = (
        client: pg.PoolClient,
        batch: ReturnType<typeof encodeBatch>,
        ctx: Sink.WriteContext
      ) =>
        inTransaction(
          client,
          Effect.gen(function* () {
            const locked = yield* Pool.query<{ token: string; seq: string }>(
              client,
              SinkSql.lockState(target, stateKey),
              "write"
            )
            const row = locked.rows[0]
            if (row !== undefined) {
              const storedToken = BigInt(row.token)
              if (storedToken > BigInt(lease.token)) return yield* fenced(row.token)
              if (storedToken === BigInt(lease.token) && BigInt(row.seq) >= BigInt(ctx.seq)) {
                // Already committed (the acknowledgement was lost): commit nothing, report success.
                yield* Pool.query(client, SinkSql.rollback, "write")
                return resultOf(batch)
              }
            }
            if (batch.written > 0) yield* copyRows(client, target, batch.payload)
            const checkpoint = ctx.checkpointTo === undefined ? null : JSON.stringify(ctx.checkpointTo)
            const saved = yield* Pool.query(
              client,
              SinkSql.saveState(target, stateKey, lease.token, ctx.seq, checkpoint),
              "write"
            )
            if (saved.rows.length === 0) return yield* fenced("a higher token")
            yield* Pool.query(client, SinkSql.commit, "write")
            return resultOf(batch)
          })
        )

      const write = (
        batch: { readonly records: ReadonlyArray<Record<string, unknown>> },
        ctx: Sink.WriteContext
      ): Effect.Effect<Sink.WriteResult, Sink.SinkError | StateStore.StateError> =>
        Effect.scoped(
          Effect.gen(function* () {
            const encoded = encodeBatch(PostgresCodec.makeEncoder(codecColumns), batch.records)
            const client = yield* Pool.client(p, "write")
            yield* applySessionSettings(client)
            if (transactional) return yield* writeTransactional(client, encoded, ctx)
            if (encoded.written > 0) yield* copyRows(client, target, encoded.payload)
            return resultOf(encoded)
          })
        )

      const loadCheckpoint = Effect.map(
        Pool.query<{ checkpoint: Checkpoint.Json | null }>(p, SinkSql.loadCheckpoint(target, stateKey), "read"),
        (result) => {
          const stored = result.rows[0]?.checkpoint
          return stored === undefined || stored === null ? Option.none<Checkpoint.Json>() : Option.some(stored)
        }
      )

      const writer: Sink.Writer<Record<string, unknown>> = transactional ? { write, loadCheckpoint } : { write }
      return writer
    })

  const check = () =>
    Effect.scoped(
      Effect.gen(function* () {
        const p = yield* Pool.pool(options.connection)
        yield* Pool.query(p, sql`select 1`, "check")
      })
    )

  return Sink.make<Record<string, unknown>>({
    name,
    capabilities: { transactional, idempotent: false, maxConcurrentWrites: 1 },
    disposition: Sink.append,
    open,
    check
  })
}

const resultOf = (batch: ReturnType<typeof encodeBatch>): Sink.WriteResult =>
  batch.rejected.length === 0 ? { written: batch.written } : { written: batch.written, rejected: batch.rejected }
