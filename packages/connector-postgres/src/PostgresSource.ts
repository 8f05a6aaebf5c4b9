/**
 * A PostgreSQL source: reads tables (one stream each) with keyset pagination over `(cursor, key)` and the
 * `COPY … TO STDOUT` fast path, decoding every value losslessly with `PostgresCodec` (int8 → `bigint`, numeric →
 * exact string, timestamps → `Timestamp`, …).
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
 * **Checkpoint** (per stream, `"schema.table"`)
 *
 * - `{ cursor, key }` for a stream with a cursor; the values are the columns' exact text (`c::text`, with the
 *   codec's session settings), never converted to `Date` or `number`. It stays after the last page, so the next
 *   run reads what is new since.
 * - `{ key }` while a stream without a cursor (a snapshot by key) is being read, then `{ done: true }` once it
 *   has been read to the end; a `done` stream is not read again.
 *
 * @since 0.1.0
 */
import { Batch, type Checkpoint, ConnectorError, Source } from "@data-mcp/core"
import { Effect, Option, Schema, type Scope, Stream } from "effect"
import type pg from "pg"
import * as EncodedRows from "./internal/encodedRows.ts"
import * as IncrementalStream from "./internal/incremental.ts"
import * as Pool from "./internal/pool.ts"
import * as internal from "./internal/source.ts"
import * as PostgresCodec from "./PostgresCodec.ts"
import * as PostgresConfig from "./PostgresConfig.ts"
import * as PostgresError from "./PostgresError.ts"
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
  /** The primary key column: pages by it and breaks ties between equal cursor values. */
  readonly key: string
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
  /** The tables, each with its own options or with `incremental: Incremental.make({ cursor, tieBreaker, … })`. */
  readonly streams: ReadonlyArray<StreamOptions | IncrementalStreamOptions>
  /**
   * Rows per page, one `COPY` query each (default: 20,000, or the runner's batch size hint if larger). Pages are
   * handed over in groups that each end at a checkpoint, so the runner's batches need not match pages.
   */
  readonly batchSize?: number | undefined
  /** The source name in errors and logs (default `"postgres"`). */
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
 * The source's checkpoint: stream name (`"schema.table"`) → position.
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
  readonly table: internal.TableName
  readonly columns: ReadonlyArray<PostgresCodec.Column>
  readonly cursor: string | undefined
  readonly cursorOid: number | undefined
  readonly key: string
  readonly lag: string | undefined
  readonly lookback: string | undefined
  readonly includeNulls: boolean
}

const streamNameOf = (t: internal.TableName) => `${t.schema}.${t.table}`

const tableNameOf = (config: PostgresConfig.PostgresConfig, table: StreamOptions["table"]): internal.TableName =>
  typeof table === "string" ? { schema: PostgresConfig.schemaOf(config), table } : { schema: table[0], table: table[1] }

const notFound = (name: string, operation: string, detail: string) =>
  ConnectorError.make(name, operation, new ConnectorError.NotFound({ detail }))

const invalid = (name: string, operation: string, detail: string) =>
  ConnectorError.make(name, operation, new ConnectorError.Unknown({ detail }))

/** Checks a stream's table, columns, cursor and key against the catalog (the closed set) and types its columns. */
const resolve = (
  runner: pg.Pool | pg.PoolClient,
  name: string,
  config: PostgresConfig.PostgresConfig,
  options: StreamOptions,
  tables: ReadonlyArray<internal.TableName>
): Effect.Effect<Resolved, ConnectorError.ConnectorError> =>
  Effect.gen(function* () {
    const table = tableNameOf(config, options.table)
    const stream = streamNameOf(table)
    const allowed = tables.map((t) => [t.schema, t.table] as const)
    const known = yield* Effect.try({
      try: () => sql.ident([table.schema, table.table], allowed),
      catch: () =>
        notFound(name, "read", `The table ${stream} is not among the tables this connection can see: check its name.`)
    })
    void known
    const { rows } = yield* Pool.query<{ name: string; oid: number }>(runner, internal.listColumns(table), "read")
    const byName = new Map(rows.map((r) => [r.name, r]))
    const wanted = options.columns ?? rows.map((r) => r.name)
    const missing = [...wanted, options.key, ...(options.cursor === undefined ? [] : [options.cursor])].filter(
      (c) => !byName.has(c)
    )
    if (missing.length > 0)
      return yield* notFound(
        name,
        "read",
        `The table ${stream} has no column ${missing.map((m) => JSON.stringify(m)).join(", ")}.`
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
      table,
      columns: wanted.map((c) => ({ name: c, oid: byName.get(c)!.oid })),
      cursor: options.cursor,
      cursorOid,
      key: options.key,
      lag,
      lookback,
      includeNulls: options.onNull === "include-first"
    }
  })

const loadTables = (runner: pg.Pool | pg.PoolClient) =>
  Effect.map(Pool.query<{ schema: string; table: string }>(runner, internal.listTables, "discover"), (r) => r.rows)

/** A read-only snapshot transaction on a borrowed client, ended when the scope closes. */
const readOnly = (client: pg.PoolClient) =>
  Effect.acquireRelease(
    Effect.gen(function* () {
      yield* Pool.query(client, sql`begin isolation level repeatable read read only`, "read")
      for (const statement of PostgresCodec.sessionSettings)
        yield* Effect.tryPromise({
          try: () => client.query(`${statement}`),
          catch: (cause) => PostgresError.toConnectorError(cause, "read")
        })
    }),
    () => Effect.promise(() => client.query("rollback").catch(() => undefined))
  )

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

/** Rows per undecoded group of a page (see `encodedPage`). */
const GROUP_ROWS = 512

/** Rows per page (one COPY query) by default, unless the runner's batches are larger. */
const PAGE_ROWS = 20_000

const readStream = (
  name: string,
  pool: pg.Pool,
  resolved: Resolved,
  start: Position | undefined,
  end: EndOf | undefined,
  limit: number,
  positions: Record<string, Position>,
  /** Rows per undecoded group handed over (each with a checkpoint). */
  groupRows: number
): Stream.Stream<Batch.Batch<Row, PostgresCheckpoint>, ConnectorError.ConnectorError> => {
  if (start !== undefined && "done" in start) return Stream.empty
  const hasCursor = resolved.cursor !== undefined
  if (start !== undefined && hasCursor && start.cursor === undefined)
    return Stream.fail(
      invalid(name, "read", `The checkpoint of ${resolved.stream} has no cursor value, but the stream has a cursor.`)
    )
  // A backfill: a stream absent from the end position has nothing to backfill; `done` bounds nothing.
  if (end !== undefined && end.to === undefined) return Stream.empty
  const endAt: internal.PageStart | undefined = end?.to === undefined || "done" in end.to ? undefined : end.to
  if (endAt !== undefined && hasCursor !== (endAt.cursor !== undefined))
    return Stream.fail(
      invalid(
        name,
        "read",
        `The backfill end of ${resolved.stream} ${hasCursor ? "has no cursor value, but the stream has a cursor" : "has a cursor value, but the stream has none"}.`
      )
    )
  return Stream.unwrap(
    Effect.gen(function* () {
      const client = yield* Pool.client(pool, "read")
      yield* readOnly(client)
      const endValue = hasCursor ? endAt?.cursor : endAt?.key
      // An end inside the NULL section bounds the valued rows to none.
      const valuesEnd = endValue === null
      const { rows } = yield* Pool.query<{ upper: string | null }>(
        client,
        internal.upperBound(resolved.table, resolved.cursor ?? resolved.key, {
          end: endValue ?? undefined,
          lag: resolved.lag === undefined ? undefined : { interval: resolved.lag, cursorOid: resolved.cursorOid ?? 0 }
        }),
        "read"
      )
      const upper = valuesEnd ? null : (rows[0]?.upper ?? null)
      const finished = (): ReadonlyArray<Batch.Batch<Row, PostgresCheckpoint>> => {
        if (hasCursor) return []
        positions[resolved.stream] = { done: true }
        return [Batch.make<Row, PostgresCheckpoint>([], { stream: resolved.stream, checkpoint: { ...positions } })]
      }
      const resumed = start === undefined || "done" in start ? undefined : start
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
      const decodeColumns: Array<PostgresCodec.Column> = [
        ...resolved.columns,
        ...(hasCursor ? [{ name: internal.CURSOR_TEXT, oid: PostgresCodec.Oid.text }] : []),
        { name: internal.KEY_TEXT, oid: PostgresCodec.Oid.text }
      ]
      const boundaryColumns = hasCursor ? 2 : 1
      // Encoded pages when the runner asks for them and the boundary columns are among those read.
      const cursorIndex = hasCursor ? resolved.columns.findIndex((c) => c.name === resolved.cursor) : undefined
      const keyIndex = resolved.columns.findIndex((c) => c.name === resolved.key)
      const direct = keyIndex >= 0 && cursorIndex !== -1 ? { cursor: cursorIndex, key: keyIndex } : undefined
      // A group's records, decoded when first read (a failure is a typed error, thrown to whoever reads them).
      const decodeGroup = (part: Batch.Encoded): Array<Row> => {
        try {
          return EncodedRows.decode(part)
        } catch (cause) {
          throw cause instanceof PostgresCodec.CodecError
            ? ConnectorError.make(name, "read", new ConnectorError.Unknown({ detail: cause.message, cause }))
            : cause
        }
      }
      const encodedColumns = resolved.columns.map((c) => ({ name: c.name, type: String(c.oid) }))
      const page = (state: PageState) =>
        Effect.gen(function* () {
          const rendered = yield* Pool.query<{ statement: string }>(
            client,
            internal.renderCopy({
              table: resolved.table,
              columns: resolved.columns.map((c) => c.name),
              cursor: resolved.cursor,
              key: resolved.key,
              upper,
              after: state.after,
              limit,
              nulls: state.nulls,
              end: state.nulls ? (endAt?.cursor === null ? endAt : undefined) : endAt,
              lower: state.lower,
              withoutBoundary: direct !== undefined
            }),
            "read"
          )
          if (direct !== undefined) return yield* encodedPage(rendered.rows[0]!.statement, state)
          // The boundary columns are kept aside by the decoder (last row only), never put on the records.
          const { rows: records, aside } = yield* Effect.tryPromise({
            try: () => internal.copyRows(client, rendered.rows[0]!.statement, decodeColumns, boundaryColumns),
            catch: (cause) =>
              cause instanceof PostgresCodec.CodecError
                ? ConnectorError.make(name, "read", new ConnectorError.Unknown({ detail: cause.message, cause }))
                : PostgresError.toConnectorError(cause, "read")
          })
          let next: internal.PageStart | undefined
          if (records.length > 0) {
            next = !hasCursor
              ? { key: aside[0] as string }
              : { cursor: state.nulls ? null : (aside[0] as string), key: aside[1] as string }
          }
          return { records, next, encoded: undefined, rows: records.length }
        })
      // Pages read as COPY text chunks, the boundary read off the last row. Handed over undecoded in groups of
      // about GROUP_ROWS rows that decode when something reads their records: a group's records are made (and
      // die) one group at a time, not a page at a time; when the runner asked for COPY text, never.
      const encodedPage = (statement: string, state: PageState) =>
        Effect.tryPromise({
          try: async () => {
            const chunks = await internal.copyChunks(client, statement)
            const groups = EncodedRows.groupRows(chunks, groupRows)
            // Every group ends at a row, so its last row is a position: each group carries a checkpoint.
            const parts = groups.map((g) => {
              const [cursor, key] = EncodedRows.lastRowFields(g.chunks, resolved.columns.length, [
                direct!.cursor ?? direct!.key,
                direct!.key
              ])
              const at: internal.PageStart = !hasCursor
                ? { key: key! }
                : { cursor: state.nulls ? null : cursor!, key: key! }
              const part: Batch.Encoded = {
                format: EncodedRows.COPY_TEXT,
                columns: encodedColumns,
                rows: g.rows,
                chunks: g.chunks
              }
              return { part, at }
            })
            const rows = groups.reduce((n, g) => n + g.rows, 0)
            return { records: undefined, next: parts.at(-1)?.at, encoded: parts, rows }
          },
          catch: (cause) =>
            cause instanceof PostgresCodec.CodecError
              ? ConnectorError.make(name, "read", new ConnectorError.Unknown({ detail: cause.message, cause }))
              : PostgresError.toConnectorError(cause, "read")
        })
      const initial: PageState = readNulls
        ? { nulls: true, after: resumed, lower: undefined }
        : {
            nulls: false,
            after: lower !== undefined || resumed?.cursor === null ? undefined : resumed,
            lower
          }
      return Stream.paginate(initial, (state: PageState) =>
        Effect.map(page(state), ({ records, next, encoded: parts, rows }) => {
          const batches: Array<Batch.Batch<Row, PostgresCheckpoint>> = []
          if (next !== undefined) {
            if (parts === undefined) {
              positions[resolved.stream] = next
              batches.push(
                Batch.make<Row, PostgresCheckpoint>(records!, { stream: resolved.stream, checkpoint: { ...positions } })
              )
            } else
              for (const { part, at } of parts) {
                positions[resolved.stream] = at
                batches.push(
                  Batch.makeEncoded<Row, PostgresCheckpoint>(part, {
                    decode: () => decodeGroup(part),
                    stream: resolved.stream,
                    checkpoint: { ...positions }
                  })
                )
              }
            if (rows >= limit) return [batches, Option.some({ ...state, after: next })] as const
          }
          // This section is read: after the NULL-cursor rows come the valued ones, if any are in bounds.
          if (state.nulls && upper !== null)
            return [batches, Option.some<PageState>({ nulls: false, after: undefined, lower: undefined })] as const
          return [[...batches, ...finished()], Option.none()] as const
        })
      )
    })
  )
}

/**
 * Makes a source over the given tables, read one after the other.
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
 * @category constructors
 * @since 0.1.0
 */
export const make = (input: PostgresSourceOptions): Source.Source<Row, PostgresCheckpoint> => {
  const options = { ...input, streams: input.streams.map(IncrementalStream.toStreamOptions) }
  const name = options.name ?? "postgres"
  const config = options.connection

  const withPool = <A>(
    f: (pool: pg.Pool) => Effect.Effect<A, ConnectorError.ConnectorError, Scope.Scope>
  ): Effect.Effect<A, ConnectorError.ConnectorError> => Effect.scoped(Effect.flatMap(Pool.pool(config), f))

  const read = (from: PostgresCheckpoint | undefined, context: Source.ReadContext) => {
    // Pages read as undecoded groups (see `encodedPage`) checkpoint every group, so they can be larger than a batch.
    const limit = options.batchSize ?? Math.max(context.batchRows, PAGE_ROWS)
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
            // Groups decode (when read) one at a time, at most the batch size hint; asked for COPY text, batch-sized.
            context.encodings?.includes(EncodedRows.COPY_TEXT) === true
              ? context.batchRows
              : Math.min(GROUP_ROWS, context.batchRows)
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
          const { rows } = yield* Pool.query<{ name: string; oid: number; type: string; nullable: boolean }>(
            pool,
            internal.listColumns(table),
            "discover"
          )
          const properties: Record<string, Checkpoint.Json> = {}
          for (const c of rows)
            properties[c.name] = {
              "x-field-type": PostgresCodec.fieldType(c.oid),
              "x-postgres-type": c.type,
              "x-nullable": c.nullable
            }
          out.push({ name: streamNameOf(table), jsonSchema: { type: "object", properties } })
        }
        return out
      })
    )

  const estimate = () =>
    withPool((pool) =>
      Effect.gen(function* () {
        const names = options.streams.map((s) => tableNameOf(config, s.table))
        const { rows } = yield* Pool.query<{ schema: string; table: string; rows: number; bytes: number }>(
          pool,
          internal.estimates(names),
          "estimate"
        )
        const streams: Record<string, { rows: number; bytes: number }> = {}
        let total = 0
        let bytes = 0
        for (const r of rows) {
          const n = Math.max(0, Math.round(r.rows))
          streams[streamNameOf(r)] = { rows: n, bytes: r.bytes }
          total += n
          bytes += r.bytes
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
