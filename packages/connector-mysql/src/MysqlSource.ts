/**
 * A MySQL / MariaDB source: reads tables, or parameterised queries, one stream each, in one ordered keyset read
 * per stream whose rows are streamed (`mysql2`'s `query().stream()`, paused by backpressure, so memory stays
 * flat whatever the table's size) and cut into batches. Every value is decoded losslessly by `MysqlCodec`.
 *
 * **How a stream is read**
 *
 * - In one `START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY` (REPEATABLE READ) on one connection. At its
 *   start the upper bound is fixed (`max(cursor)`, or `max(key)` without a cursor) as the server's exact text;
 *   rows above it, or committed after the snapshot, belong to the next run.
 * - With a cursor: `WHERE c <= upper AND (c > $c OR (c = $c AND k > $k)) ORDER BY c, k`; each batch's
 *   checkpoint is its last `(cursor, key)`, so equal cursor values across a batch boundary are neither lost nor
 *   repeated. Rows whose cursor is NULL are not read, unless `onNull: "include-first"` (they come first, by key).
 *   Without a cursor: by key alone.
 * - A table snapshot with `chunks` is read as key ranges, several at once, each on its own connection, all in one
 *   snapshot (see `ChunkOptions`).
 * - Boundary values are bound in the column's type (`bigint` as an integer, `DECIMAL` cast to `DECIMAL(65,30)`),
 *   never compared as floats. Tables, cursors, keys and columns must belong to the catalog's closed set (the
 *   database's tables, the relation's columns).
 * - A query stream (`query`, built with `sql`) is read as a derived table: `SELECT … FROM (query) AS t …`.
 *
 * **Checkpoint** (per stream): `{ cursor, key }` (exact text) with a cursor (`cursor: null` inside the NULL
 * section); `{ key }` while a stream without one is being read, then `{ done: true }`.
 *
 * @since 0.1.0
 */
import { Batch, type Checkpoint, ConnectorError, Source } from "@data-mcp/core"
import { Effect, Schema, type Scope, Stream } from "effect"
import type { FieldPacket, QueryOptions } from "mysql2"
import * as IncrementalStream from "./internal/incremental.ts"
import * as Pool from "./internal/pool.ts"
import * as internal from "./internal/source.ts"
import * as SourceChunks from "./internal/sourceChunks.ts"
import * as SourceOptions from "./internal/sourceOptions.ts"
import * as SourceRows from "./internal/sourceRows.ts"
import * as MysqlCodec from "./MysqlCodec.ts"
import type * as MysqlConfig from "./MysqlConfig.ts"
import * as MysqlError from "./MysqlError.ts"
import { type Fragment, sql } from "./Sql.ts"

/**
 * One stream to read: a `table`, or a `query` with a `name`.
 *
 * @category models
 * @since 0.1.0
 */
export interface StreamOptions {
  /** The table: a name in the connection's database, or `[database, table]`. */
  readonly table?: string | readonly [string, string] | undefined
  /** A parameterised query (built with `sql`, every value bound), read as a derived table. Needs `name`. */
  readonly query?: Fragment | undefined
  /** The stream's name (default `"database.table"`; required for a query). */
  readonly name?: string | undefined
  /** The incremental cursor column (an `updated_at`, a sequence); absent: a snapshot read by `key`. */
  readonly cursor?: string | undefined
  /** The primary key column: orders the read and breaks ties between equal cursor values. */
  readonly key: string
  /** The columns to read (default: all); the key and cursor are always read. */
  readonly columns?: ReadonlyArray<string> | undefined
  /**
   * Rows whose cursor is NULL: `"skip"` (the default) never reads them; `"include-first"` reads them first, by
   * key, as if their cursor were below every value, then the valued rows (checkpoint `{ cursor: null, key }`
   * while inside that section). Being below every value, a NULL-cursor row is read only while the checkpoint is
   * still in the NULL section (the first run, or one resuming inside it): rows that get a NULL cursor later are
   * behind the checkpoint and are not read by later runs. The same as the PostgreSQL source and core's
   * `Incremental`.
   */
  readonly onNull?: "skip" | "include-first" | undefined
  /**
   * Reads a table snapshot (a table stream without a cursor) as key ranges, several at a time, each on its own
   * connection (see `ChunkOptions`).
   */
  readonly chunks?: ChunkOptions | undefined
}

/**
 * How a table snapshot is split into chunks: key ranges of about `rows` rows each, planned once at the start (one
 * pass over the key's index, with window functions), read up to `concurrency` at a time, each on its own
 * connection, and emitted in key order, so every checkpoint (`{ key }` after every batch) stays valid and a
 * resumed run plans the rest from its checkpoint. At most `concurrency` chunks are held in memory.
 *
 * **Consistency.** MySQL and MariaDB cannot share one transaction's snapshot across connections. The readers get
 * one anyway: a separate connection holds `LOCK TABLES t READ` while every reader opens `START TRANSACTION WITH
 * CONSISTENT SNAPSHOT` (the lock waits for transactions that wrote to the table and pauses its writers for those
 * few statements), then unlocks. Without the LOCK TABLES privilege each reader has its own snapshot: rows above
 * the upper key bound fixed at the start (the high-water mark) are never read, and each key range is read in one
 * snapshot, but a row changed while the readers opened may be read in either version (a warning is logged).
 *
 * @category models
 * @since 0.2.0
 */
export interface ChunkOptions {
  /** Rows per chunk (default 50,000). Memory holds up to `concurrency` chunks. */
  readonly rows?: number | undefined
  /** Chunks read at once, each on its own connection (default 2); the pool needs `concurrency + 1` connections. */
  readonly concurrency?: number | undefined
}

/**
 * A table read as core's `Incremental` describes (`cursor` → cursor, `tieBreaker` → key, `onNull`); `lag`,
 * `lookback`, `order: "desc"`, `initial` and `end` are refused by `make` with a `ConfigError`.
 *
 * @category models
 * @since 0.2.0
 */
export type IncrementalStreamOptions = IncrementalStream.IncrementalStreamOptions

/**
 * What `make` takes.
 *
 * @category models
 * @since 0.1.0
 */
export interface MysqlSourceOptions {
  readonly connection: MysqlConfig.MysqlConfig
  /**
   * The tables and queries to read, one after the other; a table may also be given with
   * `incremental: Incremental.make({ cursor, tieBreaker, onNull })`.
   */
  readonly streams: ReadonlyArray<StreamOptions | IncrementalStreamOptions>
  /** Rows per batch (default: the runner's batch size hint). */
  readonly batchSize?: number | undefined
  /** The source name in errors and logs (default `"mysql"`). */
  readonly name?: string | undefined
}

/**
 * The position of one stream: after `(cursor, key)` (exact text), or finished. A `null` cursor is a position in
 * the NULL-cursor section (`onNull: "include-first"`), after `key`.
 *
 * @category models
 * @since 0.1.0
 */
export type Position = { readonly cursor?: string | null; readonly key: string } | { readonly done: true }

/**
 * The source's checkpoint: stream name → position.
 *
 * @category models
 * @since 0.1.0
 */
export type MysqlCheckpoint = Readonly<Record<string, Position>>

/**
 * The position schema.
 *
 * @category schemas
 * @since 0.1.0
 */
export const Position: Schema.Codec<Position, Checkpoint.Json> = Schema.Union([
  Schema.Struct({ cursor: Schema.optionalKey(Schema.NullOr(Schema.String)), key: Schema.String }),
  Schema.Struct({ done: Schema.Literal(true) })
]) as unknown as Schema.Codec<Position, Checkpoint.Json>

/**
 * The checkpoint schema: a map of stream name to `Position`.
 *
 * @category schemas
 * @since 0.1.0
 */
export const MysqlCheckpoint: Checkpoint.CheckpointSchema<MysqlCheckpoint> = Schema.Record(
  Schema.String,
  Position
) as unknown as Checkpoint.CheckpointSchema<MysqlCheckpoint>

/**
 * A record as read: column name → decoded value.
 *
 * @category models
 * @since 0.1.0
 */
export type Row = Record<string, unknown>

interface Resolved {
  readonly stream: string
  readonly relation: internal.Relation
  readonly columns: ReadonlyArray<{ readonly name: string; readonly kind: MysqlCodec.Kind }>
  readonly cursor: { readonly name: string; readonly kind: MysqlCodec.Kind } | undefined
  readonly key: { readonly name: string; readonly kind: MysqlCodec.Kind }
  readonly includeNulls: boolean
  readonly chunks: SourceChunks.Chunking | undefined
}

const invalid = (name: string, operation: string, detail: string) =>
  ConnectorError.make(name, operation, new ConnectorError.Unknown({ detail }))
const notFound = (name: string, operation: string, detail: string) =>
  ConnectorError.make(name, operation, new ConnectorError.NotFound({ detail }))

const rawText: QueryOptions["typeCast"] = (field) => field.string()

/** The result columns of a relation (no rows read). */
const probeFields = (runner: Pool.Pool | Pool.Connection, relation: internal.Relation, operation: string) =>
  Effect.callback<ReadonlyArray<FieldPacket>, ConnectorError.ConnectorError>((resume) => {
    const q = internal.probe(relation)
    try {
      runner.query({ sql: q.text, values: [...q.values] }, (error, _rows, fields) => {
        if (error !== null) resume(Effect.fail(MysqlError.toConnectorError(error, operation)))
        else resume(Effect.succeed(fields ?? []))
      })
    } catch (error) {
      resume(Effect.fail(MysqlError.toConnectorError(error, operation)))
    }
  })

const relationOf = (
  config: MysqlConfig.MysqlConfig,
  options: StreamOptions
): { readonly stream: string; readonly relation: internal.Relation } | string => {
  if (options.query !== undefined) {
    if (options.table !== undefined) return "give a table or a query, not both"
    if (options.name === undefined) return "a query stream needs a name"
    return { stream: options.name, relation: { _tag: "Query", query: options.query } }
  }
  if (options.table === undefined) return "give a table or a query"
  const name =
    typeof options.table === "string"
      ? { database: config.database, table: options.table }
      : { database: options.table[0], table: options.table[1] }
  return { stream: options.name ?? `${name.database}.${name.table}`, relation: { _tag: "Table", name } }
}

/** Checks a stream's table, columns, cursor and key against the catalog (the closed set) and types its columns. */
const resolve = (
  pool: Pool.Pool,
  name: string,
  config: MysqlConfig.MysqlConfig,
  options: StreamOptions,
  tables: ReadonlyArray<internal.TableName>
): Effect.Effect<Resolved, ConnectorError.ConnectorError> =>
  Effect.gen(function* () {
    const target = relationOf(config, options)
    if (typeof target === "string") return yield* invalid(name, "read", `A stream's options are wrong: ${target}.`)
    const { relation, stream } = target
    if (relation._tag === "Table") {
      const wanted = relation.name
      if (!tables.some((t) => t.database === wanted.database && t.table === wanted.table))
        return yield* notFound(
          name,
          "read",
          `The table ${stream} is not among the tables this connection can see: check its name.`
        )
    }
    const all = internal.columnsOf(yield* probeFields(pool, relation, "read"))
    const byName = new Map(all.map((c) => [c.name, c]))
    // The key and cursor are always read: the checkpoint is taken from them.
    const wanted =
      options.columns === undefined
        ? all.map((c) => c.name)
        : [...new Set([...options.columns, options.key, ...(options.cursor === undefined ? [] : [options.cursor])])]
    const missing = [...wanted, options.key, ...(options.cursor === undefined ? [] : [options.cursor])].filter(
      (c) => !byName.has(c)
    )
    if (missing.length > 0)
      return yield* notFound(
        name,
        "read",
        `The stream ${stream} has no column ${missing.map((m) => JSON.stringify(m)).join(", ")}.`
      )
    const ordered = (column: string, role: string) => {
      const kind = byName.get(column)!.kind
      if (!internal.ORDERED.has(kind))
        return Effect.fail(
          invalid(
            name,
            "read",
            `The ${role} ${JSON.stringify(column)} of ${stream} reads as ${kind}: a ${role} must be a number, text, date or time column.`
          )
        )
      return Effect.succeed({ name: column, kind })
    }
    return {
      stream,
      relation,
      columns: wanted.map((c) => ({ name: c, kind: byName.get(c)!.kind })),
      cursor: options.cursor === undefined ? undefined : yield* ordered(options.cursor, "cursor"),
      key: yield* ordered(options.key, "key"),
      includeNulls: options.onNull === "include-first",
      chunks: SourceOptions.chunkingOf(options)
    }
  })

const loadTables = (pool: Pool.Pool, database: string) =>
  Pool.query<internal.TableName>(pool, internal.listTables(database), "discover")

/** A backfill's end for one stream: its position in `ReadContext.end` (absent: nothing to backfill). */
interface EndOf {
  readonly to: Position | undefined
}

const readStream = (
  name: string,
  pool: Pool.Pool,
  resolved: Resolved,
  start: Position | undefined,
  end: EndOf | undefined,
  limit: number,
  positions: Record<string, Position>
): Stream.Stream<Batch.Batch<Row, MysqlCheckpoint>, ConnectorError.ConnectorError> => {
  if (start !== undefined && "done" in start) return Stream.empty
  const hasCursor = resolved.cursor !== undefined
  if (start !== undefined && hasCursor !== (start.cursor !== undefined))
    return Stream.fail(
      invalid(name, "read", `The checkpoint of ${resolved.stream} does not match the stream's cursor option.`)
    )
  if (end !== undefined && end.to === undefined) return Stream.empty
  const endAt = end?.to === undefined || "done" in end.to ? undefined : end.to
  if (endAt !== undefined && hasCursor !== (endAt.cursor !== undefined))
    return Stream.fail(
      invalid(name, "read", `The backfill end of ${resolved.stream} does not match the stream's cursor option.`)
    )
  const kinds = new Map(resolved.columns.map((c) => [c.name, c.kind]))
  const cursorName = resolved.cursor?.name
  const keyName = resolved.key.name
  // The cursor and key keep their exact text (timestamps carry it privately), for the checkpoint.
  const special = new Map<string, (text: string) => unknown>()
  for (const column of [resolved.key, ...(resolved.cursor === undefined ? [] : [resolved.cursor])])
    if (kinds.has(column.name)) special.set(column.name, (text) => internal.decodeBoundary(column.kind, text))
  const decode = MysqlCodec.makeRowDecoder(kinds, special)
  const columns = resolved.columns.map((c) => c.name)
  const batch = (records: ReadonlyArray<Row>, position: Position) => {
    positions[resolved.stream] = position
    return Batch.make<Row, MysqlCheckpoint>(records, { stream: resolved.stream, checkpoint: { ...positions } })
  }
  const finished = (): ReadonlyArray<Batch.Batch<Row, MysqlCheckpoint>> =>
    hasCursor ? [] : [batch([], { done: true })]
  const after = start === undefined || "done" in start ? undefined : start

  if (resolved.chunks !== undefined && resolved.relation._tag === "Table")
    return SourceChunks.read({
      source: name,
      stream: resolved.stream,
      pool,
      table: resolved.relation.name,
      relation: resolved.relation,
      columns,
      key: resolved.key,
      limit,
      chunking: resolved.chunks,
      decode,
      keyText: (row) => internal.boundaryText(row[keyName]),
      after: after?.key,
      end: endAt?.key,
      batch
    })

  return Stream.unwrap(
    Effect.gen(function* () {
      const connection = yield* Pool.connection(pool, "read")
      yield* SourceRows.snapshot(connection)
      const bound = (resolved.cursor ?? resolved.key).name
      const [row] = yield* Pool.query<{ upper: string | null }>(
        connection,
        internal.upperBound(resolved.relation, bound),
        "read",
        { typeCast: rawText }
      )
      // A backfill whose end is inside the NULL section reads no valued row.
      const upper = endAt !== undefined && endAt.cursor === null ? null : (row?.upper ?? null)
      // NULL-cursor rows come first (onNull: "include-first"), while the checkpoint is still in their section.
      const readNulls = hasCursor && resolved.includeNulls && (after === undefined || after.cursor === null)
      if (upper === null && !readNulls) return Stream.fromIterable(finished())
      const section = (nulls: boolean) =>
        Stream.map(
          SourceRows.streamRows(
            connection,
            internal.readQuery({
              relation: resolved.relation,
              columns,
              cursor: resolved.cursor,
              key: resolved.key,
              upper: upper ?? "",
              after: nulls ? after : typeof after?.cursor === "string" || !hasCursor ? after : undefined,
              end: nulls ? (endAt?.cursor === null ? endAt : undefined) : endAt,
              nulls
            }),
            limit,
            decode
          ),
          (records) => {
            const last = records[records.length - 1]!
            const key = internal.boundaryText(last[keyName])
            return batch(
              records,
              cursorName === undefined
                ? { key }
                : { cursor: nulls ? null : internal.boundaryText(last[cursorName]), key }
            )
          }
        )
      const sections = readNulls
        ? upper === null
          ? section(true)
          : Stream.concat(section(true), section(false))
        : section(false)
      return Stream.concat(
        sections,
        Stream.suspend(() => Stream.fromIterable(finished()))
      )
    })
  )
}

/**
 * Makes a source over the given streams, read one after the other.
 *
 * **Example** (Orders incrementally by `updated_at`, customers as a snapshot)
 *
 * ```ts
 * import { MysqlConfig, MysqlSource } from "@data-mcp/connector-mysql"
 *
 * const source = MysqlSource.make({
 *   connection: MysqlConfig.decodeSync({ host: "127.0.0.1", user: "root", database: "shop" }),
 *   streams: [
 *     { table: "orders", cursor: "updated_at", key: "id" },
 *     { table: "customers", key: "id", columns: ["id", "email"] }
 *   ]
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (input: MysqlSourceOptions): Source.Source<Row, MysqlCheckpoint> => {
  const options = { ...input, streams: input.streams.map(IncrementalStream.toStreamOptions) }
  const name = options.name ?? "mysql"
  const config = options.connection
  SourceOptions.check(name === "mysql" ? "mysql source" : name, options)

  const withPool = <A>(
    f: (pool: Pool.Pool) => Effect.Effect<A, ConnectorError.ConnectorError, Scope.Scope>
  ): Effect.Effect<A, ConnectorError.ConnectorError> => Effect.scoped(Effect.flatMap(Pool.pool(config), f))

  const read = (from: MysqlCheckpoint | undefined, context: Source.ReadContext) => {
    const limit = options.batchSize ?? context.batchRows
    return Stream.unwrap(
      Effect.gen(function* () {
        const pool = yield* Pool.pool(config)
        const databases = new Set(
          options.streams.flatMap((s) =>
            s.table === undefined ? [] : [typeof s.table === "string" ? config.database : s.table[0]]
          )
        )
        const tables: Array<internal.TableName> = []
        for (const d of databases) tables.push(...(yield* loadTables(pool, d)))
        const resolved: Array<Resolved> = []
        for (const s of options.streams) resolved.push(yield* resolve(pool, name, config, s, tables))
        const end =
          context.end === undefined
            ? undefined
            : yield* Effect.try({
                try: () => Schema.decodeUnknownSync(MysqlCheckpoint)(context.end),
                catch: () =>
                  invalid(name, "read", "The backfill end is not a checkpoint of this source (stream → position).")
              })
        const positions: Record<string, Position> = { ...from }
        return Stream.flatMap(Stream.fromIterable(resolved), (r) =>
          readStream(
            name,
            pool,
            r,
            from?.[r.stream],
            end === undefined ? undefined : { to: end[r.stream] },
            limit,
            positions
          )
        )
      })
    )
  }

  const discover = () =>
    withPool((pool) =>
      Effect.gen(function* () {
        const tables = yield* loadTables(pool, config.database)
        const out: Array<Source.StreamInfo> = []
        for (const table of tables) {
          const columns = internal.columnsOf(yield* probeFields(pool, { _tag: "Table", name: table }, "discover"))
          const properties: Record<string, Checkpoint.Json> = {}
          for (const c of columns)
            properties[c.name] = {
              "x-field-type": MysqlCodec.fieldType(c.kind),
              "x-mysql-kind": c.kind,
              "x-nullable": c.nullable
            }
          out.push({ name: `${table.database}.${table.table}`, jsonSchema: { type: "object", properties } })
        }
        return out
      })
    )

  const estimate = () =>
    withPool((pool) =>
      Effect.gen(function* () {
        const rows = yield* Pool.query<{ table: string; rows: number | string; bytes: number | string }>(
          pool,
          internal.estimates(config.database),
          "estimate"
        )
        const byTable = new Map(rows.map((r) => [r.table, r]))
        const streams: Record<string, { rows: number; bytes: number }> = {}
        let total = 0
        let bytes = 0
        for (const s of options.streams) {
          const target = relationOf(config, s)
          if (typeof target === "string" || target.relation._tag !== "Table") continue
          const r = byTable.get(target.relation.name.table)
          if (r === undefined || target.relation.name.database !== config.database) continue
          const n = Number(r.rows)
          const b = Number(r.bytes)
          streams[target.stream] = { rows: n, bytes: b }
          total += n
          bytes += b
        }
        return { rows: total, bytes, streams } satisfies Source.Estimate
      })
    )

  const check = () => withPool((pool) => Effect.asVoid(Pool.query(pool, sql`select 1`, "check")))

  return Source.make<Row, MysqlCheckpoint>({
    name,
    checkpointSchema: MysqlCheckpoint,
    read,
    discover,
    estimate,
    check
  })
}
