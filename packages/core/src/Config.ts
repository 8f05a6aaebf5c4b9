/**
 * Connector and pipeline options are validated with Schema when they are constructed, so a bad option fails
 * at start-up with the field named, never halfway through a run. Secrets in config are `Redacted`: a
 * `ConfigError` never quotes the value it refused.
 *
 * @since 0.1.0
 */
import { Effect, Schema, SchemaIssue } from "effect"

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
