/**
 * A PostgreSQL sink: appends records with `COPY … FROM STDIN` (the codec's lossless COPY text encoding) and,
 * when `transactional` (the default), commits each batch's rows, its checkpoint and the run's (lease token,
 * batch seq) in one transaction against a state table in the target schema — exactly-once delivery: a
 * retried write that already committed is skipped, and a run whose lease was taken over is fenced.
 *
 * @since 0.1.0
 */
import { createHash } from "node:crypto"
import { Readable } from "node:stream"
import { pipeline } from "node:stream/promises"
import { type Batch, type Checkpoint, Config, ConnectorError, SchemaInference, Sink, StateStore } from "@data-mcp/core"
import { Effect, Option, Schema, type Scope } from "effect"
import type pg from "pg"
import { from as copyFromStdin } from "pg-copy-streams"
import * as CopyBinary from "./internal/copyBinary.ts"
import * as CopyBinaryEncode from "./internal/copyBinaryEncode.ts"
import * as CopyBuffers from "./internal/copyBuffers.ts"
import * as EncodedRows from "./internal/encodedRows.ts"
import * as Pool from "./internal/pool.ts"
import * as SinkArrays from "./internal/sinkArrays.ts"
import * as Evolution from "./internal/sinkEvolution.ts"
import * as SinkPlan from "./internal/sinkPlan.ts"
import * as SinkSql from "./internal/sinkSql.ts"
import * as Versions from "./internal/sinkVersions.ts"
import * as SourceBuffers from "./internal/sourceBuffers.ts"
import * as PostgresCodec from "./PostgresCodec.ts"
import * as PostgresConfig from "./PostgresConfig.ts"
import * as PostgresError from "./PostgresError.ts"
import { type Fragment, sql } from "./Sql.ts"

const Name = Schema.String.check(Schema.isNonEmpty()).check(Schema.isMaxLength(63))

/**
 * A declared column of the target table.
 *
 * @category schemas
 * @since 0.1.0
 */
export const Column = Schema.Struct({
  name: Name.annotate({ description: "The column name (the record key), 1 to 63 characters." }),
  type: Schema.Literals([...SinkSql.columnTypes, ...SinkSql.typeAliases]).annotate({
    description:
      "The column's PostgreSQL type: bigint, integer, numeric, double precision, text, boolean, timestamptz, timestamp, date, jsonb or bytea, or an array of one (text[], bigint[], …; multi-dimensional values fit the same type). The aliases int8, int4, float8 and bool (and their arrays) are accepted."
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
  columns: Schema.optionalKey(
    Schema.Array(Column).check(Schema.isMinLength(1)).annotate({
      description:
        "The target table's columns, in COPY order; at least one. Omitted: inferred from the first batch (and from the existing table)."
    })
  ),
  schemaEvolution: Schema.optionalKey(
    Schema.Literals(["evolve", "freeze", "discardValue", "discardRow"]).annotate({
      description:
        'A field the table has no column for, or a value that needs a wider column type: "evolve" (default: add the column / widen losslessly), "freeze" (fail with the diff), "discardValue" (drop the field) or "discardRow" (reject the record).'
    })
  ),
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
  ),
  disposition: Schema.optionalKey(
    Schema.Union([
      Schema.Literals(["append", "replace"]),
      Schema.Struct({
        merge: Schema.Struct({
          key: Schema.Array(Name)
            .check(Schema.isMinLength(1))
            .annotate({ description: "The declared columns that identify a row; at least one." }),
          strategy: Schema.optionalKey(
            Schema.Literals(["upsert", "delete-insert"]).annotate({
              description: 'How rows are applied: "upsert" (default, insert … on conflict) or "delete-insert".'
            })
          ),
          versionBy: Schema.optionalKey(
            Name.annotate({ description: "A declared column: the highest value wins; an older row never overwrites." })
          ),
          deleteWhen: Schema.optionalKey(
            Name.annotate({ description: "A declared boolean column: a record where it is true deletes its key." })
          ),
          softDelete: Schema.optionalKey(
            Name.annotate({
              description:
                "A declared timestamptz, timestamp, date or boolean column set to now() / true by a delete instead of removing the row (needs deleteWhen)."
            })
          )
        })
      })
    ]).annotate({
      description:
        'How records are applied: "append" (default), "replace" (a staging table swapped in when the run succeeds) or { merge: { key, strategy, versionBy, deleteWhen, softDelete } }.'
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
  return {
    schema,
    table,
    columns: (options.columns ?? []).map((c) => ({ name: c.name, type: SinkSql.canonicalType(c.type) }))
  }
}

const configError = (path: string, detail: string) =>
  new Config.ConfigError({ component: "postgres sink", path, detail })

type MergeInput = Extract<NonNullable<SinkOptions["disposition"]>, { readonly merge: unknown }>["merge"]

/** The disposition and, for merge, its spec, with every named field checked against the declared columns. */
const dispositionOf = (
  options: SinkOptions,
  columns: ReadonlyArray<SinkSql.LiveColumn>
): {
  readonly disposition: Sink.Disposition
  readonly merge?: SinkSql.MergeSpec | undefined
  readonly mergeInput?: MergeInput | undefined
} => {
  const d = options.disposition ?? "append"
  if (d === "append") return { disposition: Sink.append }
  if (d === "replace") return { disposition: Sink.replace }
  const m = d.merge
  const disposition = Sink.merge({
    key: m.key,
    strategy: m.strategy ?? "upsert",
    ...(m.versionBy === undefined ? {} : { versionBy: m.versionBy }),
    ...(m.deleteWhen === undefined ? {} : { deleteWhen: m.deleteWhen }),
    ...(m.softDelete === undefined ? {} : { softDelete: m.softDelete })
  })
  // Inferred columns: the spec is checked against the table's columns once they are known.
  if (options.columns === undefined) return { disposition, mergeInput: m }
  return { disposition, merge: mergeSpecOf(m, columns), mergeInput: m }
}

/** The merge spec, with every named field checked against the columns (throws a `ConfigError`). */
const mergeSpecOf = (
  m: MergeInput,
  columns: ReadonlyArray<{ readonly name: string; readonly type: SinkSql.LiveType }>
): SinkSql.MergeSpec => {
  const typeOf = new Map(columns.map((c) => [c.name, c.type]))
  const declared = (path: string, column: string) => {
    const type = typeOf.get(column)
    if (type === undefined)
      throw configError(
        `disposition.merge.${path}`,
        `"${column}" is not a declared column (declared: ${columns.map((c) => c.name).join(", ")})`
      )
    return type
  }
  if (typeOf.has(SinkSql.ORDINAL))
    throw configError("columns", `"${SinkSql.ORDINAL}" is reserved by the merge staging table`)
  const seen = new Set<string>()
  m.key.forEach((k, i) => {
    declared(`key.${i}`, k)
    if (seen.has(k)) throw configError(`disposition.merge.key.${i}`, `"${k}" is listed twice`)
    seen.add(k)
  })
  if (m.versionBy !== undefined) declared("versionBy", m.versionBy)
  if (m.deleteWhen !== undefined && declared("deleteWhen", m.deleteWhen) !== "boolean")
    throw configError("disposition.merge.deleteWhen", `"${m.deleteWhen}" must be a boolean column`)
  let softDeleteKind: "timestamp" | "boolean" | undefined
  if (m.softDelete !== undefined) {
    const type = declared("softDelete", m.softDelete)
    if (m.deleteWhen === undefined)
      throw configError("disposition.merge.softDelete", "softDelete needs deleteWhen (the field that marks a delete)")
    if (m.key.includes(m.softDelete))
      throw configError("disposition.merge.softDelete", `"${m.softDelete}" is a key column`)
    if (type === "boolean") softDeleteKind = "boolean"
    else if (type === "timestamptz" || type === "timestamp" || type === "date") softDeleteKind = "timestamp"
    else
      throw configError(
        "disposition.merge.softDelete",
        `"${m.softDelete}" must be a timestamptz, timestamp, date or boolean column`
      )
  }
  return {
    key: m.key,
    strategy: m.strategy ?? "upsert",
    versionBy: m.versionBy,
    deleteWhen: m.deleteWhen,
    softDelete: m.softDelete,
    softDeleteKind
  }
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

const copyRows = (client: pg.PoolClient, target: SinkSql.Target, payload: Payload, binary = false) =>
  Effect.tryPromise({
    try: () => {
      const command = SinkSql.copyFrom(target, binary)
      const chunks =
        typeof payload === "string" ? [Buffer.from(payload, "utf8")] : binary ? CopyBinary.frame(payload) : payload
      return pipeline(Readable.from(chunks), client.query(copyFromStdin(command.text)))
    },
    catch: (cause) => PostgresError.toConnectorError(cause, "write")
  })

/** COPY text to load (encoded by this sink, or chunks that came encoded from the source), or COPY binary rows. */
type Payload = string | ReadonlyArray<Uint8Array>

/** A batch's rows ready for COPY, and the records refused on the way. */
interface EncodedBatch {
  readonly payload: Payload
  /** The payload is COPY binary rows (without header and trailer), not COPY text. */
  readonly binary?: boolean
  readonly written: number
  readonly rejected: ReadonlyArray<Rejection>
}

/** The first array value of `record` in `columns` whose shape PostgreSQL would refuse, as a reason. */
const shapeReason = (record: Record<string, unknown>, columns: ReadonlyArray<string>): string | undefined => {
  for (const name of columns) {
    const why = SinkArrays.shapeError(record[name])
    if (why !== undefined) return `column "${name}": ${why}`
  }
  return undefined
}

/**
 * Encodes each record on its own, so a value the codec refuses rejects only its record. `indexes` maps each
 * record to its batch index (when some were discarded before); `rejected` holds those already rejected.
 * `shaped` names the array columns whose values must be rectangular (checked first: PostgreSQL would refuse
 * the whole COPY).
 */
const encodeBatch = (
  encoder: PostgresCodec.Encoder,
  records: ReadonlyArray<Record<string, unknown>>,
  indexes?: ReadonlyArray<number>,
  already: ReadonlyArray<{ readonly index: number; readonly reason: string }> = [],
  shaped: ReadonlyArray<string> = []
): EncodedBatch => {
  let payload = ""
  let written = 0
  const rejected: Array<{ readonly index: number; readonly reason: string }> = [...already]
  records.forEach((record, i) => {
    const index = indexes === undefined ? i : (indexes[i] ?? i)
    const shape = shaped.length === 0 ? undefined : shapeReason(record, shaped)
    if (shape !== undefined) {
      rejected.push({ index, reason: shape })
      return
    }
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
  if (already.length > 0 || (shaped.length > 0 && rejected.length > 0)) rejected.sort((a, b) => a.index - b.index)
  return { payload, written, rejected }
}

const inTransaction = <A, E>(client: pg.PoolClient, body: Effect.Effect<A, E>) =>
  Effect.gen(function* () {
    yield* Pool.query(client, SinkSql.begin, "write")
    const result = yield* body.pipe(Effect.onError(() => Effect.ignore(Pool.query(client, SinkSql.rollback, "write"))))
    return result
  })

const openTarget = (
  p: pg.Pool,
  target: SinkSql.Target,
  options: {
    create: boolean
    transactional: boolean
    merge: { readonly key: ReadonlyArray<string>; readonly strategy: "upsert" | "delete-insert" } | undefined
    staging: SinkSql.Target | undefined
    runId: string
  }
): Effect.Effect<ReadonlyArray<Sink.SchemaChange>, ConnectorError.ConnectorError> =>
  Effect.scoped(
    Effect.gen(function* () {
      if (!options.create && !options.transactional && options.staging === undefined) return []
      const client = yield* Pool.client(p, "open")
      return yield* inTransaction(
        client,
        Effect.gen(function* () {
          yield* Pool.query(client, SinkSql.ddlLock(target), "open")
          const changes: Array<Sink.SchemaChange> = []
          // Inferred columns (none declared): the table is created by the first write, from its batch.
          const declared = target.columns.length > 0
          if (options.create && declared) {
            const existed = yield* Pool.query<{ present: boolean }>(client, SinkSql.tableExists(target), "open")
            yield* Pool.query(client, SinkSql.createTable(target), "open")
            if (existed.rows[0]?.present !== true)
              changes.push(
                yield* Versions.record(
                  client,
                  {
                    target,
                    created: true,
                    diff: Evolution.createdDiff(target.columns),
                    columns: Versions.columnsOf(target.columns),
                    runId: options.runId,
                    seq: null
                  },
                  "open"
                )
              )
          }
          if (options.create && options.merge !== undefined && options.merge.strategy === "upsert") {
            const exists = yield* Pool.query<{ present: boolean }>(client, SinkSql.tableExists(target), "open")
            if (exists.rows[0]?.present === true)
              yield* Pool.query(client, SinkSql.createKeyIndex(target, options.merge.key), "open")
          }
          if (options.staging !== undefined) {
            // The staging table survives restarts: created once, shaped like the target when it exists.
            const exists = yield* Pool.query<{ present: boolean }>(client, SinkSql.tableExists(target), "open")
            if (exists.rows[0]?.present === true)
              yield* Pool.query(client, SinkSql.createStagingLike(options.staging, target), "open")
            else if (declared) yield* Pool.query(client, SinkSql.createTable(options.staging), "open")
          }
          if (options.transactional) {
            yield* Pool.query(client, SinkSql.createStateTable(target), "open")
            yield* Pool.query(client, SinkSql.addStateRunId(target), "open")
          }
          yield* Pool.query(client, SinkSql.commit, "open")
          return changes
        })
      )
    })
  )

/**
 * Makes a PostgreSQL sink (`append` by default, or `replace` / `merge` through `disposition`). Options are validated up front (a bad option throws
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
 * - `disposition: { merge: { key, strategy, versionBy, deleteWhen, softDelete } }` (idempotent): each write,
 *   in the same transaction as the state row, copies the batch into a temp table (`on commit drop`), keeps one
 *   row per key (the highest `versionBy`, ties to the last in the batch) and applies it by `insert … on
 *   conflict (key) do update … where` the target row is not newer (`upsert`, a unique index on the key is
 *   created with the table) or by deleting the not-newer target rows of those keys and inserting
 *   (`delete-insert`). A record whose `deleteWhen` is true deletes its key (unless the target row is newer),
 *   or with `softDelete` sets that column to now() (a boolean column to true) and keeps the row.
 * - `disposition: "replace"`: writes go to `<table>__dm_staging_<hash of the state key>`, which survives
 *   restarts (created at open; the first batch of a run from the beginning truncates it); `finish` swaps it in
 *   with drop + rename in one transaction under an advisory lock and clears the checkpoint, so the next run
 *   is a full refresh again. A failed run leaves the target as it was. Transactional, a `finish` of a run whose
 *   lease was taken over (a higher token wrote the state row) fails with `StateError` `Fenced` and swaps nothing.
 * - `columns` omitted: the columns are inferred from the first batch (`SchemaInference`: integer → bigint,
 *   number → double precision, decimal → numeric, string → text, boolean, timestamp → timestamptz or timestamp by
 *   the first value's `zoned`, date, binary → bytea, json/object → jsonb; all-null fields wait) and the
 *   table is created by that write, under the advisory lock, in its transaction. Arrays whose elements (at any
 *   depth, rectangular) share one scalar type become an array of that type (`text[]`, `bigint[]`, …); arrays of
 *   mixed, nested-object or unknown elements (only empty arrays or nulls seen), ragged arrays and arrays of more
 *   than 6 dimensions become jsonb.
 * - Array columns (`text[]`, `bigint[]`, `jsonb[]`, …, declared or inferred) are written through COPY from JS
 *   arrays; nested JS arrays are dimensions (not for `jsonb[]`, whose inner arrays are JSON values). A value
 *   PostgreSQL would refuse (a ragged multi-dimensional array, more than 6 dimensions) rejects its record.
 * - Schema evolution (`schemaEvolution`, default `"evolve"`), per write against the table's columns (read from
 *   information_schema at open, refreshed after DDL): a field with no column is added (`alter table … add
 *   column`), a value the column cannot hold is widened losslessly (int2→int4→int8→numeric, real→double
 *   precision, varchar(n)→text, date→timestamp(tz), and the same for array elements: int4[]→int8[]) in the write's
 *   transaction under the advisory lock; any other
 *   widening, and every change under `"freeze"`, fails (not retryable) with the diff (`+ added: email (text)`).
 *   `"discardValue"` drops such fields, `"discardRow"` rejects their records naming the field. A value no
 *   widening helps (text in a bigint column) is rejected by the codec record by record, as before. Rows are
 *   copied into the declared columns and those the batch holds, so other columns keep their defaults.
 * - Schema changes the sink makes (creating the table — at open for declared columns, with the first batch
 *   for inferred ones — adding or widening columns) are versioned per table in `data_mcp_schema (table_name,
 *   version, diff, columns, run_id, seq, at)` in the target schema, in the transaction of the DDL, and returned
 *   in `WriteResult.schemaChanges` (a table created at open: with the first write), so the run shows a
 *   `SchemaChanged` event and a summary line for each. A table the sink did not create counts as version 1, so
 *   its first change is version 2. A replayed write that was already committed reports the changes it made.
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
  const mode: Evolution.Mode = options.schemaEvolution ?? "evolve"
  const target = targetOf(options)
  const declaredNames = new Set(target.columns.map((c) => c.name))
  const { disposition, merge: declaredMerge, mergeInput } = dispositionOf(options, target.columns)
  const replace = disposition.type === "replace"
  const mergeKey =
    mergeInput === undefined ? undefined : { key: mergeInput.key, strategy: mergeInput.strategy ?? "upsert" }

  const open = (
    context: Sink.OpenContext
  ): Effect.Effect<Sink.Writer<Record<string, unknown>>, Sink.SinkError | StateStore.StateError, Scope.Scope> =>
    Effect.gen(function* () {
      const p = yield* Pool.pool(options.connection)
      const { stateKey, lease } = context
      // COPY text encoded ahead of the writes, in buffers reused from batch to batch.
      const buffers = CopyBuffers.make()
      const staging = replace
        ? SinkSql.stagingTarget(target, createHash("sha256").update(stateKey).digest("hex").slice(0, 10))
        : undefined
      // A table created here is reported with the first write (the runner learns of changes from write results).
      let pendingChanges = yield* openTarget(p, target, {
        create,
        transactional,
        merge: mergeKey,
        staging,
        runId: context.runId
      })
      // The table the rows go to (and the DDL of evolution): the staging table of a replace, else the target.
      const writeTable = staging ?? target
      const tableLabel = `${writeTable.schema}.${writeTable.table}`

      /** The write table's columns as the database has them; a missing table falls back to the declared ones. */
      const readLive = (runner: pg.Pool | pg.PoolClient) =>
        Effect.map(
          Pool.query<{ name: string; data_type: string; udt: string | null; len: number | null }>(
            runner,
            SinkSql.readColumns(writeTable),
            "open"
          ),
          (result): Live =>
            result.rows.length === 0
              ? { exists: false, columns: target.columns }
              : {
                  exists: true,
                  columns: result.rows.map((r) => ({
                    name: r.name,
                    type: SinkSql.liveTypeOf(r.data_type, r.udt),
                    maxLength: r.len ?? undefined
                  }))
                }
        )
      // Refreshed after DDL (only once its transaction committed).
      let live = yield* readLive(p)
      // Whether a write of this run reached the staging table (a replace with none publishes an empty table).
      let wrote = false

      const evolutionError = (plan: Evolution.Plan, why: string) =>
        new ConnectorError.ConnectorError({
          connector: name,
          operation: "write",
          reason: new ConnectorError.Unknown({
            detail: `the batch does not fit ${tableLabel} and ${why}:\n${SchemaInference.formatDiff(Evolution.diffOf(plan))}`
          })
        })

      /** What a batch needs of the live columns: DDL to run first, the records to write, those rejected. */
      const prepare = (
        records: ReadonlyArray<Record<string, unknown>>,
        state: Live
      ): Effect.Effect<Prepared, ConnectorError.ConnectorError> =>
        Effect.suspend(() => {
          const plan = Evolution.scan(records, state.exists ? state.columns : [])
          const base: Prepared = { plan, ddl: [], records, indexes: undefined, rejected: [] }
          if (!state.exists) {
            // Declared columns and no table (create: false): written as declared, as before.
            if (target.columns.length > 0) return Effect.succeed({ ...base, plan: { ...plan, added: [], widened: [] } })
            if (plan.added.length === 0) return Effect.succeed(base)
            if (!create)
              return Effect.fail(
                new ConnectorError.ConnectorError({
                  connector: name,
                  operation: "write",
                  reason: new ConnectorError.NotFound({
                    detail: `${tableLabel} does not exist and create is false; create it or set create: true`
                  })
                })
              )
            return Effect.succeed({ ...base, ddl: [SinkSql.createTable({ ...writeTable, columns: plan.added })] })
          }
          if (Evolution.isEmpty(plan)) return Effect.succeed(base)
          switch (mode) {
            case "freeze":
              return Effect.fail(evolutionError(plan, 'schemaEvolution is "freeze"'))
            case "evolve": {
              if (plan.widened.some((w) => !w.lossless))
                return Effect.fail(evolutionError(plan, "a column would need a widening that is not lossless"))
              const tooLong = plan.added.find((c) => Buffer.byteLength(c.name, "utf8") > 63)
              if (tooLong !== undefined)
                return Effect.fail(
                  evolutionError(plan, `field "${tooLong.name.slice(0, 63)}…" is longer than 63 bytes (a column name)`)
                )
              return Effect.succeed({
                ...base,
                ddl: [
                  ...plan.added.map((c) => SinkSql.addColumn(writeTable, c.name, c.type)),
                  ...plan.widened.map((w) => SinkSql.alterColumnType(writeTable, w.name, w.to as SinkSql.ColumnType))
                ]
              })
            }
            default: {
              const kept = Evolution.discard(records, state.columns, plan, mode, tableLabel)
              return Effect.succeed({ ...base, records: kept.records, indexes: kept.indexes, rejected: kept.rejected })
            }
          }
        })

      /** The columns a batch is copied into: the declared ones and those a record holds. */
      const columnsFor = (state: Live, prepared: Prepared) =>
        state.columns.filter((c) => declaredNames.has(c.name) || prepared.plan.present.has(c.name))

      /**
       * The batch's rows for COPY: in binary when every column has a binary form and every value an exact one
       * (PostgreSQL reads it for about half the CPU of text), else as COPY text, which refuses records one by one.
       * `copy` takes binary rows out of the encoder's scratch memory.
       */
      const encode = (
        state: Live,
        prepared: Prepared,
        copy: (bytes: Uint8Array) => Uint8Array = (bytes) => Buffer.from(bytes)
      ): { readonly columns: ReadonlyArray<SinkSql.LiveColumn>; readonly batch: EncodedBatch } => {
        const columns = columnsFor(state, prepared)
        const typed = columns.map((c) => ({ name: c.name, oid: SinkSql.liveOid(c) }))
        if (prepared.records.length > 0 && CopyBinaryEncode.supports(typed.map((c) => c.oid))) {
          const rows = CopyBinaryEncode.encodeRows(typed, prepared.records)
          if (rows !== undefined)
            return {
              columns,
              batch: {
                payload: [copy(rows)],
                binary: true,
                written: prepared.records.length,
                // In batch order, as the text encoder leaves them.
                rejected: [...prepared.rejected].sort((a, b) => a.index - b.index)
              }
            }
        }
        const encoder = PostgresCodec.makeEncoder(typed)
        const shaped = columns.filter((c) => SinkArrays.hasDimensions(c.type)).map((c) => c.name)
        return { columns, batch: encodeBatch(encoder, prepared.records, prepared.indexes, prepared.rejected, shaped) }
      }

      const mergeSpecFor = (columns: ReadonlyArray<SinkSql.LiveColumn>) =>
        Effect.try({
          try: () => declaredMerge ?? (mergeInput === undefined ? undefined : mergeSpecOf(mergeInput, columns)),
          catch: (e) =>
            new ConnectorError.ConnectorError({
              connector: name,
              operation: "write",
              reason: new ConnectorError.Unknown({
                detail: e instanceof Config.ConfigError ? `${e.path}: ${e.detail}` : String(e)
              })
            })
        })

      /**
       * Runs the prepared DDL inside the caller's transaction, under the advisory DDL lock, against the columns as
       * they are now (another writer may have changed them), and returns the new live columns and encoded batch.
       */
      const evolveIn = (
        client: pg.PoolClient,
        records: ReadonlyArray<Record<string, unknown>>,
        ctx: Sink.WriteContext
      ) =>
        Effect.gen(function* () {
          yield* Pool.query(client, SinkSql.ddlLock(writeTable), "write")
          const now = yield* readLive(client)
          const prepared = yield* prepare(records, now)
          for (const statement of prepared.ddl) yield* Pool.query(client, statement, "write")
          const next = prepared.ddl.length === 0 ? now : yield* readLive(client)
          const changes: Array<Sink.SchemaChange> = []
          if (prepared.ddl.length > 0)
            changes.push(
              yield* Versions.record(
                client,
                {
                  target,
                  created: !now.exists,
                  diff: Evolution.diffOf(prepared.plan),
                  columns: Versions.columnsOf(next.columns),
                  runId: context.runId,
                  seq: ctx.seq
                },
                "write"
              )
            )
          if (!now.exists && next.exists && mergeKey !== undefined && mergeKey.strategy === "upsert" && !replace) {
            // A table created from the batch gets the merge key's unique index (its columns checked first).
            yield* mergeSpecFor(next.columns)
            yield* Pool.query(client, SinkSql.createKeyIndex(target, mergeKey.key), "write")
          }
          return { next, prepared, changes, ...encode(next, prepared) }
        })

      /** Applies the encoded rows inside the caller's transaction, as the disposition says. */
      const apply = (
        client: pg.PoolClient,
        batch: EncodedBatch,
        columns: ReadonlyArray<SinkSql.LiveColumn>,
        state: Live,
        ctx: Sink.WriteContext
      ) =>
        Effect.gen(function* () {
          const into = { ...target, columns }
          if (staging !== undefined) {
            // The first batch of a run from the beginning starts the staging table over.
            if (ctx.seq === 0 && ctx.checkpointFrom === null && state.exists)
              yield* Pool.query(client, SinkSql.truncate(staging), "write")
            if (batch.written > 0 && columns.length > 0)
              yield* copyRows(client, { ...staging, columns }, batch.payload, batch.binary)
            return
          }
          const merge = yield* mergeSpecFor(state.columns)
          if (merge === undefined) {
            if (batch.written > 0 && columns.length > 0) yield* copyRows(client, into, batch.payload, batch.binary)
            return
          }
          if (batch.written === 0 || columns.length === 0) return
          yield* Pool.query(client, SinkSql.createMergeStage(into), "write")
          yield* copyRows(client, SinkSql.mergeStage(into), batch.payload, batch.binary)
          if (merge.strategy === "upsert") {
            if (merge.deleteWhen !== undefined && merge.softDelete === undefined)
              yield* Pool.query(client, SinkSql.mergeHardDelete(into, merge), "write")
            yield* Pool.query(client, SinkSql.mergeUpsert(into, merge), "write")
          } else {
            yield* Pool.query(client, SinkSql.mergeDeleteMatching(into, merge), "write")
            yield* Pool.query(client, SinkSql.mergeInsertMissing(into, merge), "write")
          }
        })

      /**
       * Evolves the table if the batch needs it, then applies it; returns the result, the live columns after and
       * the schema changes made.
       */
      const evolveAndApply = (
        client: pg.PoolClient,
        records: ReadonlyArray<Record<string, unknown>>,
        work: Work,
        ctx: Sink.WriteContext
      ) =>
        Effect.gen(function* () {
          if (work.prepared.ddl.length === 0) {
            yield* apply(client, work.batch, work.columns, work.state, ctx)
            return { batch: work.batch, next: work.state, changes: NO_CHANGES }
          }
          const evolved = yield* evolveIn(client, records, ctx)
          yield* apply(client, evolved.batch, evolved.columns, evolved.next, ctx)
          return { batch: evolved.batch, next: evolved.next, changes: evolved.changes }
        })

      const fenced = (stored: string, outcome = "stop without writing") =>
        new StateStore.StateError({
          reason: "Fenced",
          key: stateKey,
          detail: `run ${context.runId} holds token ${lease.token}, but token ${stored} has written to ${target.schema}.${target.table}; ${outcome}`
        })

      const writeTransactional = (
        client: pg.PoolClient,
        records: ReadonlyArray<Record<string, unknown>>,
        work: Work,
        ctx: Sink.WriteContext
      ) =>
        inTransaction(
          client,
          Effect.gen(function* () {
            const locked = yield* Pool.query<{ token: string; seq: string; run_id: string | null }>(
              client,
              SinkSql.lockState(target, stateKey),
              "write"
            )
            const row = locked.rows[0]
            if (row !== undefined) {
              const storedToken = BigInt(row.token)
              if (storedToken > BigInt(lease.token)) return yield* fenced(row.token)
              // A replay is this very run's write again: the same token alone is not enough, since a state
              // store that forgot its leases (in memory, restarted) hands out token 1 again.
              if (
                storedToken === BigInt(lease.token) &&
                row.run_id === context.runId &&
                BigInt(row.seq) >= BigInt(ctx.seq)
              ) {
                // Already committed (the acknowledgement was lost): commit nothing, report success, and the
                // schema changes that commit made.
                yield* Pool.query(client, SinkSql.rollback, "write")
                const changes = yield* Versions.recorded(client, target, context.runId, ctx.seq)
                return { batch: work.batch, next: undefined, changes }
              }
            }
            const applied = yield* evolveAndApply(client, records, work, ctx)
            const checkpoint = ctx.checkpointTo === undefined ? null : JSON.stringify(ctx.checkpointTo)
            const saved = yield* Pool.query(
              client,
              SinkSql.saveState(target, stateKey, lease.token, ctx.seq, checkpoint, context.runId),
              "write"
            )
            if (saved.rows.length === 0) return yield* fenced("a higher token")
            yield* Pool.query(client, SinkSql.commit, "write")
            return applied
          })
        )

      /** A successful write's schema changes, after those of opening the sink (reported once). */
      const reported = (changes: ReadonlyArray<Sink.SchemaChange>) => {
        if (pendingChanges.length === 0) return changes
        const all = [...pendingChanges, ...changes]
        pendingChanges = NO_CHANGES
        return all
      }

      /** Encoded rows the live table takes as they are (same columns and types): loaded without decoding. */
      const directWork = (encoded: Batch.Encoded): Work | undefined => {
        if (!live.exists) return undefined
        const columns = EncodedRows.directColumns(encoded, live.columns, SinkSql.liveOid)
        if (columns === undefined) return undefined
        const present = new Set(columns.map((c) => c.name))
        return {
          state: live,
          prepared: {
            plan: { added: [], widened: [], present },
            ddl: [],
            records: [],
            indexes: undefined,
            rejected: []
          },
          columns,
          batch: {
            payload: encoded.chunks,
            binary: encoded.format === EncodedRows.COPY_BINARY,
            written: encoded.rows,
            rejected: []
          }
        }
      }

      const write = (
        batch: Batch.Batch<Record<string, unknown>>,
        ctx: Sink.WriteContext
      ): Effect.Effect<Sink.WriteResult, Sink.SinkError | StateStore.StateError> =>
        Effect.suspend(() => {
          const encoded = batch.encoded
          if (encoded === undefined) return writeRecords(batch.records, ctx, undefined)
          const direct = directWork(encoded)
          if (direct !== undefined) return writeRecords([], ctx, direct)
          // Not loadable as is (other columns or types, a table still to create): decoded, then as records. The
          // runner has no records to point into, so refused ones travel with their record.
          return Effect.flatMap(
            Effect.try({
              try: () => EncodedRows.decode(encoded),
              catch: (cause) =>
                ConnectorError.make(
                  name,
                  "write",
                  new ConnectorError.InvalidRecord({
                    detail: cause instanceof PostgresCodec.CodecError ? cause.message : "undecodable COPY rows"
                  })
                )
            }),
            (records) =>
              Effect.map(writeRecords(records, ctx, undefined), (result) =>
                result.rejected === undefined
                  ? result
                  : { ...result, rejected: result.rejected.map((r) => ({ ...r, record: records[r.index] })) }
              )
          )
        })

      const writeRecords = (
        records: ReadonlyArray<Record<string, unknown>>,
        ctx: Sink.WriteContext,
        direct: Work | undefined
      ): Effect.Effect<Sink.WriteResult, Sink.SinkError | StateStore.StateError> =>
        Effect.scoped(
          Effect.gen(function* () {
            if (direct !== undefined) {
              // Loaded as they came: no evolution (the columns match), nothing to refuse one by one.
              const client = yield* Pool.client(p, "write")
              yield* applySessionSettings(client)
              // No DDL here, but a replayed write reports what its commit changed, and the first write what
              // opening the sink did.
              let changes = NO_CHANGES
              if (transactional) {
                changes = (yield* writeTransactional(client, records, direct, ctx)).changes
              } else if (mergeInput === undefined && staging === undefined) {
                if (direct.batch.written > 0)
                  yield* copyRows(
                    client,
                    { ...target, columns: direct.columns },
                    direct.batch.payload,
                    direct.batch.binary
                  )
              } else {
                yield* inTransaction(
                  client,
                  Effect.gen(function* () {
                    yield* evolveAndApply(client, records, direct, ctx)
                    yield* Pool.query(client, SinkSql.commit, "write")
                  })
                )
              }
              wrote = true
              // Sent and committed: buffers this sink encoded ahead can take the next batches.
              if (typeof direct.batch.payload !== "string") {
                buffers.release(direct.batch.payload)
                SourceBuffers.release(direct.batch.payload)
              }
              return resultOf(direct.batch, reported(changes))
            }
            let prepared = yield* Effect.result(prepare(records, live))
            if (prepared._tag === "Failure" || prepared.success.ddl.length > 0) {
              // The cached columns may be stale (another writer evolved the table): look again before deciding.
              live = yield* readLive(p)
              prepared = yield* Effect.result(prepare(records, live))
            }
            if (prepared._tag === "Failure") return yield* prepared.failure
            const work: Work = { state: live, prepared: prepared.success, ...encode(live, prepared.success) }
            const client = yield* Pool.client(p, "write")
            yield* applySessionSettings(client)
            if (transactional) {
              const result = yield* writeTransactional(client, records, work, ctx)
              if (result.next !== undefined) live = result.next
              wrote = true
              return resultOf(result.batch, reported(result.changes))
            }
            if (mergeInput === undefined && staging === undefined && work.prepared.ddl.length === 0) {
              if (work.batch.written > 0 && work.columns.length > 0)
                yield* copyRows(client, { ...target, columns: work.columns }, work.batch.payload, work.batch.binary)
              wrote = true
              return resultOf(work.batch, reported(NO_CHANGES))
            }
            const result = yield* inTransaction(
              client,
              Effect.gen(function* () {
                const applied = yield* evolveAndApply(client, records, work, ctx)
                yield* Pool.query(client, SinkSql.commit, "write")
                return applied
              })
            )
            live = result.next
            wrote = true
            return resultOf(result.batch, reported(result.changes))
          })
        )

      // replace: swap the staging table in, in one transaction under an advisory lock, and forget the checkpoint.
      const finish = (stagingTable: SinkSql.Target): Effect.Effect<void, Sink.SinkError | StateStore.StateError> =>
        Effect.scoped(
          Effect.gen(function* () {
            const client = yield* Pool.client(p, "finish")
            yield* inTransaction(
              client,
              Effect.gen(function* () {
                yield* Pool.query(client, SinkSql.swapLock(target), "finish")
                if (transactional) {
                  const locked = yield* Pool.query<{ token: string }>(
                    client,
                    SinkSql.lockState(target, stateKey),
                    "finish"
                  )
                  const row = locked.rows[0]
                  if (row !== undefined && BigInt(row.token) > BigInt(lease.token))
                    return yield* fenced(row.token, "the staging table was not swapped in")
                }
                const present = yield* Pool.query<{ present: boolean }>(
                  client,
                  SinkSql.tableExists(stagingTable),
                  "finish"
                )
                if (present.rows[0]?.present !== true) {
                  // Already swapped in by this finish (its acknowledgement was lost).
                  yield* Pool.query(client, SinkSql.rollback, "finish")
                  return
                }
                if (!wrote) yield* Pool.query(client, SinkSql.truncate(stagingTable), "finish")
                yield* Pool.query(client, SinkSql.dropTable(target), "finish")
                yield* Pool.query(client, SinkSql.renameTo(stagingTable, target), "finish")
                if (transactional) yield* Pool.query(client, SinkSql.clearCheckpoint(target, stateKey), "finish")
                yield* Pool.query(client, SinkSql.commit, "finish")
              })
            )
          })
        )

      const loadCheckpoint = Effect.map(
        Pool.query<{ checkpoint: Checkpoint.Json | null }>(p, SinkSql.loadCheckpoint(target, stateKey), "read"),
        (result) => {
          const stored = result.rows[0]?.checkpoint
          return stored === undefined || stored === null ? Option.none<Checkpoint.Json>() : Option.some(stored)
        }
      )

      // Ahead of `write` (see `Sink.Writer.encode`): records that fit the table as it is become COPY text at once;
      // those that need DDL or a discard first wait for `write` as records.
      const encodeAhead = (records: ReadonlyArray<Record<string, unknown>>) => {
        if (!live.exists) return undefined
        const plan = Evolution.scan(records, live.columns)
        if (!Evolution.isEmpty(plan)) return undefined
        const { columns, batch } = encode(
          live,
          { plan, ddl: [], records, indexes: undefined, rejected: [] },
          buffers.copy
        )
        if (columns.length === 0) return undefined
        const encoded: Batch.Encoded = {
          format: batch.binary === true ? EncodedRows.COPY_BINARY : EncodedRows.COPY_TEXT,
          columns: columns.map((c) => ({ name: c.name, type: String(SinkSql.liveOid(c)) })),
          rows: batch.written,
          chunks: typeof batch.payload === "string" ? [buffers.encode(batch.payload)] : batch.payload
        }
        return { encoded, rejected: batch.rejected }
      }

      const writer: Sink.Writer<Record<string, unknown>> = {
        write,
        encode: encodeAhead,
        ...(transactional ? { loadCheckpoint } : {}),
        ...(staging === undefined ? {} : { finish: finish(staging) })
      }
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
    capabilities: {
      transactional,
      idempotent: mergeInput !== undefined,
      maxConcurrentWrites: 1,
      encodings: [EncodedRows.COPY_BINARY, EncodedRows.COPY_TEXT],
      // Each write is a transaction (and, transactional, a fenced checkpoint): COPY pays off in large batches.
      batch: { rows: 50_000, bytes: 16 * 1024 * 1024 }
    },
    disposition,
    open,
    check,
    plan: (sample) => SinkPlan.plan({ connection: options.connection, target, create, mode }, sample)
  })
}

/** The table's columns as last read. */
interface Live {
  readonly exists: boolean
  readonly columns: ReadonlyArray<SinkSql.LiveColumn>
}

/** A batch checked against the live columns: DDL to run first (evolve), the records kept and those rejected. */
interface Prepared {
  readonly plan: Evolution.Plan
  readonly ddl: ReadonlyArray<Fragment>
  readonly records: ReadonlyArray<Record<string, unknown>>
  readonly indexes: ReadonlyArray<number> | undefined
  readonly rejected: ReadonlyArray<{ readonly index: number; readonly reason: string }>
}

type Rejection = { readonly index: number; readonly reason: string; readonly record?: unknown }

interface Work {
  readonly state: Live
  readonly prepared: Prepared
  readonly columns: ReadonlyArray<SinkSql.LiveColumn>
  readonly batch: EncodedBatch
}

const NO_CHANGES: ReadonlyArray<Sink.SchemaChange> = []

const resultOf = (batch: EncodedBatch, changes: ReadonlyArray<Sink.SchemaChange>): Sink.WriteResult => ({
  written: batch.written,
  ...(batch.rejected.length === 0 ? {} : { rejected: batch.rejected }),
  ...(changes.length === 0 ? {} : { schemaChanges: changes })
})

/**
 * The `create table` statement this sink would run for records of `schema` (an object type, e.g. from
 * `SchemaInference.inferSchema`): the same column types as a first write infers (integer → bigint, decimal →
 * numeric, timestamp → timestamptz, object → jsonb, …). A field seen only as null becomes `text`.
 *
 * **When to use**: to review or hand-apply the table a pipeline will create (`data-mcp infer-schema --ddl postgres`).
 *
 * **Example** (The DDL of an inferred schema)
 *
 * ```ts
 * import { PostgresSink } from "@data-mcp/connector-postgres"
 * import { SchemaInference } from "@data-mcp/core"
 *
 * const schema = SchemaInference.inferSchema([{ id: 1, name: "Ada" }])
 * PostgresSink.ddl({ table: "people" }, schema)
 * // create table if not exists "public"."people" ("id" bigint, "name" text)
 * ```
 *
 * @category utils
 * @since 0.1.0
 */
export const ddl = (
  target: { readonly schema?: string | undefined; readonly table: string },
  schema: SchemaInference.Type
): string => {
  const fields = schema.type === "object" ? Object.entries(schema.fields) : []
  const columns = fields.map(([name, type]) => ({ name, type: Evolution.columnTypeOf(type, []) ?? ("text" as const) }))
  return SinkSql.createTable({ schema: target.schema ?? "public", table: target.table, columns }).text
}
