/**
 * A PostgreSQL source: reads tables and queries (one stream each) with keyset pagination over `(cursor, key)` and
 * the `COPY … TO STDOUT` fast path, decoding every value losslessly with `PostgresCodec` (int8 → `bigint`,
 * numeric → exact string, timestamps → `Timestamp`, …).
 *
 * **How a stream is read**
 *
 * - Each stream is read in one `REPEATABLE READ READ ONLY` transaction. At its start the upper bound is fixed
 *   (`max(cursor)`, or `max(key)` without a cursor) as exact text; rows above it (or committed after the
 *   snapshot) belong to the next run.
 * - Pages: `WHERE (cursor, key) > ($c, $k) AND cursor <= $upper ORDER BY cursor, key LIMIT $n`, one batch per
 *   page, whose checkpoint is the page's last `(cursor, key)`. Equal cursor values across a page boundary are
 *   neither lost nor repeated, since the key breaks ties. Without a cursor, pages go by key alone.
 * - COPY takes no bind parameters, so its statement text is rendered by the server: a bound
 *   `select format('COPY (… %I … %L …) TO STDOUT', …)` quotes identifiers with `%I` (quote_ident) and values with
 *   `%L` (quote_literal). The client never splices a value or a name into SQL text; tables, cursors, keys and
 *   columns must also belong to the catalog's closed set (checked with `sql.ident(name, discovered)`).
 *
 * **Query streams** (`QueryStreamOptions`)
 *
 * - The query is one read statement written with `sql`. It runs only in `READ ONLY` transactions (a write in it
 *   fails with SQLSTATE 25006) and is read as a subselect: `SELECT … FROM (query) AS t WHERE … ORDER BY … LIMIT`,
 *   so its `key` and `cursor` (columns of its result) page and checkpoint it exactly like a table.
 * - Its values stay bound. Plain statements (the column description, the upper bound, `EXPLAIN`) bind them as
 *   parameters. COPY gets the query's literal template text with each value as a `%L` of the same server-side
 *   `format()` call, the values passed as that call's bind parameters: PostgreSQL's `quote_literal` renders them,
 *   never the client. This keeps the COPY fast path (a server-side cursor with `FETCH` would bind natively but
 *   return rows in the slower row protocol).
 *
 * **Chunked snapshots** (`chunks`, a table without a cursor; always for a table without a key)
 *
 * - The first transaction fixes the upper bound (the high-water mark), plans the chunks in its snapshot — key
 *   ranges of `rows` rows, or heap page (CTID) ranges for a table without a key — and exports that snapshot.
 * - Up to `concurrency` chunks are read at once, each on its own connection in a transaction that imported the
 *   snapshot (`SET TRANSACTION SNAPSHOT`), and emitted in order, so every checkpoint stays valid.
 *   A chunk's turn is given back only once its rows are emitted: at most `concurrency` chunks are in memory.
 *
 * **Incremental options** (per stream)
 *
 * - `lag`: the upper bound becomes `least(max(cursor), now() - lag)` (a timestamp cursor only), so rows newer than
 *   `now() - lag` wait for a later run.
 * - `lookback`: a resumed run re-reads from `checkpoint.cursor - lookback` (inclusive). Re-read rows arrive
 *   again: a look-back **needs a `merge` sink** (keyed upserts), as does any lagged re-read window.
 * - `onNull`: `"skip"` (default) never reads rows whose cursor is NULL; `"include-first"` reads them first, by
 *   key, as if the cursor were `-infinity` (checkpoint `{ cursor: null, key }` while inside that section), then
 *   the valued rows. NULL-cursor rows that appear after the checkpoint has left that section are not read.
 *
 * **Backfills** (`ReadContext.end`, a checkpoint of this source)
 *
 * - Each stream is read only up to its end position: the upper bound is `least(max(cursor), end.cursor)` and no
 *   row past `(end.cursor, end.key)` is read (`end.key` for a stream without a cursor). A stream the end does not
 *   name has nothing to backfill; an end of `{ done: true }` bounds nothing. The runner keeps a backfill's
 *   checkpoints apart from the incremental state, which a backfill never moves.
 *
 * **Checkpoint** (per stream, `"schema.table"` or a query stream's `name`)
 *
 * - `{ cursor, key }` for a stream with a cursor; the values are the columns' exact text (`c::text`, with the
 *   codec's session settings), never converted to `Date` or `number`. It stays after the last page, so the next
 *   run reads what is new since.
 * - `{ key }` while a stream without a cursor (a snapshot by key) is being read, then `{ done: true }` once it
 *   has been read to the end; a `done` stream is not read again.
 * - `{ page }` (the first heap page not yet read) after each CTID chunk of a table without a key. A resume from it
 *   in a later snapshot is exact only if the table did not change in between: a row that moved across the page
 *   boundary (an UPDATE, an INSERT into free space) is missed or read twice. Give a table that changes a key.
 * - A query without a key is read in one COPY and checkpointed only once read (`{ done: true }`).
 *
 * @since 0.1.0
 */
import type { Batch, Checkpoint } from "@data-mcp/core"
import { ConnectorError, Source } from "@data-mcp/core"
import { Effect, Option, Schema, type Scope, Stream } from "effect"
import type pg from "pg"
import * as EncodedRows from "./internal/encodedRows.ts"
import * as IncrementalStream from "./internal/incremental.ts"
import * as Pool from "./internal/pool.ts"
import * as internal from "./internal/source.ts"
import * as SourceChunks from "./internal/sourceChunks.ts"
import * as SourceOptions from "./internal/sourceOptions.ts"
import * as SourcePage from "./internal/sourcePage.ts"
import * as SourceQuery from "./internal/sourceQuery.ts"
import * as Transaction from "./internal/sourceTransaction.ts"
import * as PostgresCodec from "./PostgresCodec.ts"
import * as PostgresConfig from "./PostgresConfig.ts"
import type * as Sql from "./Sql.ts"
import { sql } from "./Sql.ts"

/**
 * One table to read.
 *
 * @category models
 * @since 0.1.0
 */
export interface StreamOptions {
  /** The table: a name in the connection's schema, or `[schema, table]`. */
  readonly table: string | readonly [string, string]
  /** The incremental cursor column (an `updated_at`, a sequence); absent: a snapshot paged by `key`. */
  readonly cursor?: string | undefined
  /**
   * The primary key column: pages by it and breaks ties between equal cursor values. Absent (a table without a
   * usable key, and no cursor): the table is read by CTID ranges (see `chunks`).
   */
  readonly key?: string | undefined
  /** The columns to read (default: all). */
  readonly columns?: ReadonlyArray<string> | undefined
  /**
   * Keeps the upper bound behind the clock: `least(max(cursor), now() - lag)`, so rows whose cursor is newer
   * than `now() - lag` (transactions still committing with earlier timestamps, clock skew) wait for a later run.
   * Milliseconds or a PostgreSQL interval (`"5 minutes"`). The cursor must be a `timestamp` or `timestamptz`.
   */
  readonly lag?: number | string | undefined
  /**
   * Re-reads a window behind the checkpoint: a run that resumes from `(cursor, key)` starts at
   * `cursor - lookback` instead (inclusive), so late rows whose cursor fell behind the checkpoint are picked up.
   * The re-read rows arrive again, so a look-back **requires a `merge` sink** (an `append` would duplicate them).
   * Milliseconds or a PostgreSQL interval. The cursor must be a `timestamp` or `timestamptz`.
   */
  readonly lookback?: number | string | undefined
  /**
   * Rows whose cursor is NULL: `"skip"` (the default) never reads them; `"include-first"` reads them first, by
   * key, as if their cursor were `-infinity`, then the valued rows. Being below every value, a NULL-cursor row is
   * read only while the checkpoint is still in the NULL section (the first run, or one resuming inside it):
   * rows that get a NULL cursor later are behind the checkpoint and are not read by later runs.
   */
  readonly onNull?: "skip" | "include-first" | undefined
  /**
   * Reads a snapshot (a stream without a cursor) as chunks, several at a time, each on its own connection in the
   * same snapshot (see `ChunkOptions`). A table without a key is always read by CTID chunks.
   */
  readonly chunks?: ChunkOptions | undefined
}

/**
 * How a snapshot is split into chunks. The chunks are planned once at the start, in the read's snapshot: key
 * ranges of `rows` rows each, or, for a table without a key, ranges of heap pages (CTID ranges, a TID range scan
 * on PostgreSQL 14+) that hold about `rows` rows. Up to `concurrency` chunks are read at once, each on its own
 * connection in one exported snapshot, and emitted in key (or page) order, so every checkpoint stays valid:
 * `{ key }` after every page of a keyed chunk, `{ page }` after every CTID chunk. At most
 * `concurrency` chunks are held in memory; a slow consumer holds back the start of further chunks.
 *
 * @category models
 * @since 0.1.0
 */
export interface ChunkOptions {
  /** Rows per chunk (default 50,000). Memory holds up to `concurrency` chunks. */
  readonly rows?: number | undefined
  /** Chunks read at once, each on its own connection (default 2); the pool needs `concurrency + 1` connections. */
  readonly concurrency?: number | undefined
}

/**
 * One query to read, as a stream named `name`. The query is one read statement written with the `sql` tagged
 * template (`select`, `with … select`, `values` or `table`), every value bound; it runs in `READ ONLY`
 * transactions, so a write inside it fails. With a `key` (and optionally a `cursor`), both columns of its result,
 * it is read by keyset pages exactly like a table, with the same checkpoints; without a key it is read in one
 * COPY and checkpointed only once read (`{ done: true }`).
 *
 * **Example** (A tenant's paid orders, incrementally)
 *
 * ```ts
 * import { PostgresSource, Sql } from "@data-mcp/connector-postgres"
 *
 * const { sql } = Sql
 * const tenant = "acme"
 * const stream: PostgresSource.QueryStreamOptions = {
 *   name: "paid_orders",
 *   query: sql`select id, total, updated_at from orders where tenant = ${tenant} and status = ${"paid"}`,
 *   cursor: "updated_at",
 *   key: "id"
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface QueryStreamOptions extends Pick<StreamOptions, "cursor" | "key" | "lag" | "lookback" | "onNull"> {
  /** The query, written with `sql`: one read statement; its values stay bound. */
  readonly query: Sql.Fragment
  /** The stream's name (its checkpoint key; unique among the source's streams). */
  readonly name: string
}

/**
 * A table read as core's `Incremental` describes (`cursor` → cursor, `tieBreaker` → key, `lag`, `lookback`,
 * `onNull`); `order: "desc"`, `initial` and `end` are refused by `make` with a `ConfigError`.
 *
 * @category models
 * @since 0.1.0
 */
export type IncrementalStreamOptions = IncrementalStream.IncrementalStreamOptions

/**
 * What `make` takes.
 *
 * @category models
 * @since 0.1.0
 */
export interface PostgresSourceOptions {
  readonly connection: PostgresConfig.PostgresConfig
  /** The tables and queries to read, one after the other. */
  /**
   * The tables and queries to read, one after the other; a table may also be given with
   * `incremental: Incremental.make({ cursor, tieBreaker, … })`.
   */
  readonly streams: ReadonlyArray<StreamOptions | QueryStreamOptions | IncrementalStreamOptions>
  /**
   * Rows per page, one `COPY` query each (default: 10,000; the runner joins pages' groups into its batches). A page's
   * rows are handed over in groups that each end at a checkpoint, so batches need not match pages; the next page
   * is read while the current one is handed over (one page ahead).
   */
  readonly batchSize?: number | undefined
  /** The source name in errors and logs (default `"postgres"`). */
  readonly name?: string | undefined
}

/**
 * The position of one stream: after `(cursor, key)` (exact text), before heap page `page` (a table without a key,
 * read by CTID chunks), or finished. A `null` cursor is a position in the NULL-cursor section
 * (`onNull: "include-first"`), after `key`.
 *
 * @category models
 * @since 0.1.0
 */
export type Position =
  | { readonly cursor?: string | null; readonly key: string }
  | { readonly page: number }
  | { readonly done: true }

/**
 * The source's checkpoint: stream name (`"schema.table"`, or a query stream's `name`) → position.
 *
 * @category models
 * @since 0.1.0
 */
export type PostgresCheckpoint = Readonly<Record<string, Position>>

/**
 * The position schema.
 *
 * @category schemas
 * @since 0.1.0
 */
export const Position: Schema.Codec<Position, Checkpoint.Json> = Schema.Union([
  Schema.Struct({ cursor: Schema.optionalKey(Schema.NullOr(Schema.String)), key: Schema.String }),
  Schema.Struct({ page: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)) }),
  Schema.Struct({ done: Schema.Literal(true) })
]) as unknown as Schema.Codec<Position, Checkpoint.Json>

/**
 * The checkpoint schema: a map of stream name to `Position`.
 *
 * @category schemas
 * @since 0.1.0
 */
export const PostgresCheckpoint: Checkpoint.CheckpointSchema<PostgresCheckpoint> = Schema.Record(
  Schema.String,
  Position
) as unknown as Checkpoint.CheckpointSchema<PostgresCheckpoint>

/**
 * A record as read: column name → decoded value.
 *
 * @category models
 * @since 0.1.0
 */
export type Row = Record<string, unknown>

interface Resolved {
  readonly stream: string
  readonly from: internal.Relation
  readonly columns: ReadonlyArray<PostgresCodec.Column>
  readonly cursor: string | undefined
  readonly cursorOid: number | undefined
  readonly key: string | undefined
  readonly lag: string | undefined
  readonly lookback: string | undefined
  readonly includeNulls: boolean
  readonly chunks: SourceChunks.Chunking | undefined
}

const streamNameOf = (t: internal.TableName) => `${t.schema}.${t.table}`

const tableNameOf = (config: PostgresConfig.PostgresConfig, table: StreamOptions["table"]): internal.TableName =>
  typeof table === "string" ? { schema: PostgresConfig.schemaOf(config), table } : { schema: table[0], table: table[1] }

const notFound = (name: string, operation: string, detail: string) =>
  ConnectorError.make(name, operation, new ConnectorError.NotFound({ detail }))

const invalid = (name: string, operation: string, detail: string) =>
  ConnectorError.make(name, operation, new ConnectorError.Unknown({ detail }))

/**
 * A stream's relation and the columns it offers: a table checked against the catalog (the closed set), or a query
 * described in a read-only transaction.
 */
const relationOf = (
  pool: pg.Pool,
  name: string,
  config: PostgresConfig.PostgresConfig,
  options: StreamOptions | QueryStreamOptions,
  tables: ReadonlyArray<internal.TableName>
) =>
  Effect.gen(function* () {
    if ("query" in options) {
      const columns = yield* SourceQuery.columns(pool, options.query, "read")
      const twice = columns.map((c) => c.name).filter((c, i, all) => all.indexOf(c) !== i)
      if (twice.length > 0)
        return yield* invalid(
          name,
          "read",
          `The query of stream ${options.name} returns the column ${JSON.stringify(twice[0])} more than once: give each column its own name (an alias).`
        )
      return { stream: options.name, from: { query: options.query } as internal.Relation, rows: columns }
    }
    const table = tableNameOf(config, options.table)
    const stream = streamNameOf(table)
    const allowed = tables.map((t) => [t.schema, t.table] as const)
    yield* Effect.try({
      try: () => sql.ident([table.schema, table.table], allowed),
      catch: () =>
        notFound(name, "read", `The table ${stream} is not among the tables this connection can see: check its name.`)
    })
    const { rows } = yield* Pool.query<{ name: string; oid: number }>(pool, internal.listColumns(table), "read")
    return { stream, from: table as internal.Relation, rows }
  })

/** Checks a stream's relation, columns, cursor and key (see `relationOf`) and types its columns. */
const resolve = (
  pool: pg.Pool,
  name: string,
  config: PostgresConfig.PostgresConfig,
  options: StreamOptions | QueryStreamOptions,
  tables: ReadonlyArray<internal.TableName>
): Effect.Effect<Resolved, ConnectorError.ConnectorError> =>
  Effect.gen(function* () {
    const { stream, from, rows } = yield* relationOf(pool, name, config, options, tables)
    const byName = new Map(rows.map((r) => [r.name, r]))
    const wanted = ("columns" in options ? options.columns : undefined) ?? rows.map((r) => r.name)
    const missing = [...wanted, ...[options.key, options.cursor].filter((c) => c !== undefined)].filter(
      (c) => !byName.has(c)
    )
    if (missing.length > 0)
      return yield* notFound(
        name,
        "read",
        `${internal.isQuery(from) ? "The query of stream" : "The table"} ${stream} has no column ${missing.map((m) => JSON.stringify(m)).join(", ")}.`
      )
    const cursorOid = options.cursor === undefined ? undefined : byName.get(options.cursor)!.oid
    const interval = (option: "lag" | "lookback", value: number | string | undefined) => {
      if (value === undefined) return Effect.succeed(undefined)
      if (cursorOid === undefined || !internal.isTimestampOid(cursorOid))
        return Effect.fail(
          invalid(name, "read", `The ${option} of ${stream} needs a cursor column of type timestamp or timestamptz.`)
        )
      if (typeof value === "number" ? !Number.isFinite(value) || value < 0 : value.trim() === "")
        return Effect.fail(
          invalid(
            name,
            "read",
            `The ${option} of ${stream} must be milliseconds (a number ≥ 0) or an interval such as "5 minutes".`
          )
        )
      return Effect.succeed(internal.intervalText(value))
    }
    const lag = yield* interval("lag", options.lag)
    const lookback = yield* interval("lookback", options.lookback)
    if (options.onNull === "include-first" && options.cursor === undefined)
      return yield* invalid(name, "read", `onNull: "include-first" of ${stream} needs a cursor column.`)
    return {
      stream,
      from,
      columns: wanted.map((c) => ({ name: c, oid: byName.get(c)!.oid })),
      cursor: options.cursor,
      cursorOid,
      key: options.key,
      lag,
      lookback,
      includeNulls: options.onNull === "include-first",
      chunks: SourceOptions.chunkingOf(options)
    }
  })

/** A stream as `discover` reports it: each column's field type, PostgreSQL type and nullability. */
const streamInfo = (stream: string, columns: ReadonlyArray<internal.ColumnInfo>): Source.StreamInfo => {
  const properties: Record<string, Checkpoint.Json> = {}
  for (const c of columns)
    properties[c.name] = {
      "x-field-type": PostgresCodec.fieldType(c.oid),
      "x-postgres-type": c.type,
      "x-nullable": c.nullable
    }
  return { name: stream, jsonSchema: { type: "object", properties } }
}

const loadTables = (runner: pg.Pool | pg.PoolClient) =>
  Effect.map(Pool.query<{ schema: string; table: string }>(runner, internal.listTables, "discover"), (r) => r.rows)

/** A backfill's end for one stream: `to` is its position in `ReadContext.end` (absent: nothing to backfill). */
interface EndOf {
  readonly to: Position | undefined
}

/** Where a run is in a stream: in the NULL-cursor section or among valued rows, after a position. */
interface PageState {
  readonly nulls: boolean
  readonly after: internal.PageStart | undefined
  readonly lower: string | undefined
}

/** Rows per page (one COPY query) by default, unless the runner's batches are larger. */
const PAGE_ROWS = 10_000

const readStream = (
  name: string,
  pool: pg.Pool,
  resolved: Resolved,
  start: Position | undefined,
  end: EndOf | undefined,
  limit: number,
  positions: Record<string, Position>,
  groupRows: number,
  binary: boolean,
  undecoded: boolean
): Stream.Stream<Batch.Batch<Row, PostgresCheckpoint>, ConnectorError.ConnectorError> => {
  if (start !== undefined && "done" in start) return Stream.empty
  const hasCursor = resolved.cursor !== undefined
  if (start !== undefined && "page" in start !== (resolved.key === undefined))
    return Stream.fail(
      invalid(
        name,
        "read",
        `The checkpoint of ${resolved.stream} is ${"page" in start ? "a heap page, but the stream has a key" : "a key, but the stream has none"}.`
      )
    )
  if (start !== undefined && "key" in start && hasCursor && start.cursor === undefined)
    return Stream.fail(
      invalid(name, "read", `The checkpoint of ${resolved.stream} has no cursor value, but the stream has a cursor.`)
    )
  // A backfill: a stream absent from the end position has nothing to backfill; `done` bounds nothing.
  if (end !== undefined && end.to === undefined) return Stream.empty
  const endAt: internal.PageStart | undefined = end?.to === undefined || !("key" in end.to) ? undefined : end.to
  if (end?.to !== undefined && "page" in end.to)
    return Stream.fail(invalid(name, "read", `A backfill of ${resolved.stream} cannot end at a heap page.`))
  if (endAt !== undefined && hasCursor !== (endAt.cursor !== undefined))
    return Stream.fail(
      invalid(
        name,
        "read",
        `The backfill end of ${resolved.stream} ${hasCursor ? "has no cursor value, but the stream has a cursor" : "has a cursor value, but the stream has none"}.`
      )
    )
  const resumed = start === undefined || !("key" in start) ? undefined : start
  // The position after a batch, recorded for the batches that follow (of this and the other streams).
  const checkpoint = (position: Position): PostgresCheckpoint => {
    positions[resolved.stream] = position
    return { ...positions }
  }
  const key = resolved.key
  if (resolved.chunks !== undefined && !internal.isQuery(resolved.from))
    return SourceChunks.read({
      source: name,
      stream: resolved.stream,
      pool,
      table: resolved.from,
      columns: resolved.columns,
      key,
      limit,
      groupRows,
      binary,
      undecoded,
      chunking: resolved.chunks,
      start: start !== undefined && "page" in start ? start : resumed,
      end: endAt?.key,
      checkpoint
    })
  return Stream.unwrap(
    Effect.gen(function* () {
      const client = yield* Pool.client(pool, "read")
      yield* Transaction.readOnly(client)
      const context: SourcePage.PageContext = {
        source: name,
        client,
        from: resolved.from,
        columns: resolved.columns,
        cursor: resolved.cursor,
        key,
        limit,
        groupRows,
        binary,
        undecoded
      }
      const finished = (): ReadonlyArray<Batch.Batch<Row, PostgresCheckpoint>> =>
        hasCursor ? [] : SourcePage.toBatches(name, SourcePage.empty, resolved.stream, checkpoint, { done: true })
      // A query without a key: one COPY of the whole result.
      if (key === undefined) {
        const page = yield* SourcePage.read(context, { upper: null, after: undefined })
        return Stream.fromIterable(SourcePage.toBatches(name, page, resolved.stream, checkpoint, { done: true }))
      }
      const endValue = hasCursor ? endAt?.cursor : endAt?.key
      // An end inside the NULL section bounds the valued rows to none.
      const valuesEnd = endValue === null
      const { rows } = yield* Pool.query<{ upper: string | null }>(
        client,
        internal.upperBound(resolved.from, resolved.cursor ?? key, {
          end: endValue ?? undefined,
          lag: resolved.lag === undefined ? undefined : { interval: resolved.lag, cursorOid: resolved.cursorOid ?? 0 }
        }),
        "read"
      )
      const upper = valuesEnd ? null : (rows[0]?.upper ?? null)
      const inNulls = resumed === undefined || resumed.cursor === null
      const readNulls = hasCursor && resolved.includeNulls && inNulls
      if (upper === null && !readNulls) return Stream.fromIterable(finished())
      // A look-back moves a resumed run's start back in time (inclusive), from the beginning of that window.
      let lower: string | undefined
      if (resolved.lookback !== undefined && typeof resumed?.cursor === "string") {
        const moved = yield* Pool.query<{ lower: string }>(
          client,
          internal.lookbackFrom(resumed.cursor, resolved.lookback, resolved.cursorOid ?? 0),
          "read"
        )
        lower = moved.rows[0]!.lower
      }
      const initial: PageState = readNulls
        ? { nulls: true, after: resumed, lower: undefined }
        : {
            nulls: false,
            after: lower !== undefined || resumed?.cursor === null ? undefined : resumed,
            lower
          }
      return Stream.paginate(initial, (state: PageState) =>
        Effect.map(
          SourcePage.read(context, {
            upper,
            after: state.after,
            nulls: state.nulls,
            end: state.nulls ? (endAt?.cursor === null ? endAt : undefined) : endAt,
            lower: state.lower
          }),
          (page) => {
            const batches: Array<Batch.Batch<Row, PostgresCheckpoint>> = []
            if (page.last !== undefined) {
              batches.push(...SourcePage.toBatches(name, page, resolved.stream, checkpoint, page.last))
              if (page.rows >= limit) return [batches, Option.some({ ...state, after: page.last })] as const
            }
            // This section is read: after the NULL-cursor rows come the valued ones, if any are in bounds.
            if (state.nulls && upper !== null)
              return [batches, Option.some<PageState>({ nulls: false, after: undefined, lower: undefined })] as const
            return [[...batches, ...finished()], Option.none()] as const
          }
        )
      ).pipe(Stream.bufferArray({ capacity: 1 }))
    })
  )
}

/**
 * Makes a source over the given tables and queries, read one after the other. Throws a `ConfigError` naming the
 * field for a stream that cannot work (a query that is not one read statement written with `sql`, a cursor without
 * a key, `chunks` with a cursor or beyond the pool's size, two streams with one name).
 *
 * **Example** (Orders incrementally by `updated_at`, customers as a snapshot)
 *
 * ```ts
 * import { PostgresConfig, PostgresSource } from "@data-mcp/connector-postgres"
 *
 * const source = PostgresSource.make({
 *   connection: PostgresConfig.decodeSync({ host: "127.0.0.1", database: "shop" }),
 *   streams: [
 *     { table: "orders", cursor: "updated_at", key: "id" },
 *     { table: ["crm", "customers"], key: "id", columns: ["id", "email"] }
 *   ]
 * })
 * ```
 *
 * **Example** (A tenant's orders from a query; a big table in chunks, three at a time)
 *
 * ```ts
 * import { PostgresConfig, PostgresSource, Sql } from "@data-mcp/connector-postgres"
 *
 * const { sql } = Sql
 * const tenant = "acme"
 * const source = PostgresSource.make({
 *   connection: PostgresConfig.decodeSync({ host: "127.0.0.1", database: "shop", poolSize: 4 }),
 *   streams: [
 *     {
 *       name: "acme_orders",
 *       query: sql`select id, total, updated_at from orders where tenant = ${tenant}`,
 *       cursor: "updated_at",
 *       key: "id"
 *     },
 *     { table: "events", key: "id", chunks: { rows: 100_000, concurrency: 3 } }
 *   ]
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (input: PostgresSourceOptions): Source.Source<Row, PostgresCheckpoint> => {
  const options = {
    ...input,
    streams: input.streams.map((stream, i) =>
      "query" in stream
        ? stream
        : IncrementalStream.toStreamOptions(stream as StreamOptions | IncrementalStreamOptions, i)
    )
  }
  const name = options.name ?? "postgres"
  const config = options.connection
  SourceOptions.check(name === "postgres" ? "postgres source" : name, options)

  const withPool = <A>(
    f: (pool: pg.Pool) => Effect.Effect<A, ConnectorError.ConnectorError, Scope.Scope>
  ): Effect.Effect<A, ConnectorError.ConnectorError> => Effect.scoped(Effect.flatMap(Pool.pool(config), f))

  const read = (from: PostgresCheckpoint | undefined, context: Source.ReadContext) => {
    // Pages hand their rows over in groups that each end at a checkpoint; the runner joins groups into batches, so
    // pages stay small (memory) whatever the batch size.
    const limit = options.batchSize ?? PAGE_ROWS
    // Rows the sink loads as they are travel undecoded; in COPY binary when it takes that (see `PageContext.binary`).
    // (Records are decoded from COPY text: measured, the binary decoder costs Node more CPU than the server saves.)
    const binary = context.encodings?.includes(EncodedRows.COPY_BINARY) === true
    const encoded = binary || context.encodings?.includes(EncodedRows.COPY_TEXT) === true
    return Stream.unwrap(
      Effect.gen(function* () {
        const pool = yield* Pool.pool(config)
        const tables = yield* loadTables(pool)
        const resolved: Array<Resolved> = []
        for (const s of options.streams) resolved.push(yield* resolve(pool, name, config, s, tables))
        const end =
          context.end === undefined
            ? undefined
            : yield* Effect.try({
                try: () => Schema.decodeUnknownSync(PostgresCheckpoint)(context.end),
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
            positions,
            SourcePage.groupRows(encoded, context.batchRows),
            binary,
            encoded
          )
        )
      })
    )
  }

  const discover = () =>
    withPool((pool) =>
      Effect.gen(function* () {
        const tables = yield* loadTables(pool)
        const out: Array<Source.StreamInfo> = []
        for (const table of tables) {
          const { rows } = yield* Pool.query<internal.ColumnInfo>(pool, internal.listColumns(table), "discover")
          out.push(streamInfo(streamNameOf(table), rows))
        }
        // A query's columns as its result describes them; nullability is not known, so every column may be NULL.
        for (const stream of options.streams) {
          if (!("query" in stream)) continue
          const columns = yield* SourceQuery.columns(pool, stream.query, "discover")
          const { rows } = yield* Pool.query<{ oid: number; type: string }>(
            pool,
            internal.typeNames(columns.map((c) => c.oid)),
            "discover"
          )
          const types = new Map(rows.map((r) => [r.oid, r.type]))
          out.push(
            streamInfo(
              stream.name,
              columns.map((c) => ({ ...c, type: types.get(c.oid)!, nullable: true }))
            )
          )
        }
        return out
      })
    )

  // Tables: the planner's statistics (reltuples, relation size); queries: the planner's estimate of the result.
  const estimate = () =>
    withPool((pool) =>
      Effect.gen(function* () {
        const streams: Record<string, { rows: number; bytes: number }> = {}
        const names = options.streams.flatMap((s) => ("query" in s ? [] : [tableNameOf(config, s.table)]))
        const { rows } = yield* Pool.query<{ schema: string; table: string; rows: number; bytes: number }>(
          pool,
          internal.estimates(names),
          "estimate"
        )
        for (const r of rows) streams[streamNameOf(r)] = { rows: Math.max(0, Math.round(r.rows)), bytes: r.bytes }
        for (const stream of options.streams)
          if ("query" in stream) streams[stream.name] = yield* SourceQuery.estimate(name, pool, stream.query)
        let total = 0
        let bytes = 0
        for (const e of Object.values(streams)) {
          total += e.rows
          bytes += e.bytes
        }
        return { rows: total, bytes, streams } satisfies Source.Estimate
      })
    )

  const check = () => withPool((pool) => Effect.asVoid(Pool.query(pool, sql`select 1`, "check")))

  return Source.make<Row, PostgresCheckpoint>({
    name,
    checkpointSchema: PostgresCheckpoint,
    read,
    discover,
    estimate,
    check
  })
}
