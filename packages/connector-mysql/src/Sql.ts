/**
 * Queries are built with the `sql` tagged template and nothing else: every `${value}` becomes a bound `?`
 * placeholder (escaped by `mysql2` from the values array, never spliced in by this library), identifiers enter
 * only through `sql.ident` (backquoted, and checked against a closed set when one is given), and fragments
 * compose. There is no way to turn a string into SQL text, and a template whose literal text holds a second
 * statement (`;`) or a hand-written `?` is refused.
 *
 * @since 0.1.0
 */
import { SqlTemplate } from "@data-mcp/core"
import { dialect } from "./internal/sql.ts"

const made = SqlTemplate.make(dialect)

/**
 * A piece of SQL and its bound values. `text` has `?` where the values go; `values` are in that order.
 * `String(fragment)`, `JSON.stringify` and `util.inspect` show the text and the value count, never the values.
 *
 * @category models
 * @since 0.1.0
 */
export type Fragment = SqlTemplate.Fragment

/**
 * A query could not be built safely (a second statement, a raw `?`, a placeholder inside quotes, an identifier
 * outside its closed set). `retryable` is always `false`; the message never holds a bound value.
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
 * A backquoted identifier: `ident("orders")` is `` `orders` ``, `ident(["shop", "orders"])` is
 * `` `shop`.`orders` ``; a `` ` `` inside a name is doubled. With `allowed`, a name outside that closed set (for
 * example the tables `discover()` found) throws `SqlError`. Names longer than 64 characters, or holding a `?`
 * or a NUL, are refused.
 *
 * **Example** (A table name from a closed set)
 *
 * ```ts
 * import { Sql } from "@data-mcp/connector-mysql"
 *
 * const tables = [["shop", "orders"], ["shop", "customers"]]
 * const q = Sql.sql`select count(*) from ${Sql.ident(["shop", "orders"], tables)}`
 * q.text // select count(*) from `shop`.`orders`
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const ident: SqlTemplate.Sql["ident"] = made.ident

/**
 * Joins fragments with a separator fragment (default `, `). An empty list gives the empty fragment.
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
 * The tagged template that builds every query: each `${value}` becomes the next `?`, a `${fragment}` is
 * spliced in, and the literal text is checked (no `;`, no `?`, no placeholder inside quotes or a comment, no
 * `undefined` value — bind `null`). Violations throw `SqlError`.
 *
 * **Example** (A bound value and a quoted identifier)
 *
 * ```ts
 * import { Sql } from "@data-mcp/connector-mysql"
 *
 * const { sql } = Sql
 * const q = sql`select * from ${sql.ident(["shop", "orders"])} where id > ${42}`
 * q.text   // select * from `shop`.`orders` where id > ?
 * q.values // [42]
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
