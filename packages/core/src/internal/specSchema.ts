// Schemas of the data parts of a pipeline spec: the pipeline options (shared with Pipeline.make through
// internal/pipelineOptions.ts) and the closed mini-schema of template params.
import { Effect, Schema } from "effect"
import { OptionsSchema } from "./pipelineOptions.ts"

export const SpecOptions = OptionsSchema

const Scalar = Schema.Union([Schema.String, Schema.Number, Schema.Boolean])

const isRegExp = (text: string): boolean => {
  try {
    new RegExp(text, "u")
    return true
  } catch {
    return false
  }
}

export const ParamSpec = Schema.Struct({
  type: Schema.Literals(["string", "integer", "number", "boolean"]),
  description: Schema.optionalKey(Schema.String),
  enum: Schema.optionalKey(Schema.Array(Scalar).check(Schema.isMinLength(1))),
  minimum: Schema.optionalKey(Schema.Number),
  maximum: Schema.optionalKey(Schema.Number),
  pattern: Schema.optionalKey(
    Schema.String.check(
      Schema.makeFilter((s: string) => (isRegExp(s) ? undefined : "Expected a valid regular expression"))
    )
  ),
  default: Schema.optionalKey(Scalar)
}).check(
  Schema.makeFilter((p: typeof ParamSpecBase.Type) => {
    if (p.pattern !== undefined && p.type !== "string")
      return { path: ["pattern"], issue: "pattern applies to strings only" }
    if ((p.minimum !== undefined || p.maximum !== undefined) && p.type !== "integer" && p.type !== "number") {
      return { path: [p.minimum !== undefined ? "minimum" : "maximum"], issue: "minimum/maximum apply to numbers only" }
    }
    for (const value of p.enum ?? []) {
      if (!Schema.is(baseOf(p.type))(value)) return { path: ["enum"], issue: `every enum value must be a ${p.type}` }
    }
    if (p.default !== undefined && !Schema.is(paramSchemaOf(p))(p.default)) {
      return { path: ["default"], issue: "the default does not satisfy the param's own type and constraints" }
    }
    return undefined
  })
)

const ParamSpecBase = Schema.Struct({
  type: Schema.Literals(["string", "integer", "number", "boolean"]),
  description: Schema.optionalKey(Schema.String),
  enum: Schema.optionalKey(Schema.Array(Scalar)),
  minimum: Schema.optionalKey(Schema.Number),
  maximum: Schema.optionalKey(Schema.Number),
  pattern: Schema.optionalKey(Schema.String),
  default: Schema.optionalKey(Scalar)
})

export type ParamSpec = typeof ParamSpecBase.Type

const baseOf = (type: ParamSpec["type"]): Schema.Codec<string | number | boolean> =>
  type === "string"
    ? Schema.String
    : type === "integer"
      ? Schema.Int
      : type === "number"
        ? Schema.Finite
        : Schema.Boolean

/** The Effect Schema of one declared param (without its default). */
export const paramSchemaOf = (p: ParamSpec): Schema.Codec<string | number | boolean> => {
  let schema: Schema.Codec<string | number | boolean> =
    p.enum !== undefined
      ? (Schema.Literals(p.enum as ReadonlyArray<string | number | boolean>) as unknown as Schema.Codec<
          string | number | boolean
        >)
      : baseOf(p.type)
  if (p.enum !== undefined && p.type === "integer") schema = schema.check(Schema.makeFilter((v) => Number.isInteger(v)))
  if (p.minimum !== undefined) {
    const min = p.minimum
    schema = schema.check(
      Schema.makeFilter((v) => (typeof v === "number" && v >= min ? undefined : `Expected a value ≥ ${min}`))
    )
  }
  if (p.maximum !== undefined) {
    const max = p.maximum
    schema = schema.check(
      Schema.makeFilter((v) => (typeof v === "number" && v <= max ? undefined : `Expected a value ≤ ${max}`))
    )
  }
  if (p.pattern !== undefined) {
    const re = new RegExp(p.pattern, "u")
    schema = schema.check(
      Schema.makeFilter((v) =>
        typeof v === "string" && re.test(v) ? undefined : `Expected text matching ${p.pattern}`
      )
    )
  }
  return p.description === undefined ? schema : schema.annotate({ description: p.description })
}

export type ParamsSchema = Schema.Decoder<Readonly<Record<string, string | number | boolean>>, never>

/**
 * The Effect Schema of declared params: a struct, required unless a default is given (or `defaults` overrides
 * it), with the declared constraints.
 */
export const paramsSchemaOf = (
  params: Readonly<Record<string, ParamSpec>>,
  defaults?: Readonly<Record<string, string | number | boolean>>
): ParamsSchema => {
  const fields: Record<string, Schema.Top> = {}
  for (const [name, p] of Object.entries(params)) {
    const schema = paramSchemaOf(p)
    const fallback = defaults !== undefined && Object.hasOwn(defaults, name) ? defaults[name] : p.default
    fields[name] =
      fallback === undefined
        ? schema
        : Schema.optionalKey(schema).pipe(Schema.withDecodingDefaultKey(Effect.succeed(fallback)))
  }
  return Schema.Struct(fields) as unknown as ParamsSchema
}
