// The queries behind PostgresSource: catalog look-ups (bound `sql` fragments) and the COPY statement of one
// keyset page. COPY takes no parameters, so its text is built by the server: a bound `format()` call renders
// every identifier with `%I` (quote_ident) and every value with `%L` (quote_literal); no value or name is ever
// spliced into SQL text on the client. A stream reads a table or a query written with `sql`: the query goes into
// plain statements as a bound fragment, and into COPY as its literal text with each value a `%L` of `format()`.
import type pg from "pg"
import * as PostgresCodec from "../PostgresCodec.ts"
import type * as Sql from "../Sql.ts"
import { sql } from "../Sql.ts"
import * as CopyOut from "./copyOut.ts"
import * as SourceBuffers from "./sourceBuffers.ts"

/** A table as the catalog names it. */
export interface TableName {
  readonly schema: string
  readonly table: string
}

/** A query stream's query: one read statement written with `sql`, every value bound. */
export interface QueryRelation {
  readonly query: Sql.Fragment
}

/** What a stream reads: a table (or view), or a query. */
export type Relation = TableName | QueryRelation

/** Whether a stream reads a query. */
export const isQuery = (from: Relation): from is QueryRelation => "query" in from

/** The relation for a FROM clause: the quoted table name, or the query in parentheses (its values bound). */
export const fromClause = (from: Relation): Sql.Fragment =>
  isQuery(from) ? sql`(${from.query})` : sql.ident([from.schema, from.table])

/** Every table, view and materialized view outside the system schemas: the closed set reads are checked against. */
export const listTables = sql`
  select n.nspname as schema, c.relname as table
  from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
  where c.relkind in ('r', 'p', 'v', 'm', 'f')
    and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg_toast%'
  order by 1, 2`

/** A column as the catalog describes it. */
export type ColumnInfo = {
  readonly name: string
  readonly oid: number
  readonly type: string
  readonly nullable: boolean
}

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
 * `least(largest, end, now() - lag)` when a backfill's end or a lag applies. The largest value is the first of a
 * descending `order by` (what keyset pages follow), not `max()`: that works for every type a key can have (there is
 * no `max(uuid)`), and an index on the column serves it the same way.
 */
export const upperBound = (from: Relation, column: string, options: UpperOptions = {}) => {
  const c = sql`t.${sql.ident(column)}`
  const largest = sql`(select ${c} from ${fromClause(from)} as t where ${c} is not null order by ${c} desc limit 1)`
  const bounds = [largest]
  if (options.end !== undefined) bounds.push(sql`${options.end}`)
  if (options.lag !== undefined)
    bounds.push(sql`(${clockFor(options.lag.cursorOid)} - ${options.lag.interval}::interval)`)
  return bounds.length === 1
    ? sql`select ${largest}::text as upper`
    : sql`select least(${sql.join(bounds)})::text as upper`
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

/** The columns of a relation's result, with their type OIDs (read off the row description of an empty result). */
export const describe = (from: Relation) => sql`select * from ${fromClause(from)} as t limit 0`

/** The printed names of type OIDs (as `format_type` prints them without a modifier). */
export const typeNames = (oids: ReadonlyArray<number>) =>
  sql`select u.oid::int as oid, pg_catalog.format_type(u.oid, null) as type from unnest(${[...oids]}::oid[]) as u(oid)`

/** The planner's estimate of a query's result: `EXPLAIN (FORMAT JSON)`, never run. */
export const explain = (query: Sql.Fragment) => sql`explain (format json) ${query}`

/**
 * Every `rows`-th key (as exact text) after `after` up to `upper`, in key order: the ends of chunks of `rows` rows
 * each (the last chunk ends at `upper`). One ordered pass over the keys (an index-only scan with an index on it).
 */
export const keyBoundaries = (from: Relation, key: string, after: string | undefined, upper: string, rows: number) => {
  const k = sql`t.${sql.ident(key)}`
  const lower = after === undefined ? sql.empty : sql`and ${k} > ${after}`
  return sql`select b.k as boundary from (
      select ${k}::text as k, pg_catalog.row_number() over (order by ${k}) as n
      from ${fromClause(from)} as t where ${k} <= ${upper} ${lower}) as b
    where b.n % ${rows}::bigint = 0 order by b.n`
}

/** A table's kind, heap pages now, and the planner's row and page counts (for rows per page). */
export const tablePages = (name: TableName) => sql`
  select c.relkind::text as kind,
    (pg_catalog.pg_relation_size(c.oid) / pg_catalog.current_setting('block_size')::bigint)::float8 as pages,
    c.reltuples::float8 as tuples, c.relpages::float8 as relpages
  from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
  where n.nspname = ${name.schema} and c.relname = ${name.table}`

/** The exact row count of a table in the transaction's snapshot. */
export const countRows = (name: TableName) =>
  sql`select count(*)::float8 as rows from ${sql.ident([name.schema, name.table])}`

/**
 * Holds a table against rewrites (VACUUM FULL, CLUSTER, TRUNCATE, REFRESH) while its CTID ranges are read: a
 * statement that names it takes ACCESS SHARE until the transaction ends (LOCK TABLE refuses materialized views).
 */
export const lockShared = (name: TableName) => sql`select from ${sql.ident([name.schema, name.table])} limit 0`

/** Exports the transaction's snapshot for other sessions to share. */
export const exportSnapshot = sql`select pg_catalog.pg_export_snapshot() as snapshot`

/**
 * The `SET TRANSACTION SNAPSHOT` statement for an exported snapshot, rendered by the server (`%L`): it takes no
 * parameters and must be a transaction's first statement, so it is rendered before the transaction begins.
 */
export const importSnapshot = (snapshot: string) =>
  sql`select pg_catalog.format('SET TRANSACTION SNAPSHOT %L', ${snapshot}::text) as statement`

/** Where a page starts: after this (cursor, key), or at the beginning. A `null` cursor is the NULL-cursor section. */
export interface PageStart {
  readonly cursor?: string | null
  readonly key: string
}

/** A range of heap pages `[from, to)` of a table without a key (`to` absent: to the end of the table). */
export interface PageRange {
  readonly from: number
  readonly to: number | undefined
}

/** One page (or one CTID range, or the whole relation) of a stream, as the arguments of the server-side `format()`. */
export interface PageQuery {
  readonly from: Relation
  readonly columns: ReadonlyArray<string>
  readonly cursor: string | undefined
  /** The key; absent: no keyset at all (a CTID range with `pages`, else the whole relation in one COPY). */
  readonly key: string | undefined
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
  /** Without a key: the heap pages to read (a TID range scan, PostgreSQL 14+). */
  readonly pages?: PageRange | undefined
}

// Positional format arguments: 1 column list (already quoted by the server), 2 schema, 3 table, 4 cursor column
// (the key column when there is no cursor), 5 key column, 6 upper bound, 7 last cursor, 8 last key, 9 limit,
// 10 end cursor, 11 end key, 12 look-back lower bound, 13 first TID, 14 TID past the range, then a query's bound
// values from 15 on. The statement is put together from the constant pieces below and a query's literal text
// (its `%` doubled, each bound value a `%n$L`), never from a value; the two trailing `::text` columns carry the
// page boundary in its exact text.
const QUERY_VALUES = 15

const KEY = {
  upper: "t.%5$I <= %6$L",
  after: "t.%5$I > %8$L",
  end: "t.%5$I <= %11$L",
  order: " ORDER BY t.%5$I LIMIT %9$s"
} as const

const CURSOR = {
  upper: "t.%4$I <= %6$L",
  after: "(t.%4$I, t.%5$I) > (%7$L, %8$L)",
  end: "(t.%4$I, t.%5$I) <= (%10$L, %11$L)",
  lower: "t.%4$I >= %12$L",
  nulls: "t.%4$I IS NULL",
  order: " ORDER BY t.%4$I, t.%5$I LIMIT %9$s"
} as const

const TID = { from: "t.ctid >= %13$L::tid", to: "t.ctid < %14$L::tid" } as const

/**
 * A query's literal text as a `format()` template: `%` doubled, each bound value a `%n$L` (quote_literal) from
 * argument `first` on, set apart by spaces so it never fuses with a neighbouring token.
 */
const queryTemplate = (query: Sql.Fragment, first: number): string => {
  let text = ""
  let n = first
  for (const segment of query.segments)
    text += segment._tag === "Text" ? segment.text.replaceAll("%", "%%") : ` %${n++}$L `
  return text
}

const fromTemplate = (from: Relation): string =>
  isQuery(from) ? `(${queryTemplate(from.query, QUERY_VALUES)})` : "%2$I.%3$I"

const whereOf = (page: PageQuery): ReadonlyArray<string> => {
  if (page.key === undefined)
    return page.pages === undefined ? [] : [TID.from, ...(page.pages.to === undefined ? [] : [TID.to])]
  const after = page.after !== undefined
  const end = page.end !== undefined
  if (page.cursor === undefined) return [KEY.upper, ...(after ? [KEY.after] : []), ...(end ? [KEY.end] : [])]
  if (page.nulls === true) return [CURSOR.nulls, ...(after ? [KEY.after] : []), ...(end ? [KEY.end] : [])]
  return [
    CURSOR.upper,
    ...(after ? [CURSOR.after] : []),
    ...(end ? [CURSOR.end] : []),
    ...(page.lower === undefined ? [] : [CURSOR.lower])
  ]
}

const templateOf = (page: PageQuery): string => {
  const keyed = page.key !== undefined
  const boundary =
    !keyed || page.withoutBoundary === true
      ? ""
      : page.cursor === undefined
        ? ", t.%5$I::text"
        : ", t.%4$I::text, t.%5$I::text"
  const where = whereOf(page)
  const order = !keyed ? "" : page.cursor === undefined || page.nulls === true ? KEY.order : CURSOR.order
  return `COPY (SELECT %1$s${boundary} FROM ${fromTemplate(page.from)} AS t${where.length === 0 ? "" : ` WHERE ${where.join(" AND ")}`}${order}) TO STDOUT`
}

/**
 * A query's bound value as a `format()` argument: its text as `pg` sends it, cast to text by the server (binary
 * values through `bytea`, so they arrive as the `\x…` text a bytea literal takes).
 */
const valueArgument = (value: unknown) => (ArrayBuffer.isView(value) ? sql`${value}::bytea::text` : sql`${value}::text`)

const tidOf = (page: number | undefined) => sql`'(' || ${page ?? null}::bigint || ',0)'`

/**
 * A bound query whose single result is the text of the page's COPY statement, rendered by PostgreSQL's
 * `format()`: identifiers through `%I`, values through `%L` (a query's bound values too), the limit as an
 * integer. All arguments go in one `VARIADIC text[]`, so a query may bind any number of values.
 */
export const renderCopy = (page: PageQuery) => {
  const table = isQuery(page.from) ? undefined : page.from
  const args = [
    sql`(select pg_catalog.string_agg('t.' || pg_catalog.quote_ident(u.c), ', ' order by u.o)
       from unnest(${[...page.columns]}::text[]) with ordinality as u(c, o))`,
    sql`${table?.schema ?? null}::text`,
    sql`${table?.table ?? null}::text`,
    sql`${page.cursor ?? page.key ?? null}::text`,
    sql`${page.key ?? null}::text`,
    sql`${page.upper}::text`,
    sql`${page.after?.cursor ?? null}::text`,
    sql`${page.after?.key ?? null}::text`,
    sql`${page.limit}::int::text`,
    sql`${page.end?.cursor ?? null}::text`,
    sql`${page.end?.key ?? null}::text`,
    sql`${page.lower ?? null}::text`,
    tidOf(page.pages?.from),
    tidOf(page.pages?.to),
    ...(isQuery(page.from) ? page.from.query.values.map(valueArgument) : [])
  ]
  return sql`select pg_catalog.format(${templateOf(page)}::text, variadic array[${sql.join(args)}]::text[]) as statement`
}

/** The names the page boundary columns decode under (stripped from the records). */
export const CURSOR_TEXT = "\u0000dm_cursor"
export const KEY_TEXT = "\u0000dm_key"

/**
 * Runs a rendered COPY … TO STDOUT and keeps its chunks (for encoded batches): as they came, or `pooled`, copied
 * into the pages of `SourceBuffers` (pinned: the caller lends the views it hands on, then unpins the chunks). With
 * the row count PostgreSQL reported (its `COPY n` command tag) when that arrived with the end of the data, as it
 * usually does; else `undefined` (count the rows).
 */
export const copyChunks = async (
  client: pg.PoolClient,
  statement: string,
  pooled = false
): Promise<{ readonly chunks: Array<Uint8Array>; readonly rows: number | undefined }> => {
  const chunks: Array<Uint8Array> = []
  const stream = client.query(CopyOut.make(statement))
  try {
    if (pooled) for await (const chunk of stream) SourceBuffers.append(chunk as Buffer, chunks)
    else for await (const chunk of stream) chunks.push(chunk as Buffer)
  } catch (e) {
    if (pooled) SourceBuffers.unpin(chunks)
    throw e
  }
  // The tag sets `rowCount` (0 until then; a page with no rows is counted, at no cost).
  return { chunks, rows: stream.rowCount > 0 ? stream.rowCount : undefined }
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
  const stream = client.query(CopyOut.make(statement))
  for await (const chunk of stream) decoder.pushInto(chunk as Buffer, rows)
  decoder.end()
  return { rows, aside: decoder.aside }
}
