/**
 * Connector and pipeline options are validated with Schema when they are constructed, so a bad option fails
 * at start-up with the field named, never halfway through a run. Secrets in config are `Redacted`: a
 * `ConfigError` never quotes the value it refused.
 *
 * @since 0.1.0
 */
import { Effect, Schema, SchemaAST, SchemaIssue } from "effect"

/**
 * An option was missing or invalid. `path` names the field; `message` says what was expected.
 *
 * @category errors
 * @since 0.1.0
 */
export class ConfigError extends Schema.TaggedError<ConfigError>("@data-mcp/core/ConfigError")("ConfigError", {
  /** Who owns the config (`csv`, `pipeline orders`, `runner`). */
  component: Schema.String,
  /** The field path, e.g. `options.batch.rows`. Empty when the whole value is wrong. */
  path: Schema.String,
  /** What was expected. */
  detail: Schema.String
}) {
  /** Configuration errors never go away by retrying. */
  get retryable(): boolean {
    return false
  }

  override get message(): string {
    return `Invalid ${this.component} config${this.path === "" ? "" : ` at ${this.path}`}: ${this.detail}`
  }
}

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

/**
 * Turns a Schema issue into a `ConfigError` naming the first failing field. The issue's messages describe
 * what was expected; the refused value itself is not included.
 *
 * @category error handling
 * @since 0.1.0
 */
export const fromIssue = (component: string, issue: SchemaIssue.Issue): ConfigError => {
  const failure = formatter(issue)
  const first = failure.issues[0]
  const path = (first?.path ?? [])
    .map((key) => (typeof key === "object" && key !== null && "key" in key ? key.key : key))
    .map(String)
    .join(".")
  const detail = first?.message ?? "invalid value"
  return new ConfigError({ component, path, detail })
}

/**
 * Decodes and validates a config value, failing with a `ConfigError` that names the field. Unknown keys are
 * an error: a misspelt option must not be silently ignored.
 *
 * **Example** (Failing fast on a bad option)
 *
 * ```ts
 * import { Config } from "@data-mcp/core"
 * import { Effect, Schema } from "effect"
 *
 * const Options = Schema.Struct({ path: Schema.String, delimiter: Schema.optionalKey(Schema.String) })
 * Effect.runSync(Effect.flip(Config.decode("csv", Options, { pth: "x" })))
 * // ConfigError: Invalid csv config at path: Missing key
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const decode = <S extends Schema.Top>(
  component: string,
  schema: S,
  input: unknown
): Effect.Effect<S["Type"], ConfigError, S["DecodingServices"]> =>
  Schema.decodeUnknownEffect(schema)(input, { onExcessProperty: "error" }).pipe(
    Effect.mapError((error) => fromIssue(component, error.issue))
  )

/**
 * `decode` for code paths that cannot be effectful (constructors): throws the `ConfigError`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const decodeSync = <S extends Schema.Top & { readonly DecodingServices: never }>(
  component: string,
  schema: S,
  input: unknown
): S["Type"] => {
  const result = Schema.decodeUnknownExit(schema)(input, { onExcessProperty: "error" })
  if (result._tag === "Success") return result.value
  const found = result.cause.reasons.find((r) => r._tag === "Fail")
  if (found !== undefined && found._tag === "Fail") throw fromIssue(component, found.error.issue)
  throw new ConfigError({ component, path: "", detail: "invalid value" })
}

const typeName = (ast: SchemaAST.AST): string => {
  switch (ast._tag) {
    case "String":
      return "string"
    case "Number":
      return "number"
    case "Boolean":
      return "boolean"
    case "BigInt":
      return "bigint"
    case "Literal":
      return JSON.stringify(ast.literal)
    case "Union":
      return ast.types.map(typeName).join(" \\| ")
    case "Arrays":
      return `${ast.rest[0] === undefined ? "unknown" : typeName(ast.rest[0])}[]`
    case "Objects":
      return "object"
    case "Declaration":
      return String(SchemaAST.resolveIdentifier(ast) ?? "value")
    default:
      return ast._tag.toLowerCase()
  }
}

/**
 * Renders a config `Schema.Struct` as a markdown options table — option, type, required, description — from
 * the fields' `description` annotations. Connector READMEs embed these tables, generated, so docs and
 * validation cannot drift apart.
 *
 * **Example** (The CSV source's options)
 *
 * ```ts
 * import { Config, Csv } from "@data-mcp/core"
 *
 * console.log(Config.optionsTable(Csv.SourceOptions))
 * ```
 *
 * @category utils
 * @since 0.1.0
 */
export const optionsTable = (schema: { readonly fields: Readonly<Record<string, Schema.Top>> }): string => {
  const rows = Object.entries(schema.fields).map(([name, field]) => {
    const ast = field.ast
    const optional = ast.context?.isOptional === true
    const description = (SchemaAST.resolveDescription(ast) ?? "").replaceAll("|", "\\|").replaceAll("\n", " ")
    return `| \`${name}\` | ${typeName(ast)} | ${optional ? "no" : "yes"} | ${description} |`
  })
  return ["| option | type | required | description |", "| --- | --- | --- | --- |", ...rows].join("\n")
}
