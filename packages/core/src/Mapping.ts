/**
 * A mapping is a list of declarative field steps — `rename`, `cast`, `default`, `drop` and `derive` (a CEL
 * expression per new field) — held as plain data, so a UI or an agent can propose one, validate it, and
 * preview what it does to sample records before any pipeline runs it. `toTransform` turns the steps into a
 * `Transform` whose steps fuse with the rest of the pipeline; `preview` shows each record before and after,
 * or why it was rejected. A record a step cannot handle (a value that cannot be cast, an expression that
 * fails on it) is rejected with a reason that names the field, never its value.
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import { decodeAt, type SpecError, specError } from "./internal/specError.ts"
import * as Steps from "./internal/specSteps.ts"
import type * as Transform from "./Transform.ts"

/**
 * What `cast` converts a field to:
 *
 * - `integer`: from an integer number or numeric text; a `bigint` when beyond 2^53.
 * - `number`: from numeric text or a bigint.
 * - `decimal`: kept exact, as its decimal text (`"12.50"`).
 * - `boolean`: from `true`/`false`, `"true"`/`"false"` (any case), `1`/`0`, `"1"`/`"0"`.
 * - `string`: numbers, booleans, timestamps (ISO) and objects (JSON) as text.
 * - `timestamp`: from ISO 8601 text (or a `Date`) to a lossless `Timestamp`.
 * - `date`: `YYYY-MM-DD` text, checked to exist (a timestamp gives its UTC date).
 * - `json`: parses JSON text.
 *
 * `null` and missing fields stay as they are; empty text becomes `null` for every target except `string`.
 *
 * @category models
 * @since 0.1.0
 */
export type CastTarget = Steps.CastTarget

/**
 * The schema of `CastTarget`.
 *
 * @category schemas
 * @since 0.1.0
 */
export const CastTarget: Schema.Literals<typeof Steps.castTargets> = Steps.CastTarget

/**
 * One mapping step, as data: an object with exactly one key, the step's name.
 *
 * - `{ rename: { old: new } }`
 * - `{ cast: { field: CastTarget } }`
 * - `{ default: { field: value } }`: sets fields that are missing or `null`
 * - `{ drop: [field, …] }`
 * - `{ derive: { field: "CEL expression" } }`: `record` is the record; fields are derived in order
 *
 * @category models
 * @since 0.1.0
 */
export type Step = Extract<
  Steps.Step,
  | { readonly rename: unknown }
  | { readonly cast: unknown }
  | { readonly default: unknown }
  | { readonly drop: unknown }
  | { readonly derive: unknown }
>

/**
 * The step names a mapping may use.
 *
 * @category constants
 * @since 0.1.0
 */
export const kinds: ReadonlyArray<string> = Steps.mappingKinds

/**
 * Casts one value, or returns `undefined` when it cannot be cast (see `CastTarget`).
 *
 * @category utils
 * @since 0.1.0
 */
export const castValue = (value: unknown, target: CastTarget): { readonly value: unknown } | undefined => {
  const out = Steps.castOrNo(value, target)
  return Steps.isNo(out) ? undefined : { value: out }
}

/**
 * Validates mapping steps given as untyped data (JSON from a UI or an agent). A `SpecError` names the step
 * (`mapping[2].cast.amount`) and what is wrong.
 *
 * @category constructors
 * @since 0.1.0
 */
export const decode = (input: unknown): Effect.Effect<ReadonlyArray<Step>, SpecError> =>
  Effect.suspend(() => {
    if (!Array.isArray(input))
      return Effect.fail(specError(undefined, ["mapping"], "Invalid", "must be a list of steps"))
    const out: Array<Step> = []
    for (let i = 0; i < input.length; i++) {
      const step: unknown = input[i]
      const at = ["mapping", i] as const
      const keys = typeof step === "object" && step !== null && !Array.isArray(step) ? Object.keys(step) : []
      if (keys.length !== 1) {
        return Effect.fail(
          specError(undefined, at, "InvalidStep", "a step is an object with exactly one key, its name")
        )
      }
      const kind = keys[0] as string
      if (!(Steps.mappingKinds as ReadonlyArray<string>).includes(kind)) {
        return Effect.fail(
          specError(
            undefined,
            at,
            "UnknownStep",
            `unknown mapping step ${JSON.stringify(kind)}; known steps: ${Steps.mappingKinds.join(", ")}`
          )
        )
      }
      const body = decodeAt(
        Steps.bodies[kind as Steps.StepKind],
        (step as Record<string, unknown>)[kind],
        [...at, kind],
        undefined,
        "InvalidStep"
      )
      if (!body.ok) return Effect.fail(body.error)
      out.push({ [kind]: body.value } as Step)
    }
    return Effect.succeed(out)
  })

/**
 * Builds the transform for mapping steps. Derived fields' CEL is compiled here, once; a bad expression fails
 * with a `SpecError` naming the field (`mapping[1].derive.total`).
 *
 * **Example** (Typing and renaming CSV columns)
 *
 * ```ts
 * import { Mapping } from "@data-mcp/core"
 *
 * const transform = Mapping.toTransform([
 *   { rename: { customer_email: "email" } },
 *   { cast: { amount: "decimal", ordered_at: "timestamp" } },
 *   { default: { country: "DE" } },
 *   { derive: { big_order: "double(record.amount) > 100.0" } }
 * ])
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const toTransform = (
  steps: ReadonlyArray<Step>,
  options?: { readonly path?: string }
): Effect.Effect<Transform.Transform<unknown, unknown, unknown>, SpecError> =>
  Steps.buildSteps(steps, [options?.path ?? "mapping"], undefined)

/**
 * What a mapping did to one record: the result, or why it was rejected.
 *
 * @category models
 * @since 0.1.0
 */
export type PreviewResult =
  | { readonly _tag: "Mapped"; readonly index: number; readonly before: unknown; readonly after: unknown }
  | { readonly _tag: "Rejected"; readonly index: number; readonly before: unknown; readonly reason: string }

/**
 * Runs mapping steps over sample records and reports, per record, the record before and after — or the
 * rejection reason (which names the step and field, never a value). Nothing is written anywhere.
 *
 * **Example** (Previewing a cast)
 *
 * ```ts
 * import { Mapping } from "@data-mcp/core"
 * import { Effect } from "effect"
 *
 * const rows = Effect.runSync(Mapping.preview([{ cast: { n: "integer" } }], [{ n: "1" }, { n: "x" }]))
 * // [{ _tag: "Mapped", index: 0, before: { n: "1" }, after: { n: 1 } },
 * //  { _tag: "Rejected", index: 1, before: { n: "x" }, reason: 'mapping[0].cast: field "n" cannot be cast to integer' }]
 * ```
 *
 * @category utils
 * @since 0.1.0
 */
export const preview = (
  steps: ReadonlyArray<Step>,
  records: ReadonlyArray<unknown>
): Effect.Effect<ReadonlyArray<PreviewResult>, SpecError> =>
  Effect.map(toTransform(steps), (transform) =>
    Steps.previewTransform(transform, records).map(
      (row): PreviewResult =>
        row.rejected !== undefined
          ? { _tag: "Rejected", index: row.index, before: row.before, reason: row.rejected }
          : { _tag: "Mapped", index: row.index, before: row.before, after: row.after }
    )
  )

/**
 * A mapping: its steps, in order.
 *
 * @category models
 * @since 0.1.0
 */
export type Mapping = ReadonlyArray<Step>

/**
 * The schema of a mapping as data (for tools that describe mappings with JSON Schema).
 *
 * @category schemas
 * @since 0.1.0
 */
export const Mapping = Schema.Array(
  Schema.Union([
    Schema.Struct({ rename: Steps.bodies.rename }),
    Schema.Struct({ cast: Steps.bodies.cast }),
    Schema.Struct({ default: Steps.bodies.default }),
    Schema.Struct({ drop: Steps.bodies.drop }),
    Schema.Struct({ derive: Steps.bodies.derive })
  ])
)
