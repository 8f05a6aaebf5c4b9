/**
 * A schema contract decides what happens when a stream's records stop matching its schema: a new stream
 * (`tables`), a new field (`columns`) or a field whose type would change (`dataType`). Each is `evolve` (accept
 * and record a new schema version), `freeze` (fail the run with a readable diff), `discardRow` (drop the record,
 * as a dead letter) or `discardValue` (drop only the offending value). One enforcer per run keeps the current
 * schema of every stream and yields a versioned snapshot, with its diff, for each change it accepts.
 *
 * @since 0.1.0
 */
import { Effect, Result, Schema } from "effect"
import * as SI from "./SchemaInference.ts"
import * as Timestamp from "./Timestamp.ts"

/**
 * What to do with one kind of schema change.
 *
 * @category models
 * @since 0.1.0
 */
export type Mode = "evolve" | "freeze" | "discardRow" | "discardValue"

/**
 * A schema contract. Unset parts take the defaults `{ tables: "evolve", columns: "evolve", dataType: "freeze" }`.
 * `widenTo: "text"` lets a `dataType: "evolve"` change with no lossless widening (`integer` then `string`) turn
 * the field into `string`; its values are then written as text.
 *
 * @category models
 * @since 0.1.0
 */
export interface Contract {
  readonly tables?: Mode | undefined
  readonly columns?: Mode | undefined
  readonly dataType?: Mode | undefined
  readonly widenTo?: "text" | undefined
}

/**
 * The contract parts that a change falls under.
 *
 * @category models
 * @since 0.1.0
 */
export type Part = "tables" | "columns" | "dataType"

/**
 * The default contract: new streams and fields evolve the schema, type changes fail the run.
 *
 * @category constructors
 * @since 0.1.0
 */
export const defaults: { readonly tables: Mode; readonly columns: Mode; readonly dataType: Mode } = {
  tables: "evolve",
  columns: "evolve",
  dataType: "freeze"
}

/**
 * One version of a stream's schema, with the diff from the version before (version 1: every field added)
 * and when it was made (ISO 8601). Plain JSON data, for storage, `SchemaChanged` events and the run summary.
 *
 * @category models
 * @since 0.1.0
 */
export interface Snapshot {
  readonly stream: string
  readonly version: number
  readonly schema: SI.Type
  readonly diff: SI.Diff
  readonly at: string
}

/**
 * A record dropped by `discardRow` (or because it is not an object), with reasons that name fields, never
 * values — ready for a dead letter.
 *
 * @category models
 * @since 0.1.0
 */
export interface Discarded {
  readonly record: unknown
  readonly reasons: ReadonlyArray<string>
}

/**
 * A kept record that lost values under `discardValue`: its index in `Applied.records`, the dropped fields
 * (dotted paths) and the reasons.
 *
 * @category models
 * @since 0.1.0
 */
export interface Trimmed {
  readonly index: number
  readonly fields: ReadonlyArray<string>
  readonly reasons: ReadonlyArray<string>
}

/**
 * What the enforcer made of one batch: the records to write, the ones it dropped, the ones it trimmed, and
 * the new snapshot when the stream's schema changed.
 *
 * @category models
 * @since 0.1.0
 */
export interface Applied {
  readonly records: ReadonlyArray<unknown>
  readonly discarded: ReadonlyArray<Discarded>
  readonly trimmed: ReadonlyArray<Trimmed>
  readonly snapshot: Snapshot | undefined
}

/**
 * A batch broke a `freeze` part of the contract, or needed a type change with no lossless widening. The
 * message names the stream and shows the readable diff (added, removed, widened fields); `diff` holds it as
 * data. Never retryable: fix the source or the contract.
 *
 * @category errors
 * @since 0.1.0
 */
export class SchemaViolation extends Schema.TaggedError<SchemaViolation>("@data-mcp/core/SchemaViolation")(
  "SchemaViolation",
  {
    stream: Schema.String,
    /** The contract parts that refused the batch, each with its mode (`columns: freeze`). */
    violations: Schema.Array(Schema.String),
    diff: SI.DiffSchema
  }
) {
  get retryable(): boolean {
    return false
  }

  override get message(): string {
    return `Schema contract refused a batch of stream "${this.stream}" (${this.violations.join(", ")}):\n${SI.formatDiff(this.diff)}`
  }
}

/**
 * Options of `make`: the snapshots stored by earlier runs (latest per stream), and a clock for `Snapshot.at`.
 *
 * @category models
 * @since 0.1.0
 */
export interface MakeOptions {
  readonly initial?: ReadonlyMap<string, Snapshot> | undefined
  readonly now?: (() => Date) | undefined
}

/**
 * A per-run contract enforcer.
 *
 * @category models
 * @since 0.1.0
 */
export interface Enforcer {
  /** The contract in force, with defaults filled in. */
  readonly contract: {
    readonly tables: Mode
    readonly columns: Mode
    readonly dataType: Mode
    readonly widenTo?: "text" | undefined
  }
  /** Checks a batch of a stream; state changes only when it succeeds. */
  apply(stream: string, records: ReadonlyArray<unknown>): Effect.Effect<Applied, SchemaViolation>
  /** The latest snapshot of a stream. */
  current(stream: string): Snapshot | undefined
  /** Every snapshot so far: the initial ones, then those made in this run, in order. */
  snapshots(): ReadonlyArray<Snapshot>
}

// ---------------------------------------------------------------------------------------------------------------

interface Issue {
  readonly part: "columns" | "dataType"
  readonly path: string
  readonly from: string
  readonly to: string
  readonly lossless: boolean
}

interface Walked {
  readonly value: unknown
  readonly drop: boolean
  readonly node: SI.Type
}

const isPlainObject = (u: unknown): u is Record<string, unknown> => {
  if (u === null || typeof u !== "object") return false
  const proto = Object.getPrototypeOf(u)
  return proto === Object.prototype || proto === null
}

const setNullable = (t: SI.Type, nullable: boolean): SI.Type =>
  t.type === "object"
    ? { type: "object", fields: t.fields, nullable }
    : t.type === "array"
      ? { type: "array", items: t.items, nullable }
      : { type: t.type, nullable }

const asField = (t: SI.Type, optional: boolean): SI.Field => ({ ...setNullable(t, t.nullable), optional })

const joinPath = (path: string, key: string): string => (path === "" ? key : `${path}.${key}`)

const describe = (issue: Issue, mode: Mode): string =>
  issue.part === "columns"
    ? `new field "${issue.path}" (columns: ${mode})`
    : issue.lossless
      ? `field "${issue.path}" would widen ${issue.from} → ${issue.to} (dataType: ${mode})`
      : `field "${issue.path}" changed ${issue.from} → ${issue.to} with no lossless widening (dataType: ${mode})`

const toText = (v: unknown): string =>
  typeof v === "string"
    ? v
    : Timestamp.isTimestamp(v) || v instanceof Date
      ? v.toISOString()
      : v instanceof Uint8Array
        ? Buffer.from(v).toString("base64")
        : String(v)

// Writes the values of fields widened to text as text.
const castText = (v: unknown, t: SI.Type): unknown => {
  if (v === null || v === undefined) return v
  if (t.type === "string") return toText(v)
  if (t.type === "array" && Array.isArray(v)) return v.map((x) => castText(x, t.items))
  if (t.type === "object" && isPlainObject(v)) {
    return Object.fromEntries(
      Object.entries(v).map(([k, x]) => [k, Object.hasOwn(t.fields, k) ? castText(x, t.fields[k] as SI.Type) : x])
    )
  }
  return v
}

/**
 * Makes the contract enforcer of one run. For each batch of a stream, `apply`:
 *
 * - **new stream**: the very first stream ever seen (no `initial` snapshots, none made yet) is always
 *   accepted as version 1. Later new streams follow `tables`: `evolve` accepts them (version 1), `freeze`
 *   fails, `discardRow` and `discardValue` both drop every record of the batch.
 * - **new field** (at any depth; `columns`): `evolve` adds it (optional, since earlier records lacked it),
 *   `freeze` fails, `discardRow` drops the record, `discardValue` removes the field from the record.
 * - **type change** (`dataType`), a value whose type the field's type does not accept: `evolve` widens the
 *   field losslessly (see `SchemaInference.merge`) and fails when there is no lossless widening (unless
 *   `widenTo: "text"`); `freeze` fails; `discardRow` drops the record; `discardValue` removes the value (the
 *   field, or the array holding it, becomes absent in that record — a value is never replaced by null).
 * - `null`s and missing fields are always accepted; they make the field nullable or optional. A field seen
 *   only as `null` (type `unknown`) takes the type of its first non-null value; a `json` field takes anything.
 * - a record that is not an object is always dropped.
 *
 * Records are checked in order, so a field added by one record is known to the next. When the batch changes
 * the schema, `Applied.snapshot` is the next version with its diff. A failing batch changes nothing; its
 * `SchemaViolation` lists every change in the batch, and the known fields it lacks, as a diff.
 *
 * **Example** (A field appears mid-run)
 *
 * ```ts
 * import { SchemaContract } from "@data-mcp/core"
 * import { Effect } from "effect"
 *
 * const enforcer = SchemaContract.make({ columns: "evolve" })
 * const program = Effect.gen(function* () {
 *   yield* enforcer.apply("users", [{ id: 1 }])                    // snapshot version 1
 *   const r = yield* enforcer.apply("users", [{ id: 2, email: "a@b" }])
 *   return r.snapshot?.version                                     // 2; diff.added = [{ path: "email", … }]
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (contract?: Contract, options?: MakeOptions): Enforcer => {
  const resolved = {
    tables: contract?.tables ?? defaults.tables,
    columns: contract?.columns ?? defaults.columns,
    dataType: contract?.dataType ?? defaults.dataType,
    ...(contract?.widenTo === undefined ? {} : { widenTo: contract.widenTo })
  }
  const now = options?.now ?? (() => new Date())
  const latest = new Map<string, Snapshot>(options?.initial ?? [])
  const history: Array<Snapshot> = [...latest.values()]
  const mergeOptions = { widenTo: resolved.widenTo }

  // Checks one value against a node; returns the value (trimmed under discardValue), whether the parent must
  // drop it, and the node widened to accept it (meaningful only when the record is kept).
  const walk = (v: unknown, node: SI.Type, path: string, issues: Array<Issue>, dropped: Array<string>): Walked => {
    if (v === null || v === undefined) return { value: v, drop: false, node: setNullable(node, true) }
    if (node.type === "json") return { value: v, drop: false, node }
    if (node.type === "unknown") {
      const t = SI.inferValue(v)
      return { value: v, drop: false, node: setNullable(t, t.nullable || node.nullable) }
    }
    if (node.type === "object" && isPlainObject(v)) {
      const fields = new Map<string, SI.Field>(Object.entries(node.fields))
      const out: Array<[string, unknown]> = []
      const seen = new Set<string>()
      let changed = false
      for (const [k, child] of Object.entries(v)) {
        if (child === undefined) continue
        const p = joinPath(path, k)
        const known = fields.get(k)
        if (known === undefined) {
          const t = SI.inferValue(child)
          issues.push({ part: "columns", path: p, from: "", to: SI.typeName(t), lossless: true })
          if (resolved.columns === "discardValue") {
            dropped.push(p)
            changed = true
            continue
          }
          fields.set(k, asField(t, true))
          out.push([k, child])
        } else {
          const r = walk(child, known, p, issues, dropped)
          if (r.drop) {
            dropped.push(p)
            fields.set(k, asField(known, true))
            changed = true
            continue
          }
          fields.set(k, asField(r.node, known.optional))
          if (r.value !== child) changed = true
          out.push([k, r.value])
        }
        seen.add(k)
      }
      for (const [k, f] of fields) if (!seen.has(k) && !f.optional) fields.set(k, asField(f, true))
      return {
        value: changed ? Object.fromEntries(out) : v,
        drop: false,
        node: { type: "object", fields: Object.fromEntries(fields), nullable: node.nullable }
      }
    }
    if (node.type === "array" && Array.isArray(v)) {
      let items = node.items
      let drop = false
      // A value dropped inside an array drops the whole array (arrays keep their elements as they are).
      for (const item of v) {
        const inner: Array<string> = []
        const r = walk(item ?? null, items, `${path}[]`, issues, inner)
        if (r.drop || inner.length > 0) drop = true
        else items = r.node
      }
      return { value: v, drop, node: { type: "array", items, nullable: node.nullable } }
    }
    const t = SI.inferValue(v)
    const j = SI.merge(setNullable(node, false), setNullable(t, false), mergeOptions)
    if (Result.isFailure(j)) {
      issues.push({ part: "dataType", path, from: SI.typeName(node), to: SI.typeName(t), lossless: false })
      return { value: v, drop: resolved.dataType === "discardValue", node }
    }
    if (SI.typeName(j.success) !== SI.typeName(node)) {
      issues.push({ part: "dataType", path, from: SI.typeName(node), to: SI.typeName(j.success), lossless: true })
      if (resolved.dataType === "discardValue") return { value: v, drop: true, node }
    }
    return { value: v, drop: false, node: setNullable(j.success, node.nullable) }
  }

  const violation = (stream: string, violations: ReadonlyArray<string>, diff: SI.Diff) =>
    new SchemaViolation({ stream, violations, diff })

  const snapshotOf = (stream: string, version: number, schema: SI.Type, diff: SI.Diff): Snapshot => ({
    stream,
    version,
    schema,
    diff,
    at: now().toISOString()
  })

  const applySync = (stream: string, records: ReadonlyArray<unknown>): Result.Result<Applied, SchemaViolation> => {
    const discarded: Array<Discarded> = []
    const objects: Array<Record<string, unknown>> = []
    for (const record of records) {
      if (isPlainObject(record)) objects.push(record)
      else discarded.push({ record, reasons: ["record is not an object"] })
    }
    const previous = latest.get(stream)
    if (previous === undefined) {
      if (objects.length === 0) return Result.succeed({ records: [], discarded, trimmed: [], snapshot: undefined })
      const schema = SI.inferSchema(objects, { sample: Number.POSITIVE_INFINITY })
      const diff = SI.diff(SI.object({}), schema)
      const firstEver = latest.size === 0
      if (!firstEver && resolved.tables !== "evolve") {
        if (resolved.tables === "freeze") return Result.fail(violation(stream, ["tables: freeze (new stream)"], diff))
        const reasons = [`new stream "${stream}" (tables: ${resolved.tables})`]
        return Result.succeed({
          records: [],
          discarded: [...discarded, ...objects.map((record) => ({ record, reasons }))],
          trimmed: [],
          snapshot: undefined
        })
      }
      const snapshot = snapshotOf(stream, 1, schema, diff)
      latest.set(stream, snapshot)
      history.push(snapshot)
      return Result.succeed({ records: objects, discarded, trimmed: [], snapshot })
    }

    let schema = previous.schema
    const kept: Array<unknown> = []
    const trims: Array<Trimmed> = []
    const refused: Array<Issue> = []
    const refusedParts = new Set<string>()
    const allIssues: Array<Issue> = []
    for (const record of objects) {
      const issues: Array<Issue> = []
      const dropped: Array<string> = []
      const r = walk(record, schema, "", issues, dropped)
      allIssues.push(...issues)
      const modeOf = (i: Issue): Mode => resolved[i.part]
      const fatal = issues.filter((i) => modeOf(i) === "freeze" || (modeOf(i) === "evolve" && !i.lossless))
      if (fatal.length > 0) {
        refused.push(...fatal)
        for (const i of fatal) {
          refusedParts.add(modeOf(i) === "freeze" ? `${i.part}: freeze` : `${i.part}: evolve (no lossless widening)`)
        }
        continue
      }
      const rowIssues = issues.filter((i) => modeOf(i) === "discardRow")
      if (rowIssues.length > 0) {
        discarded.push({ record, reasons: rowIssues.map((i) => describe(i, "discardRow")) })
        continue
      }
      if (dropped.length > 0) {
        const valueIssues = issues.filter((i) => modeOf(i) === "discardValue")
        trims.push({
          index: kept.length,
          fields: dropped,
          reasons: valueIssues.map((i) => describe(i, "discardValue"))
        })
      }
      kept.push(r.value)
      schema = r.node
    }

    if (refused.length > 0) {
      const unique = (xs: ReadonlyArray<Issue>) => [...new Map(xs.map((i) => [`${i.part}:${i.path}`, i])).values()]
      const issues = unique(allIssues)
      const batch = SI.inferSchema(objects, { sample: Number.POSITIVE_INFINITY })
      const diff: SI.Diff = {
        ...SI.emptyDiff,
        added: issues.filter((i) => i.part === "columns").map((i) => ({ path: i.path, type: i.to })),
        removed: SI.diff(previous.schema, batch).removed,
        widened: issues
          .filter((i) => i.part === "dataType" && i.lossless)
          .map((i) => ({ path: i.path, from: i.from, to: i.to })),
        incompatible: issues
          .filter((i) => i.part === "dataType" && !i.lossless)
          .map((i) => ({ path: i.path, from: i.from, to: i.to }))
      }
      return Result.fail(violation(stream, [...refusedParts].sort(), diff))
    }

    const records2 = resolved.widenTo === "text" ? kept.map((r) => castText(r, schema)) : kept
    if (SI.equals(schema, previous.schema)) {
      return Result.succeed({ records: records2, discarded, trimmed: trims, snapshot: undefined })
    }
    const snapshot = snapshotOf(stream, previous.version + 1, schema, SI.diff(previous.schema, schema, mergeOptions))
    latest.set(stream, snapshot)
    history.push(snapshot)
    return Result.succeed({ records: records2, discarded, trimmed: trims, snapshot })
  }

  return {
    contract: resolved,
    apply: (stream, records) =>
      Effect.suspend(() => {
        const r = applySync(stream, records)
        return Result.isSuccess(r) ? Effect.succeed(r.success) : Effect.fail(r.failure)
      }),
    current: (stream) => latest.get(stream),
    snapshots: () => [...history]
  }
}
