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

/** The largest value of a column as its exact text: the upper bound of a run, fixed in the run's snapshot. */
export const upperBound = (name: TableName, column: string) =>
  sql`select max(${sql.ident(column)})::text as upper from ${sql.ident([name.schema, name.table])}`

/** Planner estimates of rows and bytes for tables. */
export const estimates = (names: ReadonlyArray<TableName>) => sql`
  select n.nspname as schema, c.relname as table, c.reltuples::float8 as rows,
    pg_catalog.pg_total_relation_size(c.oid)::float8 as bytes
  from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
  where (n.nspname, c.relname) in (
    select * from unnest(${names.map((n) => n.schema)}::text[], ${names.map((n) => n.table)}::text[]))`

/** Where a page starts: after this (cursor, key), or at the beginning. */
export interface PageStart {
  readonly cursor?: string
  readonly key: string
}

/** One keyset page of a stream, as the arguments of the server-side `format()`. */
export interface PageQuery {
  readonly table: TableName
  readonly columns: ReadonlyArray<string>
  readonly cursor: string | undefined
  readonly key: string
  readonly upper: string
  readonly after: PageStart | undefined
  readonly limit: number
}

// Positional format arguments: 1 column list (already quoted by the server), 2 schema, 3 table, 4 cursor column
// (the key column when there is no cursor), 5 key column, 6 upper bound, 7 last cursor, 8 last key, 9 limit.
// The two trailing `::text` columns carry the page boundary in its exact text encoding.
const TEMPLATES = {
  cursorFirst:
    "COPY (SELECT %1$s, t.%4$I::text, t.%5$I::text FROM %2$I.%3$I AS t WHERE t.%4$I <= %6$L ORDER BY t.%4$I, t.%5$I LIMIT %9$s) TO STDOUT",
  cursorAfter:
    "COPY (SELECT %1$s, t.%4$I::text, t.%5$I::text FROM %2$I.%3$I AS t WHERE (t.%4$I, t.%5$I) > (%7$L, %8$L) AND t.%4$I <= %6$L ORDER BY t.%4$I, t.%5$I LIMIT %9$s) TO STDOUT",
  keyFirst:
    "COPY (SELECT %1$s, t.%5$I::text FROM %2$I.%3$I AS t WHERE t.%5$I <= %6$L ORDER BY t.%5$I LIMIT %9$s) TO STDOUT",
  keyAfter:
    "COPY (SELECT %1$s, t.%5$I::text FROM %2$I.%3$I AS t WHERE t.%5$I > %8$L AND t.%5$I <= %6$L ORDER BY t.%5$I LIMIT %9$s) TO STDOUT"
} as const

/**
 * A bound query whose single result is the text of the page's COPY statement, rendered by PostgreSQL's
 * `format()`: identifiers through `%I`, values through `%L`, the limit as an integer.
 */
export const renderCopy = (page: PageQuery) => {
  const template =
    page.cursor === undefined
      ? page.after === undefined
        ? TEMPLATES.keyFirst
        : TEMPLATES.keyAfter
      : page.after === undefined
        ? TEMPLATES.cursorFirst
        : TEMPLATES.cursorAfter
  return sql`select pg_catalog.format(${template}::text,
    (select pg_catalog.string_agg('t.' || pg_catalog.quote_ident(u.c), ', ' order by u.o)
       from unnest(${[...page.columns]}::text[]) with ordinality as u(c, o)),
    ${page.table.schema}::text, ${page.table.table}::text, ${page.cursor ?? page.key}::text, ${page.key}::text,
    ${page.upper}::text, ${page.after?.cursor ?? null}::text, ${page.after?.key ?? null}::text,
    ${page.limit}::int) as statement`
}

/** The names the page boundary columns decode under (stripped from the records). */
export const CURSOR_TEXT = "\u0000dm_cursor"
export const KEY_TEXT = "\u0000dm_key"

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
