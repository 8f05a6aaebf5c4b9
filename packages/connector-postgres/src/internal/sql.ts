/**
 * The PostgreSQL dialect of core's `SqlTemplate`: values bound as `$1…$n`, identifiers double-quoted (at most 63
 * bytes a part, the length PostgreSQL keeps), and the scanner of a template's literal text — `'…'` and `E'…'`
 * strings, `"…"` identifiers, dollar-quoted strings, `--` and nested block comments — which refuses a `;` or a
 * `$n` outside quotes and a value placed inside quotes or a comment.
 *
 * @since 0.1.0
 */
import { SqlTemplate } from "@data-mcp/core"

const { SqlError, HOLE } = SqlTemplate

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

/** PostgreSQL truncates identifiers longer than NAMEDATALEN - 1 bytes. */
const MAX_IDENTIFIER_BYTES = 63

/** One identifier part, double-quoted. */
export const quoteIdent = (part: string): string => `"${part.replaceAll('"', '""')}"`

export const dialect: SqlTemplate.Dialect = {
  name: "PostgreSQL",
  placeholder: (position) => `$${position}`,
  quoteIdent,
  identifier: {
    maxParts: 3,
    parts: "column, table, schema.table, database.schema.table",
    check: (part) => {
      if (Buffer.byteLength(part, "utf8") > MAX_IDENTIFIER_BYTES) {
        throw new SqlError({
          detail: `The identifier ${SqlTemplate.describeName([part])} is longer than ${MAX_IDENTIFIER_BYTES} bytes, which PostgreSQL would silently truncate: use a shorter name.`
        })
      }
    }
  },
  checkTemplate: check
}
