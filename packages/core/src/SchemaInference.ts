/**
 * Infers the schema of a stream from its records, widens it losslessly as new records arrive, and turns it
 * into an Effect `Schema` (to validate records) or a JSON Schema (to describe their JSON form). The schema is
 * plain, JSON-serialisable data, so it can be stored with a stream's snapshots and compared with `diff`.
 *
 * Widening follows one lattice (see `merge`): `integer` and `number` widen to `decimal` (never to a double),
 * `date` widens to `timestamp`, a field becomes nullable or optional but never the reverse, and any other
 * type change is refused — there are no variant columns. Only `widenTo: "text"` lets scalars meet at `string`.
 *
 * @since 0.1.0
 */
import { Result, Schema } from "effect"
import * as Timestamp from "./Timestamp.ts"

// ---------------------------------------------------------------------------------------------------------------
// Model
// ---------------------------------------------------------------------------------------------------------------

/**
 * The name of a type without children. `unknown` is the type of a field seen only as `null` (or of the items of
 * arrays seen only empty): it carries no information yet and widens to any type.
 *
 * @category models
 * @since 0.1.0
 */
export type PrimitiveName =
  | "string"
  | "integer"
  | "number"
  | "boolean"
  | "timestamp"
  | "date"
  | "decimal"
  | "json"
  | "binary"
  | "unknown"

/**
 * A type without children: `{ type: "integer", nullable: false }`.
 *
 * @category models
 * @since 0.1.0
 */
export interface Primitive {
  readonly type: PrimitiveName
  readonly nullable: boolean
}

/**
 * A nested object with named fields.
 *
 * @category models
 * @since 0.1.0
 */
export interface ObjectType {
  readonly type: "object"
  readonly fields: Readonly<Record<string, Field>>
  readonly nullable: boolean
}

/**
 * An array whose items all have one type.
 *
 * @category models
 * @since 0.1.0
 */
export interface ArrayType {
  readonly type: "array"
  readonly items: Type
  readonly nullable: boolean
}

/**
 * Any inferred type. Plain data (JSON-serialisable), compared structurally.
 *
 * @category models
 * @since 0.1.0
 */
export type Type = Primitive | ObjectType | ArrayType

/**
 * A field of an object: a type plus whether the field may be absent (`optional`: absent in some records).
 *
 * @category models
 * @since 0.1.0
 */
export type Field = Type & { readonly optional: boolean }

/**
 * Two types with no lossless common type, found at `path` (field names; `[]` stands for array items).
 *
 * @category models
 * @since 0.1.0
 */
export interface Incompatible {
  readonly _tag: "Incompatible"
  readonly path: ReadonlyArray<string>
  readonly from: string
  readonly to: string
}

/**
 * Options of `merge`. `widenTo: "text"` lets two scalar types with no lossless common type meet at `string`
 * (the values are then written as text).
 *
 * @category models
 * @since 0.1.0
 */
export interface MergeOptions {
  readonly widenTo?: "text" | undefined
}

/**
 * Options of `inferSchema`.
 *
 * @category models
 * @since 0.1.0
 */
export interface InferOptions {
  /** How many records to look at (the first ones); default 1000. */
  readonly sample?: number | undefined
  /** Type ISO 8601 timestamp strings as `timestamp` and `YYYY-MM-DD` strings as `date`; default false. */
  readonly detectTimestamps?: boolean | undefined
}

// ---------------------------------------------------------------------------------------------------------------
// Constructors and guards
// ---------------------------------------------------------------------------------------------------------------

/**
 * Makes a primitive type.
 *
 * @category constructors
 * @since 0.1.0
 */
export const primitive = (type: PrimitiveName, nullable = false): Primitive => ({ type, nullable })

/**
 * Makes an object type; every field is required unless marked `optional`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const object = (fields: Readonly<Record<string, Type | Field>>, nullable = false): ObjectType => ({
  type: "object",
  fields: Object.fromEntries(
    Object.entries(fields).map(([k, f]) => [k, toField(f, "optional" in f ? f.optional : false)])
  ),
  nullable
})

/**
 * Makes an array type.
 *
 * @category constructors
 * @since 0.1.0
 */
export const array = (items: Type, nullable = false): ArrayType => ({ type: "array", items: strip(items), nullable })

/**
 * Whether a merge result is an `Incompatible`.
 *
 * @category guards
 * @since 0.1.0
 */
export const isIncompatible = (u: Type | Incompatible): u is Incompatible => "_tag" in u

// A copy of a type without any `optional` flag (a Field used as a Type), with the given nullability.
const withNullable = (t: Type, nullable: boolean): Type =>
  t.type === "object"
    ? { type: "object", fields: t.fields, nullable }
    : t.type === "array"
      ? { type: "array", items: t.items, nullable }
      : { type: t.type, nullable }

const strip = (t: Type): Type => withNullable(t, t.nullable)

const toField = (t: Type, optional: boolean): Field => ({ ...strip(t), optional })

/**
 * A short name for a type, without nullability: `integer`, `object`, `array<string>`.
 *
 * @category utils
 * @since 0.1.0
 */
export const typeName = (t: Type): string => (t.type === "array" ? `array<${typeName(t.items)}>` : t.type)

// ---------------------------------------------------------------------------------------------------------------
// Inference
// ---------------------------------------------------------------------------------------------------------------

const DATE = /^[+-]?\d{4,6}-\d{2}-\d{2}$/

/** Whether a string is a valid `YYYY-MM-DD` calendar date. */
export const isDateString = (s: string): boolean => DATE.test(s) && Timestamp.parse(`${s}T00:00:00`) !== undefined

const isPlainObject = (u: object): boolean => {
  const proto = Object.getPrototypeOf(u)
  return proto === Object.prototype || proto === null
}

/**
 * The type of one value (a record or a field value), as `inferSchema` sees it.
 *
 * @category constructors
 * @since 0.1.0
 */
export const inferValue = (value: unknown, options?: InferOptions): Type => {
  const detect = options?.detectTimestamps ?? false
  const go = (v: unknown): Type => {
    if (v === null || v === undefined) return primitive("unknown", true)
    switch (typeof v) {
      case "bigint":
        return primitive("integer")
      case "number":
        return primitive(Number.isSafeInteger(v) ? "integer" : "number")
      case "boolean":
        return primitive("boolean")
      case "string":
        if (detect) {
          if (isDateString(v)) return primitive("date")
          if (Timestamp.parse(v) !== undefined) return primitive("timestamp")
        }
        return primitive("string")
      case "object": {
        if (Timestamp.isTimestamp(v) || v instanceof Date) return primitive("timestamp")
        if (v instanceof Uint8Array) return primitive("binary")
        if (Array.isArray(v)) {
          let items: Type = primitive("unknown")
          for (const item of v) items = joinLenient(items, go(item))
          return { type: "array", items, nullable: false }
        }
        if (!isPlainObject(v)) return primitive("json")
        const fields: Array<[string, Field]> = []
        for (const [k, child] of Object.entries(v)) {
          if (child !== undefined) fields.push([k, toField(go(child), false)])
        }
        return { type: "object", fields: Object.fromEntries(fields), nullable: false }
      }
      default:
        return primitive("json")
    }
  }
  return go(value)
}

/**
 * Infers the schema of records: the lossless join (see `merge`) of the types of the first `sample` records.
 * Values map as: bigint and safe integers → `integer`; other numbers → `number`; `Timestamp` and `Date` →
 * `timestamp`; `Uint8Array` → `binary`; `null` → nullable; plain objects → `object`; arrays → `array`; other
 * objects → `json`. A field absent (or `undefined`) in some records is `optional`. Strings stay `string`
 * unless `detectTimestamps` is set. Inference never yields `decimal` by itself except as the join of
 * `integer` and `number`, since records hold decimals as strings.
 *
 * Inference must accept every sampled record, so where two sampled values have no lossless common type
 * (`1` and `"a"` in one field), that field is typed `json` (the value is kept as it is). `merge` instead
 * reports such a pair as `Incompatible`, which is what a schema contract needs.
 *
 * **Example** (Inferring a schema)
 *
 * ```ts
 * import { SchemaInference } from "@data-mcp/core"
 *
 * const schema = SchemaInference.inferSchema([{ id: 1, name: "a" }, { id: 2n, name: null, tags: [] }])
 * // { type: "object", nullable: false, fields: {
 * //   id: { type: "integer", nullable: false, optional: false },
 * //   name: { type: "string", nullable: true, optional: false },
 * //   tags: { type: "array", items: { type: "unknown", nullable: false }, nullable: false, optional: true } } }
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const inferSchema = (records: Iterable<unknown>, options?: InferOptions): Type => {
  const sample = options?.sample ?? 1000
  let schema: Type | undefined
  let n = 0
  for (const record of records) {
    if (n++ >= sample) break
    const t = inferValue(record, options)
    schema = schema === undefined ? t : joinLenient(schema, t)
  }
  return schema ?? { type: "object", fields: {}, nullable: false }
}

// ---------------------------------------------------------------------------------------------------------------
// Widening
// ---------------------------------------------------------------------------------------------------------------

const NESTED = new Set(["object", "array", "json"])

const joinScalar = (a: PrimitiveName, b: PrimitiveName): PrimitiveName | undefined => {
  if (a === b) return a
  const numeric = (t: PrimitiveName) => t === "integer" || t === "number" || t === "decimal"
  if (numeric(a) && numeric(b)) return "decimal"
  if ((a === "date" && b === "timestamp") || (a === "timestamp" && b === "date")) return "timestamp"
  return undefined
}

interface JoinMode {
  readonly text: boolean
  readonly lenient: boolean
}

const join = (a: Type, b: Type, path: ReadonlyArray<string>, mode: JoinMode): Type | Incompatible => {
  const nullable = a.nullable || b.nullable
  if (a.type === "unknown") return withNullable(b, nullable)
  if (b.type === "unknown") return withNullable(a, nullable)
  if (a.type === "object" && b.type === "object") {
    const fields: Array<[string, Field]> = []
    for (const [k, fa] of Object.entries(a.fields)) {
      const fb = Object.hasOwn(b.fields, k) ? b.fields[k] : undefined
      if (fb === undefined) {
        fields.push([k, toField(fa, true)])
        continue
      }
      const j = join(fa, fb, [...path, k], mode)
      if (isIncompatible(j)) return j
      fields.push([k, toField(j, fa.optional || fb.optional)])
    }
    for (const [k, fb] of Object.entries(b.fields)) {
      if (!Object.hasOwn(a.fields, k)) fields.push([k, toField(fb, true)])
    }
    return { type: "object", fields: Object.fromEntries(fields), nullable }
  }
  if (a.type === "array" && b.type === "array") {
    const items = join(a.items, b.items, [...path, "[]"], mode)
    return isIncompatible(items) ? items : { type: "array", items, nullable }
  }
  if (!NESTED.has(a.type) && !NESTED.has(b.type)) {
    const j = joinScalar(a.type as PrimitiveName, b.type as PrimitiveName)
    if (j !== undefined) return { type: j, nullable }
    if (mode.text) return { type: "string", nullable }
  }
  if (a.type === "json" && b.type === "json") return { type: "json", nullable }
  if (mode.lenient) return { type: "json", nullable }
  return { _tag: "Incompatible", path, from: typeName(a), to: typeName(b) }
}

const joinLenient = (a: Type, b: Type): Type => join(a, b, [], { text: false, lenient: true }) as Type

/**
 * Joins two schemas into the least schema that accepts every value either accepts, widening losslessly only:
 *
 * - `unknown` (only nulls seen) widens to any type;
 * - `integer` ⊔ `number` = `decimal`, and `decimal` absorbs both (an integer never becomes a double);
 * - `date` ⊔ `timestamp` = `timestamp`;
 * - objects join field by field; a field on one side only becomes `optional`;
 * - arrays join their items; `json` joins only with `json`;
 * - nullability and optionality are or-ed (only ever added);
 * - with `widenTo: "text"`, two scalar types with no other common type (say `integer` and `string`) meet at
 *   `string`; without it, and for any other pair (`object` and `string`), the result is an `Incompatible`
 *   failure naming the path.
 *
 * The join is commutative and associative (fields keep first-seen order, which is not part of equality).
 *
 * **Example** (Widening integer and number)
 *
 * ```ts
 * import { SchemaInference as SI } from "@data-mcp/core"
 * import { Result } from "effect"
 *
 * const r = SI.merge(SI.inferSchema([{ amount: 1 }]), SI.inferSchema([{ amount: 1.5 }]))
 * Result.isSuccess(r) // true; amount is { type: "decimal", ... }
 * SI.merge(SI.inferSchema([{ a: 1 }]), SI.inferSchema([{ a: "x" }])) // Failure: Incompatible at ["a"]
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const merge = (a: Type, b: Type, options?: MergeOptions): Result.Result<Type, Incompatible> => {
  const j = join(a, b, [], { text: options?.widenTo === "text", lenient: false })
  return isIncompatible(j) ? Result.fail(j) : Result.succeed(j)
}

/**
 * Whether two schemas are the same (field order aside).
 *
 * @category utils
 * @since 0.1.0
 */
export const equals = (a: Type, b: Type): boolean => {
  if (a.type !== b.type || a.nullable !== b.nullable) return false
  if (a.type === "array" && b.type === "array") return equals(a.items, b.items)
  if (a.type === "object" && b.type === "object") {
    const ka = Object.keys(a.fields)
    if (ka.length !== Object.keys(b.fields).length) return false
    return ka.every((k) => {
      const fa = a.fields[k]
      const fb = Object.hasOwn(b.fields, k) ? b.fields[k] : undefined
      return fa !== undefined && fb !== undefined && fa.optional === fb.optional && equals(fa, fb)
    })
  }
  return true
}

// ---------------------------------------------------------------------------------------------------------------
// Effect Schema
// ---------------------------------------------------------------------------------------------------------------

const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/

const isInteger = (u: unknown): u is number | bigint => typeof u === "bigint" || Number.isSafeInteger(u)

const isDecimal = (u: unknown): u is number | bigint | string =>
  typeof u === "bigint" || typeof u === "number" || (typeof u === "string" && DECIMAL.test(u))

const isTimestampLike = (u: unknown): u is Timestamp.Timestamp | Date | string =>
  Timestamp.isTimestamp(u) ||
  u instanceof Date ||
  (typeof u === "string" && (isDateString(u) || Timestamp.parse(u) !== undefined))

const primitives: Record<Exclude<PrimitiveName, "unknown">, Schema.Top> = {
  string: Schema.String,
  integer: Schema.declare(isInteger, { identifier: "integer", description: "a safe integer or a bigint" }),
  number: Schema.Number,
  boolean: Schema.Boolean,
  timestamp: Schema.declare(isTimestampLike, {
    identifier: "timestamp",
    description: "a Timestamp, a Date, or an ISO 8601 timestamp or date string"
  }),
  date: Schema.declare((u): u is string => typeof u === "string" && isDateString(u), {
    identifier: "date",
    description: "a YYYY-MM-DD date string"
  }),
  decimal: Schema.declare(isDecimal, { identifier: "decimal", description: "a number, a bigint or a decimal string" }),
  json: Schema.Unknown,
  binary: Schema.Uint8Array
}

/**
 * An Effect `Schema` that accepts every record the schema was inferred from, as it is in memory: `integer`
 * accepts safe integers and bigints; `decimal` numbers, bigints and decimal strings; `timestamp` a
 * `Timestamp`, a `Date` or an ISO string (detected strings stay strings); `date` a `YYYY-MM-DD` string;
 * `binary` a `Uint8Array`; `json` anything; nullable types accept `null` (and `undefined`); optional fields
 * may be absent. Decoding returns the values unchanged.
 *
 * **Example** (Validating records)
 *
 * ```ts
 * import { SchemaInference } from "@data-mcp/core"
 * import { Schema } from "effect"
 *
 * const schema = SchemaInference.toEffectSchema(SchemaInference.inferSchema([{ id: 1n }]))
 * Schema.decodeUnknownSync(schema)({ id: 2 }) // ok
 * ```
 *
 * @category conversions
 * @since 0.1.0
 */
export const toEffectSchema = (schema: Type): Schema.Codec<unknown> => go(schema) as Schema.Codec<unknown>

const go = (t: Type): Schema.Top => {
  const base = ((): Schema.Top => {
    switch (t.type) {
      case "unknown":
        return Schema.Never
      case "object":
        return Schema.Struct(
          Object.fromEntries(Object.entries(t.fields).map(([k, f]) => [k, f.optional ? Schema.optional(go(f)) : go(f)]))
        )
      case "array":
        return Schema.Array(go(t.items))
      default:
        return primitives[t.type]
    }
  })()
  return t.nullable ? Schema.NullishOr(base) : base
}

// ---------------------------------------------------------------------------------------------------------------
// JSON Schema
// ---------------------------------------------------------------------------------------------------------------

/**
 * A JSON Schema document (draft 2020-12), as plain data.
 *
 * @category models
 * @since 0.1.0
 */
export type JsonSchema = { readonly [key: string]: unknown }

const INTEGER_STRING = "^-?[0-9]+$"
const DECIMAL_STRING = "^[+-]?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)([eE][+-]?[0-9]+)?$"
const DATE_STRING = "^[+-]?[0-9]{4,6}-[0-9]{2}-[0-9]{2}$"
const TIMESTAMP_STRING =
  "^[+-]?[0-9]{4,6}-[0-9]{2}-[0-9]{2}([Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}(:?[0-9]{2}(:?[0-9]{2})?)?)?)?$"
const BASE64 = "^[A-Za-z0-9+/]*={0,2}$"

const jsonPrimitive = (type: Exclude<PrimitiveName, "unknown" | "json">): JsonSchema => {
  switch (type) {
    case "string":
      return { type: "string" }
    case "integer":
      return { anyOf: [{ type: "integer" }, { type: "string", pattern: INTEGER_STRING }] }
    case "number":
      return { type: "number" }
    case "boolean":
      return { type: "boolean" }
    case "decimal":
      return { anyOf: [{ type: "number" }, { type: "string", pattern: DECIMAL_STRING }] }
    case "timestamp":
      return { type: "string", pattern: TIMESTAMP_STRING }
    case "date":
      return { type: "string", pattern: DATE_STRING }
    case "binary":
      return { type: "string", contentEncoding: "base64", pattern: BASE64 }
  }
}

const jsonNode = (t: Type): JsonSchema => {
  let base: JsonSchema
  switch (t.type) {
    case "json":
      return {}
    case "unknown":
      return t.nullable ? { type: "null" } : { not: {} }
    case "object": {
      const entries = Object.entries(t.fields)
      base = {
        type: "object",
        properties: Object.fromEntries(entries.map(([k, f]) => [k, jsonNode(f)])),
        required: entries.filter(([, f]) => !f.optional).map(([k]) => k),
        additionalProperties: false
      }
      break
    }
    case "array":
      base = { type: "array", items: jsonNode(t.items) }
      break
    default:
      base = jsonPrimitive(t.type)
  }
  if (!t.nullable) return base
  return typeof base.type === "string" ? { ...base, type: [base.type, "null"] } : { anyOf: [base, { type: "null" }] }
}

/**
 * A JSON Schema (draft 2020-12) that accepts the JSON form of every record the schema was inferred from. The
 * JSON form assumed: a bigint is a JSON integer or a string of digits (to keep precision); a decimal is a JSON
 * number or a decimal string; a `Timestamp` or `Date` is its ISO 8601 string (`Timestamp#toJSON`, with or
 * without an offset); a date is `YYYY-MM-DD`; binary is a base64 string; an optional field is absent; `null`
 * stays `null`. Objects allow no other properties. Non-finite numbers have no JSON form and are not covered.
 *
 * **Example** (Describing records for a tool)
 *
 * ```ts
 * import { SchemaInference } from "@data-mcp/core"
 *
 * SchemaInference.toJsonSchema(SchemaInference.inferSchema([{ ok: true }]))
 * // { $schema: "https://json-schema.org/draft/2020-12/schema", type: "object",
 * //   properties: { ok: { type: "boolean" } }, required: ["ok"], additionalProperties: false }
 * ```
 *
 * @category conversions
 * @since 0.1.0
 */
export const toJsonSchema = (schema: Type): JsonSchema => ({
  $schema: "https://json-schema.org/draft/2020-12/schema",
  ...jsonNode(schema)
})

// ---------------------------------------------------------------------------------------------------------------
// Diff
// ---------------------------------------------------------------------------------------------------------------

/**
 * How one schema differs from another, as JSON-serialisable data. Paths name fields with dots (`address.city`)
 * and array items with `[]` (`tags[]`). `widened` gives the lossless type that accepts both sides;
 * `incompatible` lists the type changes that have none.
 *
 * @category models
 * @since 0.1.0
 */
export interface Diff {
  readonly added: ReadonlyArray<{ readonly path: string; readonly type: string }>
  readonly removed: ReadonlyArray<{ readonly path: string; readonly type: string }>
  readonly widened: ReadonlyArray<{ readonly path: string; readonly from: string; readonly to: string }>
  readonly incompatible: ReadonlyArray<{ readonly path: string; readonly from: string; readonly to: string }>
  /** Fields that became nullable. */
  readonly nullable: ReadonlyArray<{ readonly path: string }>
  /** Fields that became optional (absent in some records). */
  readonly optional: ReadonlyArray<{ readonly path: string }>
}

/**
 * A diff with no changes.
 *
 * @category constructors
 * @since 0.1.0
 */
export const emptyDiff: Diff = { added: [], removed: [], widened: [], incompatible: [], nullable: [], optional: [] }

/**
 * Whether a diff has no changes.
 *
 * @category utils
 * @since 0.1.0
 */
export const isEmptyDiff = (d: Diff): boolean =>
  d.added.length +
    d.removed.length +
    d.widened.length +
    d.incompatible.length +
    d.nullable.length +
    d.optional.length ===
  0

const joinPath = (path: string, key: string): string => (path === "" ? key : `${path}.${key}`)

/**
 * Compares two schemas: fields only in `after` (added) or only in `before` (removed); fields whose type in
 * `after` is not accepted by `before` (widened to the lossless join of both, or incompatible when there is
 * none); fields that became nullable or optional.
 *
 * **Example** (A readable diff)
 *
 * ```ts
 * import { SchemaInference as SI } from "@data-mcp/core"
 *
 * const d = SI.diff(SI.inferSchema([{ amount: 1, phone: "x" }]), SI.inferSchema([{ amount: 1.5, email: "e" }]))
 * SI.formatDiff(d)
 * // + added: email (string)
 * // - removed: phone (string)
 * // ~ widened: amount integer → decimal
 * ```
 *
 * @category utils
 * @since 0.1.0
 */
export const diff = (before: Type, after: Type, options?: MergeOptions): Diff => {
  const out = {
    added: [] as Array<{ path: string; type: string }>,
    removed: [] as Array<{ path: string; type: string }>,
    widened: [] as Array<{ path: string; from: string; to: string }>,
    incompatible: [] as Array<{ path: string; from: string; to: string }>,
    nullable: [] as Array<{ path: string }>,
    optional: [] as Array<{ path: string }>
  }
  const walk = (b: Type, a: Type, path: string): void => {
    if (a.nullable && !b.nullable) out.nullable.push({ path })
    if (b.type === "object" && a.type === "object") {
      for (const [k, fb] of Object.entries(b.fields)) {
        const fa = Object.hasOwn(a.fields, k) ? a.fields[k] : undefined
        const p = joinPath(path, k)
        if (fa === undefined) out.removed.push({ path: p, type: typeName(fb) })
        else {
          if (fa.optional && !fb.optional) out.optional.push({ path: p })
          walk(fb, fa, p)
        }
      }
      for (const [k, fa] of Object.entries(a.fields)) {
        if (!Object.hasOwn(b.fields, k)) out.added.push({ path: joinPath(path, k), type: typeName(fa) })
      }
      return
    }
    if (b.type === "array" && a.type === "array") {
      walk(b.items, a.items, `${path}[]`)
      return
    }
    if (typeName(a) === typeName(b) || a.type === "unknown") return
    const j = merge(withNullable(b, false), withNullable(a, false), options)
    if (Result.isFailure(j)) out.incompatible.push({ path, from: typeName(b), to: typeName(a) })
    else if (typeName(j.success) !== typeName(b)) out.widened.push({ path, from: typeName(b), to: typeName(j.success) })
  }
  walk(before, after, "")
  return out
}

/**
 * A readable, multi-line form of a diff, one change a line:
 * `+ added: email (string)`, `- removed: phone (string)`, `~ widened: amount integer → decimal`,
 * `! incompatible: id integer → string`, `~ nullable: name`, `~ optional: phone`. Names fields, never values.
 *
 * @category utils
 * @since 0.1.0
 */
export const formatDiff = (d: Diff): string => {
  const name = (p: string) => (p === "" ? "(record)" : p)
  const lines = [
    ...d.added.map((x) => `+ added: ${name(x.path)} (${x.type})`),
    ...d.removed.map((x) => `- removed: ${name(x.path)} (${x.type})`),
    ...d.widened.map((x) => `~ widened: ${name(x.path)} ${x.from} → ${x.to}`),
    ...d.incompatible.map((x) => `! incompatible: ${name(x.path)} ${x.from} → ${x.to} (no lossless widening)`),
    ...d.nullable.map((x) => `~ nullable: ${name(x.path)}`),
    ...d.optional.map((x) => `~ optional: ${name(x.path)}`)
  ]
  return lines.length === 0 ? "(no changes)" : lines.join("\n")
}

const PathType = Schema.Struct({ path: Schema.String, type: Schema.String })
const PathChange = Schema.Struct({ path: Schema.String, from: Schema.String, to: Schema.String })
const PathOnly = Schema.Struct({ path: Schema.String })

/**
 * The `Diff` as a Schema, for errors, events and stored snapshots.
 *
 * @category schemas
 * @since 0.1.0
 */
export const DiffSchema: Schema.Codec<Diff> = Schema.Struct({
  added: Schema.Array(PathType),
  removed: Schema.Array(PathType),
  widened: Schema.Array(PathChange),
  incompatible: Schema.Array(PathChange),
  nullable: Schema.Array(PathOnly),
  optional: Schema.Array(PathOnly)
})
