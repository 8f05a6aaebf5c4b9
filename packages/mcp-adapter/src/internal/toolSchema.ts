// Effect Schemas → the Standard Schema + Standard JSON Schema objects the MCP SDK takes as tool input and output
// schemas. Input schemas are strict: unknown keys are refused by the validator and advertised as
// `additionalProperties: false`, so what an agent reads matches what the server enforces.
import type { StandardSchemaWithJSON } from "@modelcontextprotocol/server"
import { Schema } from "effect"

type JsonObject = Record<string, unknown>

const closeObject = (schema: JsonObject): JsonObject =>
  schema.type === "object" && schema.additionalProperties === true ? { ...schema, additionalProperties: false } : schema

// The SDK asks for a tool's JSON Schema on every request (the stateless handler builds a server per request), and
// converting an Effect Schema costs more than answering a small tool call: convert once per target, then reuse.
const memoizeByTarget = <O extends { readonly target: string }>(
  convert: (options: O) => JsonObject
): ((options: O) => JsonObject) => {
  const cache = new Map<string, JsonObject>()
  return (options) => {
    const key = Object.keys(options).length === 1 ? options.target : JSON.stringify(options)
    let schema = cache.get(key)
    if (schema === undefined) {
      schema = convert(options)
      cache.set(key, schema)
    }
    return schema
  }
}

/** A tool schema from an Effect Schema whose encoded side is plain JSON. `strict` refuses unknown keys. */
export const toToolSchema = <S extends Schema.Top>(
  schema: S,
  options?: { readonly strict?: boolean; readonly keepInput?: boolean }
): StandardSchemaWithJSON<S["Encoded"], S["Type"]> => {
  const strict = options?.strict ?? true
  const standard = Schema.toStandardJSONSchemaV1(
    Schema.toStandardSchemaV1(
      schema as unknown as Schema.Codec<S["Type"], S["Encoded"]>,
      strict ? { parseOptions: { onExcessProperty: "error" } } : undefined
    )
  )
  const std = standard["~standard"]
  const close = strict ? closeObject : (schema: JsonObject) => schema
  // `keepInput`: validate, but hand the handler the input as sent (its encoded form), for schemas that decode
  // into values the runner decodes again (a pipeline's params).
  const validate: typeof std.validate = options?.keepInput
    ? async (value, o) => {
        const result = await std.validate(value, o)
        return result.issues === undefined ? { value: value as S["Type"] } : result
      }
    : std.validate
  return {
    "~standard": {
      ...std,
      validate,
      jsonSchema: {
        input: memoizeByTarget((o: Parameters<typeof std.jsonSchema.input>[0]) => close(std.jsonSchema.input(o))),
        output: memoizeByTarget((o: Parameters<typeof std.jsonSchema.output>[0]) => close(std.jsonSchema.output(o)))
      }
    }
  } as unknown as StandardSchemaWithJSON<S["Encoded"], S["Type"]>
}
