// The MySQL dialect of core's `SqlTemplate`: values bound as `?` (mysql2's placeholders), identifiers backquoted
// (at most 64 characters, no `?`, no trailing space), and the scanner of a template's literal text — `'…'` and
// `"…"` strings with backslash escapes, `` `…` `` identifiers, `-- `, `#` and block comments — which refuses a
// `;` outside quotes, any `?` in the text, and a value placed inside quotes or a comment.
import { SqlTemplate } from "@data-mcp/core"

const { SqlError, HOLE, describeName } = SqlTemplate

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

/** MySQL identifiers are at most 64 characters. */
export const MAX_IDENTIFIER_LENGTH = 64

export const dialect: SqlTemplate.Dialect = {
  name: "MySQL",
  placeholder: () => "?",
  quoteIdent: (part) => `\`${part.replaceAll("`", "``")}\``,
  identifier: {
    maxParts: 2,
    parts: "name, or database.table",
    check: (part) => {
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
  },
  checkTemplate: check
}
