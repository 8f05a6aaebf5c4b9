// The machinery behind `Sql`: a fragment is trusted text pieces (only the literal parts of tagged templates and
// backquoted identifiers) and bound values, rendered as `?` placeholders for mysql2. The literal text of each
// template is scanned once, when built, for a `;` or a `?` outside quotes and for values inside quotes or comments.
import { Schema } from "effect"

/** @internal */
export const FragmentTypeId: unique symbol = Symbol.for("@data-mcp/connector-mysql/Sql/Fragment")

/**
 * A query could not be built safely: a second statement, a raw `?`, a value inside quotes, an identifier outside
 * its closed set. A programming error: it never goes away by retrying.
 *
 * @category errors
 * @since 0.1.0
 */
export class SqlError extends Schema.TaggedError<SqlError>("@data-mcp/connector-mysql/SqlError")("SqlError", {
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

const PRIVATE: unique symbol = Symbol("@data-mcp/connector-mysql/Sql/private")

type Segment = { readonly _tag: "Text"; readonly text: string } | { readonly _tag: "Value"; readonly value: unknown }

/**
 * A piece of SQL with its bound values, built only by `sql`, `sql.ident` and `sql.join`.
 *
 * @category models
 * @since 0.1.0
 */
export class Fragment {
  readonly [FragmentTypeId]: typeof FragmentTypeId = FragmentTypeId
  /** The SQL text, with `?` where the values go. */
  readonly text: string
  /** The bound values, in placeholder order. */
  readonly values: ReadonlyArray<unknown>
  /** @internal */
  readonly segments: ReadonlyArray<Segment>

  /** @internal Only this module can build a fragment. */
  constructor(token: unknown, segments: ReadonlyArray<Segment>) {
    if (token !== PRIVATE) {
      throw new SqlError({ detail: "Fragments are built with sql`…`, sql.ident and sql.join, never constructed." })
    }
    this.segments = segments
    let text = ""
    const values: Array<unknown> = []
    for (const s of segments) {
      if (s._tag === "Text") text += s.text
      else {
        values.push(s.value)
        text += "?"
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

/** @internal */
export const isFragment = (u: unknown): u is Fragment =>
  typeof u === "object" && u !== null && FragmentTypeId in u && u instanceof Fragment

// biome-ignore lint/suspicious/noTemplateCurlyInString: the text of a placeholder, shown to the user
const HOLE = "${value}"

type State = "Normal" | "Single" | "Double" | "Backtick" | "LineComment" | "BlockComment"

const where: Record<State, string> = {
  Normal: "the statement",
  Single: "a quoted string literal",
  Double: "a double-quoted string",
  Backtick: "a quoted identifier",
  LineComment: "a comment",
  BlockComment: "a /* */ comment"
}

/**
 * Scans the literal parts of one template as one text with holes (quotes are tracked across them). MySQL strings
 * take backslash escapes (unless NO_BACKSLASH_ESCAPES); both `'` / `"` strings and `` ` `` identifiers double
 * their quote; `-- `, `#` and block comments are comments.
 */
const check = (parts: ReadonlyArray<string>): void => {
  let state: State = "Normal"
  for (let p = 0; p < parts.length; p++) {
    const s = parts[p] ?? ""
    for (let i = 0; i < s.length; i++) {
      const c = s[i] as string
      const next = s[i + 1]
      // mysql2 puts the values where the `?`s are, wherever they stand: none may be written in the text.
      if (c === "?")
        throw new SqlError({ detail: `Write values as ${HOLE} in the template, never as a \`?\` in its text.` })
      switch (state) {
        case "Normal":
          if (c === ";")
            throw new SqlError({
              detail:
                "A query holds one statement: remove the `;` from the template (run each statement as its own query)."
            })
          if (c === "'") state = "Single"
          else if (c === '"') state = "Double"
          else if (c === "`") state = "Backtick"
          else if (c === "#" || (c === "-" && next === "-" && (s[i + 2] === " " || s[i + 2] === "\t")))
            state = "LineComment"
          else if (c === "/" && next === "*") {
            state = "BlockComment"
            i++
          }
          break
        case "Single":
        case "Double": {
          const quote = state === "Single" ? "'" : '"'
          if (c === "\\") i++
          else if (c === quote) {
            if (next === quote) i++
            else state = "Normal"
          }
          break
        }
        case "Backtick":
          if (c === "`") {
            if (next === "`") i++
            else state = "Normal"
          }
          break
        case "LineComment":
          if (c === "\n" || c === "\r") state = "Normal"
          break
        case "BlockComment":
          if (c === "*" && next === "/") {
            state = "Normal"
            i++
          }
          break
      }
    }
    if (p < parts.length - 1 && state !== "Normal")
      throw new SqlError({
        detail: `A ${HOLE} placeholder sits inside ${where[state]}, where it would not be bound: move it outside the quotes or comment.`
      })
  }
  if (state !== "Normal") throw new SqlError({ detail: `The template ends inside ${where[state]}: close it.` })
}

/** @internal */
export const template = (strings: ReadonlyArray<string>, args: ReadonlyArray<unknown>): Fragment => {
  check(strings)
  const segments: Array<Segment> = []
  for (let i = 0; i < strings.length; i++) {
    const text = strings[i] ?? ""
    if (text !== "") segments.push({ _tag: "Text", text })
    if (i < args.length) {
      const arg = args[i]
      if (isFragment(arg)) segments.push(...arg.segments)
      else if (arg === undefined)
        throw new SqlError({
          detail: `The value of placeholder ${i + 1} is undefined: bind null for SQL NULL, or leave the placeholder out.`
        })
      else segments.push({ _tag: "Value", value: arg })
    }
  }
  return new Fragment(PRIVATE, segments)
}

/** MySQL identifiers are at most 64 characters. */
export const MAX_IDENTIFIER_LENGTH = 64

const keyOf = (name: string | ReadonlyArray<string>): string => JSON.stringify(typeof name === "string" ? [name] : name)

const describeName = (parts: ReadonlyArray<string>): string =>
  JSON.stringify(parts.map((p) => (p.length > 64 ? `${p.slice(0, 64)}…` : p)).join("."))

/** @internal */
export const ident = (
  name: string | ReadonlyArray<string>,
  allowed?: Iterable<string | ReadonlyArray<string>>
): Fragment => {
  const parts = typeof name === "string" ? [name] : [...name]
  if (parts.length === 0 || parts.length > 2)
    throw new SqlError({
      detail: `An identifier has 1 or 2 parts (name, or database.table); got ${parts.length}.`
    })
  for (const part of parts) {
    if (typeof part !== "string" || part.length === 0)
      throw new SqlError({ detail: "An identifier part must be a non-empty string." })
    if (part.includes("\u0000")) throw new SqlError({ detail: "An identifier cannot contain a NUL character." })
    if ([...part].length > MAX_IDENTIFIER_LENGTH)
      throw new SqlError({
        detail: `The identifier ${describeName([part])} is longer than ${MAX_IDENTIFIER_LENGTH} characters: use a shorter name.`
      })
    if (part.includes("?"))
      throw new SqlError({
        detail: `The identifier ${describeName([part])} contains a \`?\`, which mysql2 would take for a placeholder.`
      })
    if (part.endsWith(" "))
      throw new SqlError({ detail: `The identifier ${describeName([part])} ends with a space, which MySQL refuses.` })
  }
  if (allowed !== undefined) {
    const key = keyOf(parts)
    let count = 0
    let found = false
    for (const candidate of allowed) {
      count++
      if (keyOf(candidate) === key) {
        found = true
        break
      }
    }
    if (!found)
      throw new SqlError({
        detail: `The identifier ${describeName(parts)} is not one of the ${count} allowed names: pick a name from the discovered set.`
      })
  }
  return new Fragment(PRIVATE, [{ _tag: "Text", text: parts.map((p) => `\`${p.replaceAll("`", "``")}\``).join(".") }])
}

/** @internal */
export const join = (fragments: Iterable<Fragment>, separator: Fragment): Fragment => {
  const segments: Array<Segment> = []
  let first = true
  for (const fragment of fragments) {
    if (!isFragment(fragment))
      throw new SqlError({ detail: `sql.join joins sql fragments only: wrap each value as sql\`${HOLE}\`.` })
    if (!first) segments.push(...separator.segments)
    segments.push(...fragment.segments)
    first = false
  }
  return new Fragment(PRIVATE, segments)
}

/** @internal */
export const empty: Fragment = new Fragment(PRIVATE, [])

/** @internal */
export const comma: Fragment = new Fragment(PRIVATE, [{ _tag: "Text", text: ", " }])
