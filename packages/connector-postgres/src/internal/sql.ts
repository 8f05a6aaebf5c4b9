/**
 * The machinery behind `Sql`: a fragment is a list of trusted text pieces (only ever the literal parts of a
 * tagged template or a quoted identifier), bound values, and nested fragments spliced in. Rendering numbers
 * the values `$1…$n` in order. The literal text of every template is scanned once, when it is built, for a
 * `;` or a `$n` outside quotes and for values placed inside quotes or comments.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/** @internal */
export const FragmentTypeId: unique symbol = Symbol.for("@data-mcp/connector-postgres/Sql/Fragment")

/**
 * A query could not be built safely: a second statement, a raw `$n`, a value inside quotes, an identifier
 * outside its closed set. It is a programming error and never goes away by retrying.
 *
 * @category errors
 * @since 0.1.0
 */
export class SqlError extends Schema.TaggedError<SqlError>("@data-mcp/connector-postgres/SqlError")("SqlError", {
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

/** Guards the `Fragment` constructor, so no text can become SQL except through this module. */
const PRIVATE: unique symbol = Symbol("@data-mcp/connector-postgres/Sql/private")

type Segment = { readonly _tag: "Text"; readonly text: string } | { readonly _tag: "Value"; readonly value: unknown }

const render = (segments: ReadonlyArray<Segment>): { text: string; values: Array<unknown> } => {
  let text = ""
  const values: Array<unknown> = []
  for (const segment of segments) {
    if (segment._tag === "Text") text += segment.text
    else {
      values.push(segment.value)
      text += `$${values.length}`
    }
  }
  return { text, values }
}

/**
 * A piece of SQL with its bound values, built only by `sql`, `sql.ident` and `sql.join`.
 *
 * @category models
 * @since 0.1.0
 */
export class Fragment {
  readonly [FragmentTypeId]: typeof FragmentTypeId = FragmentTypeId
  /** The SQL text, with `$1…$n` where the values go. */
  readonly text: string
  /** The bound values, in parameter order. */
  readonly values: ReadonlyArray<unknown>
  /** @internal */
  readonly segments: ReadonlyArray<Segment>

  /** @internal Only this module can build a fragment: the token is private to it. */
  constructor(token: unknown, segments: ReadonlyArray<Segment>) {
    if (token !== PRIVATE) {
      throw new SqlError({ detail: "Fragments are built with sql`…`, sql.ident and sql.join, never constructed." })
    }
    this.segments = segments
    const rendered = render(segments)
    this.text = rendered.text
    this.values = rendered.values
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

/** How a placeholder is written, for messages. */
// biome-ignore lint/suspicious/noTemplateCurlyInString: the text of a placeholder, shown to the user
const HOLE = "${value}"

type State =
  | { readonly _tag: "Normal" }
  | { readonly _tag: "Single"; readonly backslash: boolean }
  | { readonly _tag: "Double" }
  | { readonly _tag: "LineComment" }
  | { readonly _tag: "BlockComment"; readonly depth: number }
  | { readonly _tag: "Dollar"; readonly tag: string }

const NORMAL: State = { _tag: "Normal" }
const isIdentChar = (c: string | undefined): boolean => c !== undefined && /[A-Za-z0-9_\u0080-\uffff]/.test(c)
const DOLLAR_TAG = /^\$([A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/

const where = (state: State): string => {
  switch (state._tag) {
    case "Single":
      return "a quoted string literal"
    case "Double":
      return "a quoted identifier"
    case "LineComment":
      return "a -- comment"
    case "BlockComment":
      return "a /* */ comment"
    case "Dollar":
      return "a dollar-quoted string"
    case "Normal":
      return "the statement"
  }
}

/**
 * Scans the literal parts of one template as one text with holes, so quotes are tracked across the holes.
 * Throws when a part holds a `;` or a `$n` outside quotes, when a hole sits inside quotes or a comment, or
 * when the text ends inside quotes or a comment.
 */
const check = (parts: ReadonlyArray<string>): void => {
  let state: State = NORMAL
  for (let p = 0; p < parts.length; p++) {
    const s = parts[p] ?? ""
    let i = 0
    while (i < s.length) {
      const c = s[i] as string
      const next = s[i + 1]
      switch (state._tag) {
        case "Normal": {
          if (c === ";") {
            throw new SqlError({
              detail:
                "A query holds one statement: remove the `;` from the template (run each statement as its own query)."
            })
          }
          if (c === "'") {
            const prev = s[i - 1]
            const backslash = (prev === "E" || prev === "e") && !isIdentChar(s[i - 2])
            state = { _tag: "Single", backslash }
          } else if (c === '"') state = { _tag: "Double" }
          else if (c === "-" && next === "-") {
            state = { _tag: "LineComment" }
            i++
          } else if (c === "/" && next === "*") {
            state = { _tag: "BlockComment", depth: 1 }
            i++
          } else if (c === "$" && !isIdentChar(s[i - 1])) {
            if (next !== undefined && /[0-9]/.test(next)) {
              throw new SqlError({
                detail: `Write values as ${HOLE} in the template, never as a positional \`$n\` in its text.`
              })
            }
            const match = DOLLAR_TAG.exec(s.slice(i))
            if (match !== null) {
              state = { _tag: "Dollar", tag: match[0] }
              i += match[0].length - 1
            }
          }
          break
        }
        case "Single": {
          if (state.backslash && c === "\\") i++
          else if (c === "'") {
            if (next === "'") i++
            else state = NORMAL
          }
          break
        }
        case "Double": {
          if (c === '"') {
            if (next === '"') i++
            else state = NORMAL
          }
          break
        }
        case "LineComment": {
          if (c === "\n" || c === "\r") state = NORMAL
          break
        }
        case "BlockComment": {
          if (c === "/" && next === "*") {
            state = { _tag: "BlockComment", depth: state.depth + 1 }
            i++
          } else if (c === "*" && next === "/") {
            state = state.depth === 1 ? NORMAL : { _tag: "BlockComment", depth: state.depth - 1 }
            i++
          }
          break
        }
        case "Dollar": {
          if (s.startsWith(state.tag, i)) {
            i += state.tag.length - 1
            state = NORMAL
          }
          break
        }
      }
      i++
    }
    const isHole = p < parts.length - 1
    if (isHole && state._tag !== "Normal") {
      throw new SqlError({
        detail: `A ${HOLE} placeholder sits inside ${where(state)}, where it would not be bound: move it outside the quotes or comment (write ${HOLE}, not '${HOLE}').`
      })
    }
  }
  if (state._tag !== "Normal") {
    throw new SqlError({
      detail: `The template ends inside ${where(state)}: close it${state._tag === "LineComment" ? " (end a -- comment with a newline, or use /* */)" : ""}.`
    })
  }
}

/** @internal */
export const template = (strings: TemplateStringsArray, args: ReadonlyArray<unknown>): Fragment => {
  check(strings)
  const segments: Array<Segment> = []
  for (let i = 0; i < strings.length; i++) {
    const text = strings[i] ?? ""
    if (text !== "") segments.push({ _tag: "Text", text })
    if (i < args.length) {
      const arg = args[i]
      if (isFragment(arg)) segments.push(...arg.segments)
      else if (arg === undefined) {
        throw new SqlError({
          detail: `The value of placeholder ${i + 1} is undefined: bind null for SQL NULL, or leave the placeholder out.`
        })
      } else segments.push({ _tag: "Value", value: arg })
    }
  }
  return new Fragment(PRIVATE, segments)
}

/** PostgreSQL truncates identifiers longer than NAMEDATALEN - 1 bytes. */
const MAX_IDENTIFIER_BYTES = 63

const describeName = (parts: ReadonlyArray<string>): string => {
  const shown = parts.map((part) => (part.length > 64 ? `${part.slice(0, 64)}…` : part))
  return JSON.stringify(shown.length === 1 ? shown[0] : shown)
}

const keyOf = (name: string | ReadonlyArray<string>): string => JSON.stringify(typeof name === "string" ? [name] : name)

/** @internal */
export const quoteIdent = (part: string): string => `"${part.replaceAll('"', '""')}"`

/** @internal */
export const ident = (
  name: string | ReadonlyArray<string>,
  allowed?: Iterable<string | ReadonlyArray<string>>
): Fragment => {
  const parts = typeof name === "string" ? [name] : [...name]
  if (parts.length === 0 || parts.length > 3) {
    throw new SqlError({
      detail: `An identifier has 1 to 3 parts (column, table, schema.table, database.schema.table); got ${parts.length}.`
    })
  }
  for (const part of parts) {
    if (typeof part !== "string" || part.length === 0) {
      throw new SqlError({ detail: "An identifier part must be a non-empty string." })
    }
    if (part.includes("\u0000")) {
      throw new SqlError({ detail: "An identifier cannot contain a NUL character." })
    }
    if (Buffer.byteLength(part, "utf8") > MAX_IDENTIFIER_BYTES) {
      throw new SqlError({
        detail: `The identifier ${describeName([part])} is longer than ${MAX_IDENTIFIER_BYTES} bytes, which PostgreSQL would silently truncate: use a shorter name.`
      })
    }
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
  return new Fragment(PRIVATE, [{ _tag: "Text", text: parts.map(quoteIdent).join(".") }])
}

/** @internal */
export const join = (fragments: Iterable<Fragment>, separator: Fragment): Fragment => {
  const segments: Array<Segment> = []
  let first = true
  for (const fragment of fragments) {
    if (!isFragment(fragment)) {
      throw new SqlError({ detail: `sql.join joins sql fragments only: wrap each value as sql\`${HOLE}\`.` })
    }
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
