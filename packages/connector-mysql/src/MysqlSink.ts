/**
 * A MySQL / MariaDB sink: appends records with `LOAD DATA LOCAL INFILE` streamed from memory (where the server
 * allows `local_infile`) or multi-row `INSERT`s sized to the server's `max_allowed_packet` (every value bound)
 * and, when `transactional` (the default), commits each batch's rows, its checkpoint and the run's (lease token,
 * batch seq) in one InnoDB transaction against a state table in the target database — exactly-once delivery: a
 * retried write that already committed is skipped, and a run whose lease was taken over is fenced.
 *
 * MySQL commits implicitly around DDL, so DDL (creating the table, adding columns, the swap of a replace) runs
 * outside the data transaction, under a named lock (`GET_LOCK`), before the rows are written; it is idempotent
 * (`if not exists`, columns re-read under the lock), so a retry after a failure between the DDL and the data
 * transaction repeats nothing.
 *
 * @since 0.1.0
 */
import { createHash } from "node:crypto"
import type { Readable } from "node:stream"
import {
  type Batch,
  type Checkpoint,
  Config,
  ConnectorError,
  type SchemaInference,
  Sink,
  StateStore
} from "@data-mcp/core"
import { Effect, Option, Schema, type Scope } from "effect"
import * as LoadData from "./internal/loadData.ts"
import * as Pool from "./internal/pool.ts"
import * as SinkPlan from "./internal/sinkPlan.ts"
import * as Rows from "./internal/sinkRows.ts"
import * as SinkSql from "./internal/sinkSql.ts"
import type * as MysqlCodec from "./MysqlCodec.ts"
import * as MysqlConfig from "./MysqlConfig.ts"
import { sql } from "./Sql.ts"

const Name = Schema.String.check(Schema.isNonEmpty()).check(Schema.isMaxLength(64))

/**
 * A declared column of the target table.
 *
 * @category schemas
 * @since 0.1.0
 */
export const Column = Schema.Struct({
  name: Name.annotate({ description: "The column name (the record key), 1 to 64 characters." }),
  type: Schema.Literals(SinkSql.columnTypes).annotate({
    description:
      "The column's type: bigint, int, decimal (DECIMAL(65,30)), double, varchar (VARCHAR(255)), text (LONGTEXT), boolean, timestamp (TIMESTAMP(6), UTC instants 1970–2038), datetime (DATETIME(6), wall clock), date, json or blob (LONGBLOB)."
  })
})

/**
 * The options of `MysqlSink.make`.
 *
 * @category schemas
 * @since 0.1.0
 */
export const SinkOptions = Schema.Struct({
  connection: MysqlConfig.MysqlConfig.annotate({
    description: "Where the server is: the MysqlConfig connection options."
  }),
  table: Schema.Union([Name, Schema.Tuple([Name, Name])]).annotate({
    description: "The target table: a name in the connection's database, or [database, table]."
  }),
  columns: Schema.optionalKey(
    Schema.Array(Column).check(Schema.isMinLength(1)).annotate({
      description:
        "The target table's columns; at least one. Omitted: inferred from the first batch (and from the existing table)."
    })
  ),
  schemaEvolution: Schema.optionalKey(
    Schema.Literals(["evolve", "freeze", "discardValue", "discardRow"]).annotate({
      description:
        'A field the table has no column for: "evolve" (default: add the column), "freeze" (fail with the diff), "discardValue" (drop the field) or "discardRow" (reject the record).'
    })
  ),
  create: Schema.optionalKey(
    Schema.Boolean.annotate({ description: "Create the table on first run if it does not exist (default true)." })
  ),
  transactional: Schema.optionalKey(
    Schema.Boolean.annotate({
      description:
        "Commit each batch with its checkpoint and the run's lease token in one InnoDB transaction, fenced: exactly-once (default true)."
    })
  ),
  name: Schema.optionalKey(
    Schema.String.check(Schema.isNonEmpty()).annotate({
      description: 'The sink name in errors, logs and metrics (default "mysql").'
    })
  ),
  load: Schema.optionalKey(
    Schema.Literals(["auto", "infile", "insert"]).annotate({
      description:
        'How append and replace write rows: "auto" (default: LOAD DATA LOCAL INFILE streamed from memory where the server allows local_infile, else multi-row INSERTs), "infile" (LOAD DATA only; fails if the server refuses it) or "insert" (multi-row INSERTs sized to max_allowed_packet). A merge always uses INSERT … ON DUPLICATE KEY UPDATE.'
    })
  ),
  disposition: Schema.optionalKey(
    Schema.Union([
      Schema.Literals(["append", "replace"]),
      Schema.Struct({
        merge: Schema.Struct({
          key: Schema.Array(Name)
            .check(Schema.isMinLength(1))
            .annotate({ description: "The columns that identify a row (the table's primary key); at least one." }),
          versionBy: Schema.optionalKey(
            Name.annotate({
              description: "A column: the highest value wins; an older row never overwrites a newer one."
            })
          ),
          deleteWhen: Schema.optionalKey(
            Name.annotate({
              description: "A boolean field: a record where it is true deletes its key (it is not stored)."
            })
          )
        })
      })
    ]).annotate({
      description:
        'How records are applied: "append" (default), "replace" (a staging table swapped in by RENAME TABLE when the run succeeds) or { merge: { key, versionBy, deleteWhen } } (INSERT … ON DUPLICATE KEY UPDATE).'
    })
  )
})

/**
 * The decoded options of `MysqlSink.make`.
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
  Config.decode("mysql sink", SinkOptions, input)

/** An encoded batch and the live columns it names. */
interface EncodedWork {
  readonly columns: ReadonlyArray<MysqlCodec.TargetColumn>
  readonly encoded: Batch.Encoded
}

/** The table's columns as last read. */
interface Live {
  readonly exists: boolean
  readonly columns: ReadonlyArray<MysqlCodec.TargetColumn>
}

/** Half of max_allowed_packet per INSERT: escaping and the statement's own text stay well inside it. */
const PACKET_SHARE = 0.5

/** The largest packet of a LOAD DATA stream (and at most the INSERT budget). */
const INFILE_PIECE = 1024 * 1024

/**
 * Makes a MySQL / MariaDB sink (`append` by default, or `replace` / `merge` through `disposition`). Options are
 * validated up front (a bad option throws a `ConfigError` naming the field); nothing connects until the runner
 * opens the sink.
 *
 * **Details**
 *
 * - `open` opens a pool for the run and, under `GET_LOCK`, creates the table from the declared columns (`create`,
 *   default true; a merge's key becomes the primary key) and the state table `data_mcp_state (state_key, target,
 *   token, seq, checkpoint)` in the target database.
 * - `encode` (ahead of `write`, see `Sink.Writer.encode`) and `write` encode each record on its own with
 *   `MysqlCodec` (a value that does not fit its column rejects only its record, naming the column, never the
 *   value). `append` and `replace` load the rows with `LOAD DATA LOCAL INFILE` (`load: "auto"` where the server
 *   allows it, or `"infile"`) behind a savepoint — a load with warnings or a short count is rolled back and the
 *   rows inserted instead — or insert them in statements under half of `max_allowed_packet` (`load: "insert"`).
 *   Transactional (the default), in one transaction: `SELECT … FOR UPDATE` of the state row, `StateError`
 *   `Fenced` if a higher lease token has written, skip if this token already committed this `seq`, else write the
 *   rows and store (token, seq, checkpoint), then commit.
 * - `merge`: the batch keeps one row per key (the highest `versionBy`, ties to the last) and is applied by `INSERT
 *   … ON DUPLICATE KEY UPDATE`, a row updating only if its version is not older; `deleteWhen` deletes keys.
 * - `replace`: writes go to `<table>__dm_stg_<hash>` (truncated by the first batch of a run); `finish` swaps it in
 *   with one atomic `RENAME TABLE`, drops the old table and forgets the checkpoint.
 * - Columns omitted: inferred from the batch (integer → BIGINT, number → DOUBLE, decimal → DECIMAL(65,30),
 *   string → LONGTEXT, boolean → BOOLEAN, zoned timestamp → TIMESTAMP(6), wall-clock timestamp → DATETIME(6),
 *   date → DATE, json/object/array → JSON, binary → LONGBLOB); all-null fields wait for a value.
 * - `schemaEvolution` (default `"evolve"`): a field with no column is added with `ALTER TABLE … ADD COLUMN`;
 *   `"freeze"` fails (not retryable) with the diff; `"discardValue"` drops such fields; `"discardRow"` rejects
 *   their records. Columns are never widened: a value a column cannot hold is rejected record by record.
 *
 * **Example** (An exactly-once sink into a new table)
 *
 * ```ts
 * import { MysqlSink } from "@data-mcp/connector-mysql"
 *
 * const sink = MysqlSink.make({
 *   connection: { host: "127.0.0.1", user: "root", database: "test" },
 *   table: "orders",
 *   columns: [
 *     { name: "id", type: "bigint" },
 *     { name: "total", type: "decimal" },
 *     { name: "placed_at", type: "timestamp" }
 *   ]
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (input: SinkOptionsInput): Sink.Sink<Record<string, unknown>> => {
  const options = Config.decodeSync("mysql sink", SinkOptions, input)
  const name = options.name ?? "mysql"
  const transactional = options.transactional ?? true
  const create = options.create ?? true
  const load = options.load ?? "auto"
  const mode: Rows.Mode = options.schemaEvolution ?? "evolve"
  const [database, table] =
    typeof options.table === "string" ? [options.connection.database, options.table] : options.table
  const target: SinkSql.Target = { database, table, columns: options.columns ?? [] }
  const declared = new Set(target.columns.map((c) => c.name))
  const d = options.disposition ?? "append"
  const merge: SinkSql.MergeSpec | undefined = typeof d === "object" ? d.merge : undefined
  const replace = d === "replace"
  if (merge !== undefined && target.columns.length > 0) {
    for (const [path, column] of [
      ...merge.key.map((k, i) => [`disposition.merge.key.${i}`, k] as const),
      ...(merge.versionBy === undefined ? [] : [["disposition.merge.versionBy", merge.versionBy] as const])
    ])
      if (!declared.has(column))
        throw new Config.ConfigError({
          component: "mysql sink",
          path,
          detail: `"${column}" is not a declared column (declared: ${[...declared].join(", ")})`
        })
  }
  const disposition: Sink.Disposition =
    merge !== undefined
      ? Sink.merge({
          key: merge.key,
          strategy: "upsert",
          ...(merge.versionBy === undefined ? {} : { versionBy: merge.versionBy }),
          ...(merge.deleteWhen === undefined ? {} : { deleteWhen: merge.deleteWhen })
        })
      : replace
        ? Sink.replace
        : Sink.append

  const fail = (operation: string, reason: ConnectorError.Reason) => ConnectorError.make(name, operation, reason)
  const refusedReason = () =>
    new ConnectorError.Unknown({
      detail:
        'the server refuses LOAD DATA LOCAL INFILE (local_infile = 0): enable it (SET GLOBAL local_infile = 1) or set load: "auto" or "insert"',
      transient: false
    })

  const open = (
    context: Sink.OpenContext
  ): Effect.Effect<Sink.Writer<Record<string, unknown>>, Sink.SinkError | StateStore.StateError, Scope.Scope> =>
    Effect.gen(function* () {
      const pool = yield* Pool.pool(options.connection)
      const { stateKey, lease } = context
      const suffix = createHash("sha256").update(`${stateKey}\u0000${table}`).digest("hex").slice(0, 10)
      const staging = replace ? { database, table: `${table.slice(0, 44)}__dm_stg_${suffix}` } : undefined
      const writeTable = staging ?? { database, table }
      const label = `${writeTable.database}.${writeTable.table}`
      const lockName = `data-mcp:${database}.${table}`.slice(0, 64)
      const stateTarget = table

      /** Runs `body` on a connection holding the table's named lock. */
      const underLock = <A>(
        operation: string,
        body: (c: Pool.Connection) => Effect.Effect<A, ConnectorError.ConnectorError>
      ) =>
        Effect.scoped(
          Effect.gen(function* () {
            const c = yield* Pool.connection(pool, operation)
            const [got] = yield* Pool.query<{ got: number | null }>(c, SinkSql.getLock(lockName, 60), operation)
            if (Number(got?.got) !== 1)
              return yield* fail(
                operation,
                new ConnectorError.Contention({
                  detail: `the DDL lock of ${database}.${table} was not granted in 60 s; retry`
                })
              )
            return yield* body(c).pipe(
              Effect.ensuring(Effect.ignore(Pool.query(c, SinkSql.releaseLock(lockName), operation)))
            )
          })
        )

      const readLive = (runner: Pool.Pool | Pool.Connection, t = writeTable) =>
        Effect.map(
          Pool.query<SinkSql.ColumnRow>(runner, SinkSql.readColumns(t), "open"),
          (rows): Live => ({ exists: rows.length > 0, columns: rows.map(SinkSql.toTargetColumn) })
        )

      const exists = (runner: Pool.Pool | Pool.Connection, t: { database: string; table: string }) =>
        Effect.map(
          Pool.query<{ n: number | string }>(runner, SinkSql.tableExists(t), "open"),
          (r) => Number(r[0]?.n) > 0
        )

      yield* underLock("open", (c) =>
        Effect.gen(function* () {
          if (create && target.columns.length > 0) yield* Pool.query(c, SinkSql.createTable(target, merge?.key), "open")
          if (staging !== undefined) {
            if (yield* exists(c, target)) yield* Pool.query(c, SinkSql.createLike(staging, target), "open")
            else if (target.columns.length > 0)
              yield* Pool.query(c, SinkSql.createTable({ ...staging, columns: target.columns }, undefined), "open")
          }
          if (transactional) {
            yield* Pool.query(c, SinkSql.createStateTable(database), "open")
            const [has] = yield* Pool.query<{ n: number | string }>(c, SinkSql.stateHasRunId(database), "open")
            if (Number(has?.n ?? 0) === 0) yield* Pool.query(c, SinkSql.addStateRunId(database), "open")
          }
        })
      )
      const [packet] = yield* Pool.query<{ maxPacket: number | string }>(pool, SinkSql.maxPacket, "open")
      const budget = Math.max(64 * 1024, Math.floor(Number(packet?.maxPacket ?? 4_194_304) * PACKET_SHARE))
      // LOAD DATA LOCAL needs the server's local_infile (MariaDB's default is ON, MySQL 8's OFF).
      let infile = false
      if (load !== "insert" && merge === undefined) {
        const [flag] = yield* Pool.query<{ on: number | string | null }>(pool, SinkSql.localInfile, "open")
        infile = Number(flag?.on ?? 0) === 1
        if (!infile && load === "infile") return yield* fail("open", refusedReason())
      }
      let live = yield* readLive(pool)
      let wrote = false

      const evolutionError = (added: ReadonlyArray<SinkSql.DeclaredColumn>, why: string) =>
        fail(
          "write",
          new ConnectorError.Unknown({
            detail: `the batch does not fit ${label} and ${why}:\n${Rows.describeAdded(added)}`
          })
        )

      /** Brings the table to what the batch needs (DDL under the lock, outside any data transaction). */
      const prepare = (records: ReadonlyArray<Record<string, unknown>>) =>
        Effect.gen(function* () {
          const scanned = Rows.scan(records, new Set(live.columns.map((c) => c.name)))
          let kept: ReadonlyArray<Record<string, unknown>> = records
          let indexes: ReadonlyArray<number> | undefined
          let rejected: ReadonlyArray<Rows.Rejection> = []
          if (scanned.added.length > 0) {
            if (live.exists && mode === "freeze")
              return yield* evolutionError(scanned.added, 'schemaEvolution is "freeze"')
            if (live.exists && (mode === "discardValue" || mode === "discardRow")) {
              const out = Rows.discard(records, scanned.added, mode, label)
              kept = out.records
              indexes = out.indexes
              rejected = out.rejected
            } else {
              if (!live.exists && !create)
                return yield* fail(
                  "write",
                  new ConnectorError.NotFound({
                    detail: `${label} does not exist and create is false; create it or set create: true`
                  })
                )
              live = yield* underLock("write", (c) =>
                Effect.gen(function* () {
                  const now = yield* readLive(c)
                  const again = Rows.scan(records, new Set(now.columns.map((col) => col.name)))
                  if (!now.exists) {
                    const columns = [...target.columns, ...again.added.filter((a) => !declared.has(a.name))]
                    yield* Pool.query(
                      c,
                      SinkSql.createTable({ ...writeTable, columns }, staging === undefined ? merge?.key : undefined),
                      "write"
                    )
                  } else
                    for (const column of again.added)
                      yield* Pool.query(c, SinkSql.addColumn({ ...writeTable, columns: [] }, column), "write")
                  return yield* readLive(c)
                })
              )
            }
          }
          const columns = live.columns.filter((c) => declared.has(c.name) || scanned.present.has(c.name))
          const encoded = Rows.encode(columns, kept, indexes)
          const allRejected = [...rejected, ...encoded.rejected].sort((a, b) => a.index - b.index)
          return { columns, rows: encoded.rows, kept: encoded.kept.map((i) => kept[i]!), rejected: allRejected }
        })

      type Prepared = Effect.Success<ReturnType<typeof prepare>>

      /**
       * Streams rows with `LOAD DATA LOCAL INFILE` behind a savepoint, inside the caller's transaction. `true` if
       * every row went in as it is: the server reports as many rows as were sent and no warning. Otherwise (a
       * LOCAL load turns value errors and duplicate keys into warnings) or if the server refuses LOAD DATA, the
       * savepoint is rolled back and `false` returned, so the caller inserts the same rows instead: none is lost or
       * written twice.
       */
      const loadRows = (
        c: Pool.Connection,
        columns: ReadonlyArray<MysqlCodec.TargetColumn>,
        count: number,
        rows: () => Readable
      ) =>
        Effect.gen(function* () {
          yield* Pool.query(c, SinkSql.savepoint, "write")
          const loaded = yield* Effect.result(
            Pool.query(c, LoadData.statement(writeTable, columns), "write", { infile: rows })
          )
          if (loaded._tag === "Success") {
            const ok = loaded.success
            if (Number(ok.affectedRows) === count && Number(ok.warningStatus ?? 0) === 0) {
              yield* Pool.query(c, SinkSql.releaseSavepoint, "write")
              return true
            }
          } else if (LoadData.isRefusal(loaded.failure)) {
            if (load === "infile") return yield* fail("write", refusedReason())
            infile = false
          } else return yield* Effect.fail(loaded.failure)
          yield* Pool.query(c, SinkSql.rollbackToSavepoint, "write")
          return false
        })

      /** Rows as multi-row INSERTs under the packet budget. */
      const insertAll = (
        c: Pool.Connection,
        names: ReadonlyArray<string>,
        rows: ReadonlyArray<ReadonlyArray<unknown>>
      ) =>
        Effect.forEach(
          Rows.groups(rows, budget),
          (group) => Pool.query(c, SinkSql.insertRows(writeTable, names, group), "write"),
          {
            discard: true
          }
        )

      /** Applies rows encoded ahead (`encode`): loaded as they are, or parsed back and inserted. */
      const applyEncoded = (c: Pool.Connection, work: EncodedWork) =>
        Effect.gen(function* () {
          const { columns, encoded } = work
          if (encoded.rows === 0) return
          const piece = Math.min(INFILE_PIECE, budget)
          if (infile && (yield* loadRows(c, columns, encoded.rows, () => LoadData.streamChunks(encoded.chunks, piece))))
            return
          yield* insertAll(
            c,
            columns.map((col) => col.name),
            LoadData.parse(columns, encoded.chunks)
          )
        })

      /** Applies the rows as the disposition says, on a connection inside the caller's transaction. */
      const apply = (c: Pool.Connection, prepared: Prepared) =>
        Effect.gen(function* () {
          const names = prepared.columns.map((col) => col.name)
          if (prepared.rows.length === 0 || names.length === 0) return
          if (merge === undefined) {
            const piece = Math.min(INFILE_PIECE, budget)
            const rows = () => LoadData.stream(prepared.columns, prepared.rows, piece)
            if (infile && (yield* loadRows(c, prepared.columns, prepared.rows.length, rows))) return
            return yield* insertAll(c, names, prepared.rows)
          }
          const keyAt = merge.key.map((k) => names.indexOf(k))
          if (keyAt.some((i) => i < 0))
            return yield* fail(
              "write",
              new ConnectorError.InvalidRecord({ detail: `a record lacks a merge key field (${merge.key.join(", ")})` })
            )
          const versionBy = merge.versionBy
          const chosen = Rows.dedupe(
            prepared.rows,
            keyAt,
            versionBy === undefined ? undefined : (i) => prepared.kept[i]![versionBy]
          )
          const upserts: Array<ReadonlyArray<unknown>> = []
          for (const i of chosen) {
            const record = prepared.kept[i]!
            if (merge.deleteWhen !== undefined && record[merge.deleteWhen] === true) {
              const row = prepared.rows[i]!
              const versionAt = versionBy === undefined ? -1 : names.indexOf(versionBy)
              yield* Pool.query(
                c,
                SinkSql.deleteKey(
                  writeTable,
                  merge.key.map((k, j) => [k, row[keyAt[j]!]] as const),
                  versionAt < 0 ? undefined : ([versionBy!, row[versionAt]] as const)
                ),
                "write"
              )
            } else upserts.push(prepared.rows[i]!)
          }
          for (const group of Rows.groups(upserts, budget))
            yield* Pool.query(c, SinkSql.upsertRows(writeTable, names, group, merge), "write")
        })

      const fenced = (stored: string) =>
        new StateStore.StateError({
          reason: "Fenced",
          key: stateKey,
          detail: `run ${context.runId} holds token ${lease.token}, but token ${stored} has written to ${database}.${table}; stop without writing`
        })

      const inTransaction = <A, E>(c: Pool.Connection, body: Effect.Effect<A, E>) =>
        Effect.gen(function* () {
          yield* Pool.query(c, SinkSql.begin, "write")
          return yield* body.pipe(Effect.onError(() => Effect.ignore(Pool.query(c, SinkSql.rollback, "write"))))
        })

      const write = (
        batch: Batch.Batch<Record<string, unknown>>,
        ctx: Sink.WriteContext
      ): Effect.Effect<Sink.WriteResult, Sink.SinkError | StateStore.StateError> =>
        Effect.scoped(
          Effect.gen(function* () {
            const work = batch.encoded === undefined ? undefined : yield* encodedWork(batch.encoded)
            const prepared = work === undefined ? yield* prepare(batch.records) : undefined
            const result: Sink.WriteResult =
              prepared === undefined
                ? { written: work!.encoded.rows }
                : prepared.rejected.length === 0
                  ? { written: prepared.rows.length }
                  : { written: prepared.rows.length, rejected: prepared.rejected }
            const applyWork = (c: Pool.Connection) =>
              prepared === undefined ? applyEncoded(c, work!) : apply(c, prepared)
            // The first batch of a replace run starts the staging table over: inside the fenced transaction (a
            // DELETE, since TRUNCATE would commit), so a stale run never empties what a newer one staged.
            const restart = staging !== undefined && ctx.seq === 0 && ctx.checkpointFrom === null && live.exists
            const c = yield* Pool.connection(pool, "write")
            if (!transactional) {
              if (restart)
                yield* underLock("write", (l) => Effect.asVoid(Pool.query(l, SinkSql.truncate(staging!), "write")))
              yield* inTransaction(c, Effect.andThen(applyWork(c), Pool.query(c, SinkSql.commit, "write")))
              wrote = true
              return result
            }
            return yield* inTransaction(
              c,
              Effect.gen(function* () {
                const [row] = yield* Pool.query<{
                  token: string | number
                  seq: string | number
                  run_id: string | null
                }>(c, SinkSql.lockState(database, stateKey, stateTarget), "write")
                if (row !== undefined) {
                  const stored = BigInt(row.token)
                  if (stored > BigInt(lease.token)) return yield* fenced(String(row.token))
                  // A replay is this very run's write again: a state store that forgot its leases (in memory,
                  // restarted) hands out the same token to a new run, whose writes are new data.
                  if (
                    stored === BigInt(lease.token) &&
                    row.run_id === context.runId &&
                    BigInt(row.seq) >= BigInt(ctx.seq)
                  ) {
                    // Already committed (the acknowledgement was lost): commit nothing, report success.
                    yield* Pool.query(c, SinkSql.rollback, "write")
                    return result
                  }
                }
                if (restart) yield* Pool.query(c, SinkSql.deleteAll(staging!), "write")
                yield* applyWork(c)
                const checkpoint = ctx.checkpointTo === undefined ? null : JSON.stringify(ctx.checkpointTo)
                yield* Pool.query(
                  c,
                  SinkSql.saveState(database, stateKey, stateTarget, lease.token, ctx.seq, checkpoint, context.runId),
                  "write"
                )
                yield* Pool.query(c, SinkSql.commit, "write")
                wrote = true
                return result
              })
            )
          })
        )

      /** The live columns an encoded batch names, in its order (re-read once if the table grew meanwhile). */
      const encodedWork = (encoded: Batch.Encoded) =>
        Effect.gen(function* () {
          if (encoded.format !== LoadData.FORMAT)
            return yield* fail(
              "write",
              new ConnectorError.Unknown({
                detail: `an encoded batch in ${encoded.format}, which this sink does not load`
              })
            )
          const find = () => {
            const byName = new Map(live.columns.map((col) => [col.name, col]))
            const columns = encoded.columns.map((col) => byName.get(col.name))
            return columns.every((col, i) => col !== undefined && LoadData.typeName(col) === encoded.columns[i]!.type)
              ? (columns as ReadonlyArray<MysqlCodec.TargetColumn>)
              : undefined
          }
          let columns = find()
          if (columns === undefined) {
            live = yield* readLive(pool)
            columns = find()
          }
          if (columns === undefined)
            return yield* fail(
              "write",
              new ConnectorError.Unknown({
                detail: `the columns of ${label} changed while the run was writing to it; run it again`
              })
            )
          return { columns, encoded } satisfies EncodedWork
        })

      // Ahead of `write` (see `Sink.Writer.encode`): records that fit the table as it is become LOAD DATA text at
      // once, so they die young and the runner joins their batches (also for `load: "insert"`, whose write parses
      // the text back into bound values); those that need DDL or a discard first wait for `write` as records.
      const encodeAhead = (records: ReadonlyArray<Record<string, unknown>>) => {
        if (!live.exists) return undefined
        const scanned = Rows.scan(records, new Set(live.columns.map((col) => col.name)))
        if (scanned.added.length > 0) return undefined
        const columns = live.columns.filter((col) => declared.has(col.name) || scanned.present.has(col.name))
        if (columns.length === 0) return undefined
        const out = LoadData.encodeRecords(columns, records)
        const encoded: Batch.Encoded = {
          format: LoadData.FORMAT,
          columns: columns.map((col) => ({ name: col.name, type: LoadData.typeName(col) })),
          rows: out.rows,
          chunks: out.rows === 0 ? [] : [out.chunk]
        }
        return { encoded, rejected: out.rejected }
      }

      const loadCheckpoint = Effect.map(
        Pool.query<{ checkpoint: string | null }>(
          pool,
          SinkSql.loadCheckpoint(database, stateKey, stateTarget),
          "read"
        ),
        (rows) => {
          const stored = rows[0]?.checkpoint
          return stored === undefined || stored === null
            ? Option.none<Checkpoint.Json>()
            : Option.some(JSON.parse(stored) as Checkpoint.Json)
        }
      )

      // replace: the staging table swapped in by one atomic RENAME TABLE under the lock, then the checkpoint forgotten.
      const finish = (stagingTable: { readonly database: string; readonly table: string }) =>
        underLock("finish", (c) =>
          Effect.gen(function* () {
            if (transactional) {
              const [row] = yield* Pool.query<{ token: string | number }>(
                c,
                SinkSql.loadState(database, stateKey, stateTarget),
                "finish"
              )
              if (row !== undefined && BigInt(row.token) > BigInt(lease.token))
                return yield* fail(
                  "finish",
                  new ConnectorError.Unknown({
                    detail: `run ${context.runId} holds token ${lease.token}, but token ${row.token} has written to ${database}.${table}; the staging table was not swapped in`
                  })
                )
            }
            // Already swapped in by this finish (its acknowledgement was lost).
            if (!(yield* exists(c, stagingTable))) return
            if (!wrote) yield* Pool.query(c, SinkSql.truncate(stagingTable), "finish")
            const old = { database, table: `${table.slice(0, 44)}__dm_old_${suffix}` }
            yield* Pool.query(c, SinkSql.dropTable(old), "finish")
            const hadTarget = yield* exists(c, { database, table })
            yield* Pool.query(c, SinkSql.swap({ database, table }, stagingTable, hadTarget ? old : undefined), "finish")
            if (hadTarget) yield* Pool.query(c, SinkSql.dropTable(old), "finish")
            if (transactional) yield* Pool.query(c, SinkSql.clearCheckpoint(database, stateKey, stateTarget), "finish")
          })
        )

      const writer: Sink.Writer<Record<string, unknown>> = {
        write,
        ...(merge === undefined ? { encode: encodeAhead } : {}),
        ...(transactional ? { loadCheckpoint } : {}),
        ...(staging === undefined ? {} : { finish: finish(staging) })
      }
      return writer
    })

  const check = () =>
    Effect.scoped(
      Effect.flatMap(Pool.pool(options.connection), (p) => Effect.asVoid(Pool.query(p, sql`select 1`, "check")))
    )

  return Sink.make<Record<string, unknown>>({
    name,
    capabilities: {
      transactional,
      idempotent: merge !== undefined,
      maxConcurrentWrites: 1,
      ...(merge === undefined ? { encodings: [LoadData.FORMAT] } : {})
    },
    disposition,
    open,
    check,
    plan: (sample) => SinkPlan.plan({ connection: options.connection, target, create, mode }, sample)
  })
}

/**
 * The `create table` statement this sink would run for records of `schema` (an object type, e.g. from
 * `SchemaInference.inferSchema`): the same column types and table options as a first write, with `key` as the
 * primary key. A field seen only as null becomes `longtext`.
 *
 * **When to use**: to review or hand-apply the table a pipeline will create (`data-mcp infer-schema --ddl mysql`).
 *
 * **Example** (The DDL of an inferred schema)
 *
 * ```ts
 * import { MysqlSink } from "@data-mcp/connector-mysql"
 * import { SchemaInference } from "@data-mcp/core"
 *
 * const schema = SchemaInference.inferSchema([{ id: 1, name: "Ada" }])
 * MysqlSink.ddl({ database: "shop", table: "people" }, schema)
 * // create table if not exists `shop`.`people` (`id` bigint, `name` longtext) engine = InnoDB …
 * ```
 *
 * @category utils
 * @since 0.1.0
 */
export const ddl = (
  target: { readonly database?: string | undefined; readonly table: string; readonly key?: ReadonlyArray<string> },
  schema: SchemaInference.Type
): string => {
  const fields = schema.type === "object" ? Object.entries(schema.fields) : []
  const columns = fields.map(([name, type]) => ({ name, type: Rows.typeFor(type, undefined) ?? ("text" as const) }))
  return SinkSql.createTable({ database: target.database ?? "", table: target.table, columns }, target.key).text
}
