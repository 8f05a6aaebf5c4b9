/**
 * Queries are built with the `sql` tagged template and nothing else: every `${value}` becomes a bound
 * parameter (`$1`, `$2`, …), identifiers enter only through `sql.ident` (double-quoted, and checked against a
 * closed set when one is given), and fragments compose with their parameters renumbered. There is no way to
 * turn a string into SQL text, and a template whose literal text holds a second statement (`;`) is refused.
 *
 * @since 0.1.0
 */
import { SqlTemplate } from "@data-mcp/core"
import { dialect } from "./internal/sql.ts"

const made = SqlTemplate.make(dialect)

/**
 * A piece of SQL and its bound values. `text` has `$1…$n` where the values go; `values` are in that order.
 * `String(fragment)`, `JSON.stringify` and `util.inspect` show the text and the value count, never the values.
 *
 * @category models
 * @since 0.1.0
 */
export type Fragment = SqlTemplate.Fragment

/**
 * A query could not be built safely (a second statement, a raw `$n`, a placeholder inside quotes, an
 * identifier outside its closed set). `retryable` is always `false`; the message says what to change and
 * never holds a bound value.
 *
 * @category errors
 * @since 0.1.0
 */
export const SqlError: typeof SqlTemplate.SqlError = SqlTemplate.SqlError

/**
 * The type of `SqlError`.
 *
 * @category errors
 * @since 0.1.0
 */
export type SqlError = SqlTemplate.SqlError

/**
 * The `sql` tagged template with its helpers.
 *
 * @category models
 * @since 0.1.0
 */
export type Sql = SqlTemplate.Sql

/**
 * A quoted identifier: `ident("orders")` is `"orders"`, `ident(["public", "orders"])` is
 * `"public"."orders"`; a `"` inside a name is doubled. With `allowed`, a name outside that closed set (for
 * example the tables `discover()` found) throws `SqlError`. Names longer than 63 bytes, which PostgreSQL
 * would truncate, are refused.
 *
 * **Example** (A table name from a closed set)
 *
 * ```ts
 * import { Sql } from "@data-mcp/connector-postgres"
 *
 * const tables = [["public", "orders"], ["public", "customers"]]
 * const q = Sql.sql`select count(*) from ${Sql.ident(["public", "orders"], tables)}`
 * q.text // select count(*) from "public"."orders"
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const ident: SqlTemplate.Sql["ident"] = made.ident

/**
 * Joins fragments with a separator fragment (default `sql\`, \``), renumbering their parameters. An empty list
 * gives the empty fragment.
 *
 * **Example** (A column list and a values list)
 *
 * ```ts
 * import { Sql } from "@data-mcp/connector-postgres"
 *
 * const row = { id: 1, name: "a" }
 * const columns = Sql.join(Object.keys(row).map((c) => Sql.ident(c)))
 * const values = Sql.join(Object.values(row).map((v) => Sql.sql`${v}`))
 * const q = Sql.sql`insert into ${Sql.ident("t")} (${columns}) values (${values})`
 * q.text // insert into "t" ("id", "name") values ($1, $2)
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const join: SqlTemplate.Sql["join"] = made.join

/**
 * The empty fragment (no text, no values).
 *
 * @category constructors
 * @since 0.1.0
 */
export const empty: Fragment = made.empty

/**
 * The tagged template that builds every query. Each `${value}` becomes the next `$n` parameter, a
 * `${fragment}` (from `sql`, `sql.ident` or `sql.join`) is spliced in with its parameters renumbered, and the
 * template's literal text is checked: no `;` outside quotes (one statement per query), no hand-written `$n`,
 * no placeholder inside quotes or a comment, no `undefined` value (bind `null`). Violations throw `SqlError`.
 *
 * **Example** (A bound value and a quoted identifier)
 *
 * ```ts
 * import { Sql } from "@data-mcp/connector-postgres"
 *
 * const { sql } = Sql
 * const q = sql`select * from ${sql.ident(["public", "orders"])} where id > ${42}`
 * q.text   // select * from "public"."orders" where id > $1
 * q.values // [42]
 * ```
 *
 * **Example** (Composition renumbers parameters)
 *
 * ```ts
 * import { Sql } from "@data-mcp/connector-postgres"
 *
 * const { sql } = Sql
 * const since = sql`created_at >= ${"2026-01-01"}`
 * const q = sql`select * from t where status = ${"paid"} and ${since}`
 * q.text // select * from t where status = $1 and created_at >= $2
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const sql: Sql = made

/**
 * Whether a value is a `Fragment`.
 *
 * @category guards
 * @since 0.1.0
 */
export const isFragment = (u: unknown): u is Fragment => SqlTemplate.isFragment(u) && u.dialect === dialect

/**
 * The `{ text, values }` object `pg`'s `client.query` takes, as a fresh mutable array.
 *
 * @category conversions
 * @since 0.1.0
 */
export const toQueryConfig = (fragment: Fragment): { readonly text: string; readonly values: Array<unknown> } => ({
  text: fragment.text,
  values: [...fragment.values]
})
