// Output bounds (DESIGN §7): strings cut at 200 characters, results kept under `maxResultBytes`, lists paginated
// with opaque offset cursors.
import { InvalidInput } from "../McpError.ts"

export const MAX_STRING = 200

/** A copy of a JSON value with every string longer than `max` cut (marked with an ellipsis). */
export const cutStrings = (value: unknown, max = MAX_STRING): unknown => {
  if (typeof value === "string") return value.length > max ? `${value.slice(0, max)}…` : value
  if (Array.isArray(value)) return value.map((v) => cutStrings(v, max))
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) out[k] = cutStrings(v, max)
    return out
  }
  return value
}

export const byteSize = (value: unknown): number => Buffer.byteLength(JSON.stringify(value) ?? "", "utf8")

/**
 * Keeps as many items as fit in `budget` bytes (JSON), in order. A single item wider than the budget keeps only
 * as many of its fields as fit. Returns the kept items and how many were left out or cut.
 */
export const fitItems = (
  items: ReadonlyArray<unknown>,
  budget: number
): { readonly items: Array<unknown>; readonly omitted: number; readonly fieldsCut: boolean } => {
  const kept: Array<unknown> = []
  let used = 2
  let fieldsCut = false
  for (const item of items) {
    const size = byteSize(item) + 1
    if (used + size <= budget) {
      kept.push(item)
      used += size
      continue
    }
    if (kept.length === 0 && item !== null && typeof item === "object" && !Array.isArray(item)) {
      const narrowed: Record<string, unknown> = {}
      let narrowUsed = used + 2
      for (const [k, v] of Object.entries(item)) {
        const fieldSize = byteSize({ [k]: v })
        if (narrowUsed + fieldSize > budget) break
        narrowed[k] = v
        narrowUsed += fieldSize
      }
      kept.push(narrowed)
      fieldsCut = true
    }
    break
  }
  return { items: kept, omitted: items.length - kept.length, fieldsCut }
}

/** Encodes a page offset as an opaque cursor. */
export const cursorOf = (offset: number): string => Buffer.from(`o:${offset}`, "utf8").toString("base64url")

/** Decodes a cursor issued by `cursorOf`; anything else is an `InvalidInput` naming `cursor`. */
export const offsetOf = (cursor: string | undefined): number | InvalidInput => {
  if (cursor === undefined) return 0
  const text = Buffer.from(cursor, "base64url").toString("utf8")
  const n = text.startsWith("o:") ? Number(text.slice(2)) : Number.NaN
  return Number.isInteger(n) && n >= 0
    ? n
    : new InvalidInput({ field: "cursor", detail: "not a cursor this server issued; pass back nextCursor" })
}

/**
 * One page of `items` from `cursor`, at most `limit` long and under `budget` bytes; `nextCursor` when more remain.
 */
export const page = <A>(
  items: ReadonlyArray<A>,
  options: { readonly cursor: string | undefined; readonly limit: number; readonly budget: number }
): { readonly items: Array<A>; readonly nextCursor?: string } | InvalidInput => {
  const offset = offsetOf(options.cursor)
  if (offset instanceof InvalidInput) return offset
  const slice = items.slice(offset, offset + options.limit)
  const fitted = fitItems(slice, options.budget).items as Array<A>
  const next = offset + fitted.length
  return next < items.length && fitted.length > 0 ? { items: fitted, nextCursor: cursorOf(next) } : { items: fitted }
}

/** A copy of a record with its `sensitive` top-level fields replaced by `"***"`. */
export const maskFields = <A>(record: A, sensitive: ReadonlySet<string>): A => {
  if (sensitive.size === 0 || record === null || typeof record !== "object" || Array.isArray(record)) return record
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, sensitive.has(k) ? "***" : v])) as A
}
