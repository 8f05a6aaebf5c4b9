/**
 * Safe SQL for connectors, as a `sql` tagged template made for one dialect: every interpolated value is bound as a
 * parameter, identifiers come only through `sql.ident` (quoted, optionally checked against a closed set), and
 * fragments splice into each other. The literal text of each template is checked once, when it is built, by the
 * dialect's scanner (one statement; no raw placeholder; no value inside quotes or a comment), so a query can only
 * be made of the code's own text, quoted identifiers and bound values. A fragment prints its text and how many
 * values it binds, never the values.
 *
 * **Example** (A dialect's `sql`)
 *
 * ```ts
 * import { SqlTemplate } from "@data-mcp/core"
 *
 * const sql = SqlTemplate.make({
 *   name: "ExampleSQL",
 *   placeholder: (n) => `$${n}`,
 *   quoteIdent: (part) => `"${part.replaceAll('"', '""')}"`,
 *   identifier: { maxParts: 2, parts: "column, or schema.table", check: () => {} },
 *   checkTemplate: () => {}
 * })
 * const q = sql`select * from ${sql.ident(["shop", "orders"])} where id = ${42}`
 * q.text // select * from "shop"."orders" where id = $1
 * q.values // [42]
 * ```
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * A query could not be built safely: a second statement, a raw placeholder, a value inside quotes, an identifier
 * outside its closed set. A programming error: it never goes away by retrying.
 *
 * @category errors
 * @since 0.1.0
 */
export class SqlError extends Schema.TaggedError<SqlError>("@data-mcp/core/SqlError")("SqlError", {
  /** What is wrong and how to fix it. Never holds a bound value. */
  detail: Schema.String
}) {
  /** A malformed query stays malformed. */
  get retryable(): boolean {
    return false
  }

  override get message(): string {
    return this.detail
  }
}

/**
 * How one SQL dialect writes placeholders and identifiers, and checks the literal text of its templates.
 *
 * @category models
 * @since 0.1.0
 */
export interface Dialect {
  /** The database's name, for messages (`PostgreSQL`). */
  readonly name: string
  /** The placeholder of the `position`-th bound value (1-based): `$1`, `?`. */
  readonly placeholder: (position: number) => string
  /** One identifier part, quoted. */
  readonly quoteIdent: (part: string) => string
  readonly identifier: {
    /** At most this many dotted parts. */
    readonly maxParts: number
    /** What the parts are, for messages (`column, table, schema.table`). */
    readonly parts: string
    /** Throws `SqlError` for a part the database would refuse or change (too long, a forbidden character). */
    readonly check: (part: string) => void
  }
  /**
   * Scans the literal parts of one template (the text between its values) as one text with holes. Throws
   * `SqlError` for a second statement, a raw placeholder, a hole inside quotes or a comment, or text that ends
   * inside quotes or a comment.
   */
  readonly checkTemplate: (parts: ReadonlyArray<string>) => void
}

/** How a value is written in a template, for messages. */
// biome-ignore lint/suspicious/noTemplateCurlyInString: the text of a placeholder, shown to the user
export const HOLE = "${value}"

const FragmentTypeId: unique symbol = Symbol.for("@data-mcp/core/SqlTemplate/Fragment")
const PRIVATE: unique symbol = Symbol("@data-mcp/core/SqlTemplate/private")

type Segment = { readonly _tag: "Text"; readonly text: string } | { readonly _tag: "Value"; readonly value: unknown }

/**
 * A piece of SQL of one dialect with its bound values, built only by a dialect's `sql`, `sql.ident` and
 * `sql.join`.
 *
 * @category models
 * @since 0.1.0
 */
export class Fragment {
  readonly [FragmentTypeId]: typeof FragmentTypeId = FragmentTypeId
  /** The dialect that built it: fragments of two dialects never mix. */
  readonly dialect: Dialect
  /** The SQL text, with the dialect's placeholders where the values go. */
  readonly text: string
  /** The bound values, in placeholder order. */
  readonly values: ReadonlyArray<unknown>
  /** @internal */
  readonly segments: ReadonlyArray<Segment>

  /** @internal Only this module builds fragments: the token is private to it. */
  constructor(token: unknown, dialect: Dialect, segments: ReadonlyArray<Segment>) {
    if (token !== PRIVATE) {
      throw new SqlError({ detail: "Fragments are built with sql`…`, sql.ident and sql.join, never constructed." })
    }
    this.dialect = dialect
    this.segments = segments
    let text = ""
    const values: Array<unknown> = []
    for (const segment of segments) {
      if (segment._tag === "Text") text += segment.text
      else {
        values.push(segment.value)
        text += dialect.placeholder(values.length)
      }
    }
    this.text = text
    this.values = values
  }

  /** Never prints the values: a fragment shows its text and how many values it binds. */
  toString(): string {
    return `Sql(${this.text}; ${this.values.length} value${this.values.length === 1 ? "" : "s"})`
  }

  /** Serialises as text and value count, never the values. */
  toJSON(): { readonly text: string; readonly valueCount: number } {
    return { text: this.text, valueCount: this.values.length }
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString()
  }
}

/**
 * Whether a value is a fragment (of any dialect).
 *
 * @category guards
 * @since 0.1.0
 */
export const isFragment = (u: unknown): u is Fragment =>
  typeof u === "object" && u !== null && FragmentTypeId in u && u instanceof Fragment

/**
 * A dialect's tagged template and its helpers.
 *
 * @category models
 * @since 0.1.0
 */
export interface Sql {
  /** Builds a fragment: every interpolated value is bound; interpolated fragments (same dialect) are spliced in. */
  (strings: TemplateStringsArray, ...values: ReadonlyArray<unknown>): Fragment
  /**
   * A quoted identifier of 1 to `maxParts` parts; with `allowed`, it must be one of those names (a closed set, for
   * names that come from input), else it throws `SqlError` without building anything.
   */
  readonly ident: (name: string | ReadonlyArray<string>, allowed?: Iterable<string | ReadonlyArray<string>>) => Fragment
  /** Fragments joined by a separator fragment (default `, `). */
  readonly join: (fragments: Iterable<Fragment>, separator?: Fragment) => Fragment
  /** The empty fragment. */
  readonly empty: Fragment
}

const keyOf = (name: string | ReadonlyArray<string>): string => JSON.stringify(typeof name === "string" ? [name] : name)

/**
 * Names parts in a message, each cut at 64 characters (a name that comes from input may be long).
 *
 * @category utils
 * @since 0.1.0
 */
export const describeName = (parts: ReadonlyArray<string>): string => {
  const shown = parts.map((part) => (part.length > 64 ? `${part.slice(0, 64)}…` : part))
  return JSON.stringify(shown.length === 1 ? shown[0] : shown)
}

/**
 * Makes the `sql` template of a dialect.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (dialect: Dialect): Sql => {
  const fragment = (segments: ReadonlyArray<Segment>) => new Fragment(PRIVATE, dialect, segments)

  const spliced = (value: Fragment): ReadonlyArray<Segment> => {
    if (value.dialect !== dialect) {
      throw new SqlError({
        detail: `A ${value.dialect.name} fragment cannot be spliced into a ${dialect.name} query: build it with this connector's sql.`
      })
    }
    return value.segments
  }

  const template = (strings: TemplateStringsArray, ...args: ReadonlyArray<unknown>): Fragment => {
    dialect.checkTemplate(strings)
    const segments: Array<Segment> = []
    for (let i = 0; i < strings.length; i++) {
      const text = strings[i] ?? ""
      if (text !== "") segments.push({ _tag: "Text", text })
      if (i < args.length) {
        const arg = args[i]
        if (isFragment(arg)) segments.push(...spliced(arg))
        else if (arg === undefined) {
          throw new SqlError({
            detail: `The value of placeholder ${i + 1} is undefined: bind null for SQL NULL, or leave the placeholder out.`
          })
        } else segments.push({ _tag: "Value", value: arg })
      }
    }
    return fragment(segments)
  }

  const ident: Sql["ident"] = (name, allowed) => {
    const parts = typeof name === "string" ? [name] : [...name]
    const { maxParts } = dialect.identifier
    if (parts.length === 0 || parts.length > maxParts) {
      throw new SqlError({
        detail: `An identifier has 1 to ${maxParts} parts (${dialect.identifier.parts}); got ${parts.length}.`
      })
    }
    for (const part of parts) {
      if (typeof part !== "string" || part.length === 0) {
        throw new SqlError({ detail: "An identifier part must be a non-empty string." })
      }
      if (part.includes("\u0000")) throw new SqlError({ detail: "An identifier cannot contain a NUL character." })
      dialect.identifier.check(part)
    }
    if (allowed !== undefined) {
      const key = keyOf(parts)
      let found = false
      let count = 0
      for (const candidate of allowed) {
        count++
        if (keyOf(candidate) === key) {
          found = true
          break
        }
      }
      if (!found) {
        throw new SqlError({
          detail: `The identifier ${describeName(parts)} is not one of the ${count} allowed names: pick a name from the discovered set.`
        })
      }
    }
    return fragment([{ _tag: "Text", text: parts.map(dialect.quoteIdent).join(".") }])
  }

  const comma = fragment([{ _tag: "Text", text: ", " }])

  const join: Sql["join"] = (fragments, separator = comma) => {
    const between = spliced(separator)
    const segments: Array<Segment> = []
    let first = true
    for (const f of fragments) {
      if (!isFragment(f)) {
        throw new SqlError({ detail: `sql.join joins sql fragments only: wrap each value as sql\`${HOLE}\`.` })
      }
      if (!first) segments.push(...between)
      segments.push(...spliced(f))
      first = false
    }
    return fragment(segments)
  }

  return Object.assign(template, { ident, join, empty: fragment([]) })
}
