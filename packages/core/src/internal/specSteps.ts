// The declarative transform steps of pipeline specs and mappings: their schemas, casts, and how each becomes
// Transform steps. Shared by Mapping (rename, cast, default, drop, derive) and PipelineSpec (all of them).
import { Effect, Schema } from "effect"
import * as Expression from "../Expression.ts"
import * as Timestamp from "../Timestamp.ts"
import * as Transform from "../Transform.ts"
import { formatPath, type Locator, type Segment, type SpecError, specError } from "./specError.ts"

export const castTargets = ["integer", "number", "decimal", "boolean", "string", "timestamp", "date", "json"] as const
export type CastTarget = (typeof castTargets)[number]
export const CastTarget = Schema.Literals(castTargets)

const FieldName = Schema.String.check(Schema.isMinLength(1))
const Expr = Schema.String.check(Schema.isMinLength(1))

export const FieldRule = Schema.Union([
  CastTarget,
  Schema.Struct({ type: CastTarget, optional: Schema.optionalKey(Schema.Boolean) })
])

export const bodies = {
  rename: Schema.Record(FieldName, FieldName),
  cast: Schema.Record(FieldName, CastTarget),
  default: Schema.Record(FieldName, Schema.Unknown),
  drop: Schema.Array(FieldName).check(Schema.isMinLength(1)),
  derive: Schema.Record(FieldName, Expr),
  filter: Expr,
  validate: Schema.Struct({ fields: Schema.Record(FieldName, FieldRule) }),
  dedupe: Schema.Struct({
    key: Schema.Union([FieldName, Schema.Array(FieldName).check(Schema.isMinLength(1))]),
    window: Schema.optionalKey(Schema.Union([Schema.Literal("batch"), Schema.Int.check(Schema.isGreaterThan(0))]))
  })
} as const

export type StepKind = keyof typeof bodies
export const mappingKinds = ["rename", "cast", "default", "drop", "derive"] as const
export const stepKinds = ["validate", "rename", "cast", "default", "drop", "filter", "derive", "dedupe"] as const

export type Step = { readonly [K in StepKind]: { readonly [P in K]: (typeof bodies)[K]["Type"] } }[StepKind]

export const kindOf = (step: Step): StepKind => Object.keys(step)[0] as StepKind

// ---------------------------------------------------------------------------------------------------------------
// Casts

const INTEGER = /^[+-]?\d+$/
const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/

const NO = Symbol("no cast")

const isValidDate = (text: string): boolean => {
  const m = DATE.exec(text)
  if (m === null) return false
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])]
  const date = new Date(0)
  date.setUTCFullYear(y, mo - 1, d)
  return date.getUTCFullYear() === y && date.getUTCMonth() === mo - 1 && date.getUTCDate() === d
}

/** Casts a value, or returns NO. `null`/`undefined` stay as they are; `""` is `null` for non-string targets. */
export const castOrNo = (value: unknown, target: CastTarget): unknown => {
  if (value === null || value === undefined) return value
  if (typeof value === "string" && value.trim() === "" && target !== "string") return null
  switch (target) {
    case "integer": {
      if (typeof value === "number") return Number.isInteger(value) ? value : NO
      if (typeof value === "bigint") return Number.isSafeInteger(Number(value)) ? Number(value) : value
      if (typeof value === "string" && INTEGER.test(value.trim())) {
        const n = Number(value)
        return Number.isSafeInteger(n) ? n : BigInt(value.trim())
      }
      return NO
    }
    case "number": {
      if (typeof value === "number") return Number.isFinite(value) ? value : NO
      if (typeof value === "bigint") return Number(value)
      if (typeof value === "string" && DECIMAL.test(value.trim())) {
        const n = Number(value)
        return Number.isFinite(n) ? n : NO
      }
      return NO
    }
    case "decimal": {
      if (typeof value === "number") return Number.isFinite(value) ? String(value) : NO
      if (typeof value === "bigint") return value.toString()
      if (typeof value === "string" && DECIMAL.test(value.trim())) return value.trim()
      return NO
    }
    case "boolean": {
      if (typeof value === "boolean") return value
      if (value === 1 || value === 0) return value === 1
      if (typeof value === "string") {
        const t = value.trim().toLowerCase()
        if (t === "true" || t === "1") return true
        if (t === "false" || t === "0") return false
      }
      return NO
    }
    case "string": {
      if (typeof value === "string") return value
      if (typeof value === "number" || typeof value === "bigint" || typeof value === "boolean") return String(value)
      if (Timestamp.isTimestamp(value) || value instanceof Date) return value.toISOString()
      try {
        return JSON.stringify(value, (_, v) => (typeof v === "bigint" ? v.toString() : v)) ?? NO
      } catch {
        return NO
      }
    }
    case "timestamp": {
      if (Timestamp.isTimestamp(value)) return value
      if (value instanceof Date) return Number.isNaN(value.getTime()) ? NO : Timestamp.fromDate(value)
      if (typeof value === "string") return Timestamp.parse(value) ?? NO
      return NO
    }
    case "date": {
      if (typeof value === "string") return isValidDate(value.trim()) ? value.trim() : NO
      if (Timestamp.isTimestamp(value)) return value.toISOString().slice(0, 10)
      if (value instanceof Date) return Number.isNaN(value.getTime()) ? NO : value.toISOString().slice(0, 10)
      return NO
    }
    case "json": {
      if (typeof value !== "string") return value
      try {
        return JSON.parse(value) as unknown
      } catch {
        return NO
      }
    }
  }
}

export const isNo = (u: unknown): boolean => u === NO

// ---------------------------------------------------------------------------------------------------------------
// Building transforms

export const appendSteps = (
  self: Transform.Any,
  steps: ReadonlyArray<Transform.Step>
): Transform.Transform<unknown, unknown, unknown> => Transform.andThen(self, steps)

const reject = (reason: string): never => {
  throw new Transform.RecordRejected({ reason })
}

const asObject = (record: unknown): Record<string, unknown> => {
  if (typeof record !== "object" || record === null || Array.isArray(record))
    return reject("the record is not an object")
  return record as Record<string, unknown>
}

const expressionFailure = (error: unknown): string =>
  error instanceof Expression.ExpressionError
    ? `the expression failed: ${error.reason}`
    : `the expression failed (${error instanceof Error ? error.name : "error"})`

const compile = (
  source: string,
  kind: "filter" | "derive",
  at: ReadonlyArray<Segment>,
  locator: Locator | undefined
): Effect.Effect<Expression.Compiled, SpecError> =>
  // No `name`: the SpecError (and a dead letter's step name) already says where the expression is.
  Expression.compile(source, { kind }).pipe(
    Effect.mapError((error) => specError(locator, at, "InvalidExpression", `invalid CEL expression: ${error.reason}`))
  )

/**
 * Appends the Transform steps for one declarative step. CEL is compiled here, once, when the spec is built;
 * the compiled expression is pure and reused by every run.
 */
export const applyStep = (
  self: Transform.Any,
  step: Step,
  at: ReadonlyArray<Segment>,
  locator: Locator | undefined
): Effect.Effect<Transform.Transform<unknown, unknown, unknown>, SpecError> => {
  const kind = kindOf(step)
  const name = formatPath([...at, kind])
  switch (kind) {
    case "rename": {
      const mapping = (step as { rename: Record<string, string> }).rename
      return Effect.succeed(self.pipe(Transform.rename(mapping)))
    }
    case "drop": {
      const keys = (step as { drop: ReadonlyArray<string> }).drop
      return Effect.succeed(self.pipe(Transform.drop(keys as ReadonlyArray<never>)))
    }
    case "dedupe": {
      const { key, window } = (step as { dedupe: (typeof bodies)["dedupe"]["Type"] }).dedupe
      const keyOf =
        typeof key === "string"
          ? (record: unknown) => asObject(record)[key]
          : (record: unknown) => {
              const r = asObject(record)
              return key.map((k) => r[k])
            }
      return Effect.succeed(self.pipe(Transform.dedupe<unknown>(keyOf, window === undefined ? undefined : { window })))
    }
    case "cast": {
      const fields = Object.entries((step as { cast: Record<string, CastTarget> }).cast)
      return Effect.succeed(
        appendSteps(self, [
          Transform.mapStep(name, () => (record) => {
            const out = { ...asObject(record) }
            for (const [field, target] of fields) {
              if (!Object.hasOwn(out, field)) continue
              const cast = castOrNo(out[field], target)
              if (cast === NO) reject(`field ${JSON.stringify(field)} cannot be cast to ${target}`)
              out[field] = cast
            }
            return out
          })
        ])
      )
    }
    case "default": {
      const fields = Object.entries((step as { default: Record<string, unknown> }).default)
      return Effect.succeed(
        appendSteps(self, [
          Transform.mapStep(name, () => (record) => {
            const out = { ...asObject(record) }
            for (const [field, value] of fields) if (out[field] === undefined || out[field] === null) out[field] = value
            return out
          })
        ])
      )
    }
    case "validate": {
      const rules = Object.entries((step as { validate: (typeof bodies)["validate"]["Type"] }).validate.fields).map(
        ([field, rule]) =>
          typeof rule === "string"
            ? { field, type: rule, optional: false }
            : { field, type: rule.type, optional: rule.optional ?? false }
      )
      return Effect.succeed(
        appendSteps(self, [
          Transform.mapStep(name, () => (record) => {
            const r = asObject(record)
            const problems: Array<string> = []
            for (const { field, type, optional } of rules) {
              const value = r[field]
              const empty = value === undefined || value === null || (typeof value === "string" && value.trim() === "")
              if (empty) {
                if (!optional) problems.push(`field ${JSON.stringify(field)} is missing`)
                continue
              }
              if (castOrNo(value, type) === NO) problems.push(`field ${JSON.stringify(field)} is not a valid ${type}`)
            }
            if (problems.length > 0) reject(problems.slice(0, 5).join("; "))
            return record
          })
        ])
      )
    }
    case "filter": {
      const source = (step as { filter: string }).filter
      return Effect.map(compile(source, "filter", [...at, "filter"], locator), (compiled) =>
        appendSteps(self, [
          Transform.filterStep(name, () => (record) => {
            try {
              return compiled.test(record)
            } catch (error) {
              return reject(expressionFailure(error))
            }
          })
        ])
      )
    }
    case "derive": {
      const entries = Object.entries((step as { derive: Record<string, string> }).derive)
      return Effect.map(
        Effect.forEach(entries, ([field, source]) =>
          Effect.map(compile(source, "derive", [...at, "derive", field], locator), (compiled) => ({ field, compiled }))
        ),
        (compiled) =>
          appendSteps(self, [
            Transform.mapStep(name, () => (record) => {
              // Fields are derived in order: each expression sees the fields derived before it.
              const out = { ...asObject(record) }
              for (const { field, compiled: expression } of compiled) {
                try {
                  out[field] = expression.evaluate(out)
                } catch (error) {
                  reject(`${JSON.stringify(field)}: ${expressionFailure(error)}`)
                }
              }
              return out
            })
          ])
      )
    }
  }
}

/** Builds the transform for a list of steps, naming each `<prefix>[i]`. */
export const buildSteps = (
  steps: ReadonlyArray<Step>,
  prefix: ReadonlyArray<Segment>,
  locator: Locator | undefined
): Effect.Effect<Transform.Transform<unknown, unknown, unknown>, SpecError> =>
  Effect.reduce(
    steps,
    () => Transform.identity<unknown>() as Transform.Transform<unknown, unknown, unknown>,
    (t, step, i) => applyStep(t, step, [...prefix, i], locator)
  )

export interface PreviewRow {
  readonly index: number
  readonly before: unknown
  readonly after?: unknown
  readonly rejected?: string | undefined
  readonly dropped?: boolean | undefined
}

/** Runs the synchronous steps of a transform over records, one by one, as the runner would (one batch). */
export const previewTransform = (transform: Transform.Any, records: ReadonlyArray<unknown>): Array<PreviewRow> => {
  const fns = transform.steps.map((step) => {
    if (step._tag !== "Sync") throw new Error("preview supports synchronous steps only")
    return { name: step.name, fn: step.make() }
  })
  return records.map((before, index) => {
    let current: Array<unknown> = [before]
    for (const { name, fn } of fns) {
      const next: Array<unknown> = []
      try {
        for (const record of current) fn(record, (out) => next.push(out))
      } catch (error) {
        const reason =
          error instanceof Transform.RecordRejected
            ? `${name}: ${error.reason}`
            : `${name} threw ${error instanceof Error ? error.name : "an error"}`
        return { index, before, rejected: reason }
      }
      current = next
    }
    return current.length === 0 ? { index, before, dropped: true } : { index, before, after: current[0] }
  })
}
