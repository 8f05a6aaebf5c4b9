/**
 * Turns field names into column names a SQL sink can use: snake_case, no leading digit, and at most the
 * dialect's length, with a stable hash suffix when a name has to be cut. Names are normalised once per
 * stream and the mapping is stored with the schema; two fields landing on one column fail with a readable
 * list instead of one overwriting the other. Nested objects stay one JSON value by default (`nested: "json"`)
 * or are flattened into `parent__child` fields down to a depth.
 *
 * @since 0.1.0
 */
import { createHash } from "node:crypto"
import { Effect, Result, Schema } from "effect"

/**
 * Options of `normalize` and `mapping`. `maxLength` is the dialect's identifier limit (PostgreSQL: 63).
 *
 * @category models
 * @since 0.1.0
 */
export interface NormalizeOptions {
  readonly maxLength?: number | undefined
}

/**
 * Two or more names map to the same column. `collisions` lists each column with the names that land on it.
 *
 * @category errors
 * @since 0.1.0
 */
export class ColumnCollision extends Schema.TaggedError<ColumnCollision>("@data-mcp/core/ColumnCollision")(
  "ColumnCollision",
  {
    collisions: Schema.Array(Schema.Struct({ column: Schema.String, names: Schema.Array(Schema.String) }))
  }
) {
  get retryable(): boolean {
    return false
  }

  override get message(): string {
    const lines = this.collisions.map((c) => `  ${c.column} ← ${c.names.map((n) => JSON.stringify(n)).join(", ")}`)
    return `Field names collide as column names; rename or drop all but one of each:\n${lines.join("\n")}`
  }
}

/**
 * The separator between a parent and a child name in flattened fields.
 *
 * @category constants
 * @since 0.1.0
 */
export const separator = "__"

const HASH_LENGTH = 8

/**
 * The first 8 hex digits of the SHA-256 of a name: the stable suffix of a cut name.
 *
 * @category utils
 * @since 0.1.0
 */
export const hash = (name: string): string =>
  createHash("sha256").update(name, "utf8").digest("hex").slice(0, HASH_LENGTH)

const segment = (s: string): string =>
  s
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1_$2")
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, "_")
    .replace(/_+/g, "_")
    .replace(/^_+|_+$/g, "")

/**
 * Normalises a field name to a column name: camelCase, spaces and punctuation become snake_case
 * (`customerID` → `customer_id`, `Order Date` → `order_date`, `é` → `e`), lowercase ASCII letters, digits and
 * `_` only, `__` (the nesting separator) kept, no trailing `_`, one leading `_` kept
 * (`_id`) and added before a leading digit. A name longer than `maxLength`
 * (default 63) is cut and ends with `_` and the first 8 hex digits of the SHA-256 of the original name, so the
 * same name always gives the same column. A name with nothing left gets that suffix alone (`_1a2b3c4d`).
 *
 * **Example** (Normalising names)
 *
 * ```ts
 * import { ColumnNames } from "@data-mcp/core"
 *
 * ColumnNames.normalize("customerID")         // "customer_id"
 * ColumnNames.normalize("2nd Address-Line")   // "_2nd_address_line"
 * ColumnNames.normalize("a".repeat(80)).length // 63
 * ```
 *
 * @category utils
 * @since 0.1.0
 */
export const normalize = (name: string, options?: NormalizeOptions): string => {
  const maxLength = Math.max(options?.maxLength ?? 63, HASH_LENGTH + 2)
  let out = name
    .split(separator)
    .map(segment)
    .filter((s) => s !== "")
    .join(separator)
  if (out === "") return `_${hash(name)}`
  if (/^[0-9]/.test(out) || (name.startsWith("_") && !out.startsWith("_"))) out = `_${out}`
  if (out.length <= maxLength) return out
  const head = out.slice(0, maxLength - HASH_LENGTH - 1).replace(/_+$/, "")
  return `${head}_${hash(name)}`
}

/**
 * Options of `mapping`: the normalisation options and a mapping stored earlier, whose entries are kept as
 * they are (a column, once named, keeps its name).
 *
 * @category models
 * @since 0.1.0
 */
export interface MappingOptions extends NormalizeOptions {
  readonly existing?: ReadonlyMap<string, string> | undefined
}

/**
 * Maps field names to column names (`existing` entries first, then each new name normalised). Fails with
 * `ColumnCollision`, listing every column and the names landing on it, when two names share a column.
 *
 * **Example** (A collision)
 *
 * ```ts
 * import { ColumnNames } from "@data-mcp/core"
 *
 * ColumnNames.mapping(["customerId", "customer_id"])
 * // fails: customer_id ← "customerId", "customer_id"
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const mapping = (
  names: Iterable<string>,
  options?: MappingOptions
): Effect.Effect<ReadonlyMap<string, string>, ColumnCollision> =>
  Effect.suspend(() => {
    const out = new Map<string, string>(options?.existing ?? [])
    for (const name of names) if (!out.has(name)) out.set(name, normalize(name, options))
    const byColumn = new Map<string, Array<string>>()
    for (const [name, column] of out) byColumn.set(column, [...(byColumn.get(column) ?? []), name])
    const collisions = [...byColumn].filter(([, ns]) => ns.length > 1).map(([column, ns]) => ({ column, names: ns }))
    return collisions.length === 0 ? Effect.succeed(out) : Effect.fail(new ColumnCollision({ collisions }))
  })

/**
 * How a stream stores nested objects: as one JSON value (`"json"`, the default) or flattened into
 * `parent__child` fields down to a depth.
 *
 * @category models
 * @since 0.1.0
 */
export type Nesting = "json" | { readonly flatten: number }

/**
 * The default nesting: nested objects stay one JSON value.
 *
 * @category constants
 * @since 0.1.0
 */
export const defaultNesting: Nesting = "json"

const isPlainObject = (u: unknown): u is Record<string, unknown> => {
  if (u === null || typeof u !== "object") return false
  const proto = Object.getPrototypeOf(u)
  return proto === Object.prototype || proto === null
}

/**
 * Flattens nested plain objects into `parent__child` fields, `depth` levels down: with depth 1,
 * `{ a: { b: { c: 1 } } }` becomes `{ a__b: { c: 1 } }`. Deeper objects, arrays, `null`, empty objects and
 * other values stay as they are (JSON values). Depth 0 returns the record unchanged. Fails with
 * `ColumnCollision` when a flattened name already exists (`{ a__b: 1, a: { b: 2 } }`), rather than
 * overwriting a value. Names are not normalised here; use `mapping` on the result's keys.
 *
 * **Example** (Flattening one level)
 *
 * ```ts
 * import { ColumnNames } from "@data-mcp/core"
 *
 * ColumnNames.flatten({ id: 1, address: { city: "Oslo", geo: { lat: 59.9 } } }, 1)
 * // Success: { id: 1, address__city: "Oslo", address__geo: { lat: 59.9 } }
 * ```
 *
 * @category utils
 * @since 0.1.0
 */
export const flatten = (
  record: Readonly<Record<string, unknown>>,
  depth: number
): Result.Result<Record<string, unknown>, ColumnCollision> => {
  if (depth <= 0) return Result.succeed({ ...record })
  const out: Array<[string, unknown]> = []
  const origin = new Map<string, Array<string>>()
  const add = (name: string, path: string, value: unknown) => {
    const seen = origin.get(name)
    if (seen === undefined) {
      origin.set(name, [path])
      out.push([name, value])
    } else seen.push(path)
  }
  const go = (value: Readonly<Record<string, unknown>>, prefix: string, path: string, level: number) => {
    for (const [k, v] of Object.entries(value)) {
      const name = prefix === "" ? k : `${prefix}${separator}${k}`
      const p = path === "" ? k : `${path}.${k}`
      if (level < depth && isPlainObject(v) && Object.keys(v).length > 0) go(v, name, p, level + 1)
      else add(name, p, v)
    }
  }
  go(record, "", "", 0)
  const collisions = [...origin].filter(([, paths]) => paths.length > 1).map(([column, names]) => ({ column, names }))
  return collisions.length === 0
    ? Result.succeed(Object.fromEntries(out))
    : Result.fail(new ColumnCollision({ collisions }))
}

/**
 * Applies a stream's nesting to a record: unchanged for `"json"`, `flatten` for `{ flatten: depth }`.
 *
 * @category utils
 * @since 0.1.0
 */
export const nest = (
  record: Readonly<Record<string, unknown>>,
  nesting: Nesting = defaultNesting
): Result.Result<Record<string, unknown>, ColumnCollision> =>
  nesting === "json" ? Result.succeed({ ...record }) : flatten(record, nesting.flatten)
