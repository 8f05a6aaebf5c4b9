// The queries behind PostgresSource: catalog look-ups (bound `sql` fragments) and the COPY statement of one
// keyset page. COPY takes no parameters, so its text is built by the server: a bound `format()` call renders
// every identifier with `%I` (quote_ident) and every value with `%L` (quote_literal); no value or name is ever
// spliced into SQL text on the client.
import type pg from "pg"
import { to as copyTo } from "pg-copy-streams"
import * as PostgresCodec from "../PostgresCodec.ts"
import { sql } from "../Sql.ts"

/** A table as the catalog names it. */
export interface TableName {
  readonly schema: string
  readonly table: string
}

/** Every table, view and materialized view outside the system schemas: the closed set reads are checked against. */
export const listTables = sql`
  select n.nspname as schema, c.relname as table
  from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
  where c.relkind in ('r', 'p', 'v', 'm', 'f')
    and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg_toast%'
  order by 1, 2`

/** The live columns of one table, in order, with their type OIDs and printed types. */
export const listColumns = (name: TableName) => sql`
  select a.attname as name, a.atttypid::int as oid, pg_catalog.format_type(a.atttypid, a.atttypmod) as type,
    not a.attnotnull as nullable
  from pg_catalog.pg_attribute a
  where a.attrelid = (
    select c.oid from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
    where n.nspname = ${name.schema} and c.relname = ${name.table})
    and a.attnum > 0 and not a.attisdropped
  order by a.attnum`

/** How far a lagged bound stays behind the clock: milliseconds or a PostgreSQL interval (`"5 minutes"`). */
export type Lag = number | string

/** A lag or look-back as interval text, bound as a value and cast with `::interval` by the server. */
export const intervalText = (lag: Lag): string => (typeof lag === "number" ? `${lag} milliseconds` : lag)

/** The current time in the cursor's type: `now()` for timestamptz, `localtimestamp` (UTC session) for timestamp. */
const clockFor = (cursorOid: number) => (cursorOid === PostgresCodec.Oid.timestamp ? sql`localtimestamp` : sql`now()`)

/** Whether a cursor column can take a `lag` or a `lookback`: timestamp or timestamptz. */
export const isTimestampOid = (oid: number): boolean =>
  oid === PostgresCodec.Oid.timestamp || oid === PostgresCodec.Oid.timestamptz

/** What bounds a run's upper end besides the column's maximum. */
export interface UpperOptions {
  /** `now() - lag` (in the cursor's type). */
  readonly lag?: { readonly interval: string; readonly cursorOid: number } | undefined
  /** A backfill's end value (exact text, cast by the server to the column's type). */
  readonly end?: string | undefined
}

/**
 * The largest value of a column as its exact text: the upper bound of a run, fixed in the run's snapshot;
 * `least(max(c), end, now() - lag)` when a backfill's end or a lag applies.
 */
export const upperBound = (name: TableName, column: string, options: UpperOptions = {}) => {
  const bounds = [sql`max(t.${sql.ident(column)})`]
  if (options.end !== undefined) bounds.push(sql`${options.end}`)
  if (options.lag !== undefined)
    bounds.push(sql`(${clockFor(options.lag.cursorOid)} - ${options.lag.interval}::interval)`)
  return bounds.length === 1
    ? sql`select max(t.${sql.ident(column)})::text as upper from ${sql.ident([name.schema, name.table])} as t`
    : sql`select least(${sql.join(bounds)})::text as upper from ${sql.ident([name.schema, name.table])} as t`
}

/** A checkpoint's cursor value moved back by a look-back interval, as exact text in the cursor's type. */
export const lookbackFrom = (cursor: string, interval: string, cursorOid: number) =>
  cursorOid === PostgresCodec.Oid.timestamp
    ? sql`select (${cursor}::timestamp - ${interval}::interval)::text as lower`
    : sql`select (${cursor}::timestamptz - ${interval}::interval)::text as lower`

/** Planner estimates of rows and bytes for tables. */
export const estimates = (names: ReadonlyArray<TableName>) => sql`
  select n.nspname as schema, c.relname as table, c.reltuples::float8 as rows,
    pg_catalog.pg_total_relation_size(c.oid)::float8 as bytes
  from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
  where (n.nspname, c.relname) in (
    select * from unnest(${names.map((n) => n.schema)}::text[], ${names.map((n) => n.table)}::text[]))`

/** Where a page starts: after this (cursor, key), or at the beginning. A `null` cursor is the NULL-cursor section. */
export interface PageStart {
  readonly cursor?: string | null
  readonly key: string
}

/** One keyset page of a stream, as the arguments of the server-side `format()`. */
export interface PageQuery {
  readonly table: TableName
  readonly columns: ReadonlyArray<string>
  readonly cursor: string | undefined
  readonly key: string
  /** The run's upper bound (unused in the NULL-cursor section). */
  readonly upper: string | null
  readonly after: PageStart | undefined
  readonly limit: number
  /** Read the rows whose cursor is NULL (by key) instead of the valued ones. */
  readonly nulls?: boolean | undefined
  /** A backfill's end: no row past `(cursor, key)` (or past `key` in the NULL section / without a cursor). */
  readonly end?: PageStart | undefined
  /** A look-back's inclusive lower bound on the cursor (the first page of a run). */
  readonly lower?: string | undefined
  /** Leave out the two trailing boundary columns (the caller reads the boundary off the last row itself). */
  readonly withoutBoundary?: boolean | undefined
}

// Positional format arguments: 1 column list (already quoted by the server), 2 schema, 3 table, 4 cursor column
// (the key column when there is no cursor), 5 key column, 6 upper bound, 7 last cursor, 8 last key, 9 limit,
// 10 end cursor, 11 end key, 12 look-back lower bound. The WHERE clause is put together from the constant pieces
// below (never from a value); the two trailing `::text` columns carry the page boundary in its exact text.
const PIECES = {
  cursorSelect: "COPY (SELECT %1$s, t.%4$I::text, t.%5$I::text FROM %2$I.%3$I AS t WHERE ",
  keySelect: "COPY (SELECT %1$s, t.%5$I::text FROM %2$I.%3$I AS t WHERE ",
  plainSelect: "COPY (SELECT %1$s FROM %2$I.%3$I AS t WHERE ",
  cursorUpper: "t.%4$I <= %6$L",
  cursorAfter: " AND (t.%4$I, t.%5$I) > (%7$L, %8$L)",
  cursorEnd: " AND (t.%4$I, t.%5$I) <= (%10$L, %11$L)",
  cursorLower: " AND t.%4$I >= %12$L",
  cursorOrder: " ORDER BY t.%4$I, t.%5$I LIMIT %9$s) TO STDOUT",
  nullsOnly: "t.%4$I IS NULL",
  keyUpper: "t.%5$I <= %6$L",
  keyAfter: " AND t.%5$I > %8$L",
  keyEnd: " AND t.%5$I <= %11$L",
  keyOrder: " ORDER BY t.%5$I LIMIT %9$s) TO STDOUT"
} as const

const templateOf = (page: PageQuery): string => {
  const plain = page.withoutBoundary === true
  if (page.cursor === undefined)
    return (
      (plain ? PIECES.plainSelect : PIECES.keySelect) +
      PIECES.keyUpper +
      (page.after === undefined ? "" : PIECES.keyAfter) +
      (page.end === undefined ? "" : PIECES.keyEnd) +
      PIECES.keyOrder
    )
  if (page.nulls === true)
    return (
      (plain ? PIECES.plainSelect : PIECES.cursorSelect) +
      PIECES.nullsOnly +
      (page.after === undefined ? "" : PIECES.keyAfter) +
      (page.end === undefined ? "" : PIECES.keyEnd) +
      PIECES.keyOrder
    )
  return (
    (plain ? PIECES.plainSelect : PIECES.cursorSelect) +
    PIECES.cursorUpper +
    (page.after === undefined ? "" : PIECES.cursorAfter) +
    (page.end === undefined ? "" : PIECES.cursorEnd) +
    (page.lower === undefined ? "" : PIECES.cursorLower) +
    PIECES.cursorOrder
  )
}

/**
 * A bound query whose single result is the text of the page's COPY statement, rendered by PostgreSQL's
 * `format()`: identifiers through `%I`, values through `%L`, the limit as an integer.
 */
export const renderCopy = (page: PageQuery) =>
  sql`select pg_catalog.format(${templateOf(page)}::text,
    (select pg_catalog.string_agg('t.' || pg_catalog.quote_ident(u.c), ', ' order by u.o)
       from unnest(${[...page.columns]}::text[]) with ordinality as u(c, o)),
    ${page.table.schema}::text, ${page.table.table}::text, ${page.cursor ?? page.key}::text, ${page.key}::text,
    ${page.upper}::text, ${page.after?.cursor ?? null}::text, ${page.after?.key ?? null}::text,
    ${page.limit}::int, ${page.end?.cursor ?? null}::text, ${page.end?.key ?? null}::text,
    ${page.lower ?? null}::text) as statement`

/** The names the page boundary columns decode under (stripped from the records). */
export const CURSOR_TEXT = "\u0000dm_cursor"
export const KEY_TEXT = "\u0000dm_key"

/** Runs a rendered COPY … TO STDOUT and keeps its chunks as they came (for encoded batches). */
export const copyChunks = async (client: pg.PoolClient, statement: string): Promise<Array<Uint8Array>> => {
  const chunks: Array<Uint8Array> = []
  const stream = client.query(copyTo(statement))
  for await (const chunk of stream) chunks.push(chunk as Buffer)
  return chunks
}

/** Runs a rendered COPY … TO STDOUT and decodes its rows. */
export const copyRows = async (
  client: pg.PoolClient,
  statement: string,
  columns: ReadonlyArray<PostgresCodec.Column>,
  aside = 0
): Promise<{ readonly rows: Array<PostgresCodec.Row>; readonly aside: ReadonlyArray<unknown> }> => {
  const decoder = PostgresCodec.makeDecoder(columns, { aside })
  const rows: Array<PostgresCodec.Row> = []
  const stream = client.query(copyTo(statement))
  for await (const chunk of stream) decoder.pushInto(chunk as Buffer, rows)
  decoder.end()
  return { rows, aside: decoder.aside }
}
