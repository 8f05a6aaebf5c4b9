// The error of pipeline specs, templates and mappings, and the path helpers that name where a mistake is.
// Lives here (re-exported by PipelineSpec and used by Mapping) so that Mapping need not import PipelineSpec.
import { Exit, Schema, SchemaIssue } from "effect"

export const SpecErrorReason = Schema.Literals([
  "Syntax",
  "Invalid",
  "UnknownConnector",
  "InvalidOption",
  "UnknownStep",
  "InvalidStep",
  "InvalidExpression",
  "LiteralSecret",
  "SecretRefused",
  "InvalidParams"
])

export class SpecError extends Schema.TaggedError<SpecError>("@data-mcp/core/SpecError")("SpecError", {
  /** The spec's file, when it came from one. */
  file: Schema.optionalKey(Schema.String),
  /** Where in the spec: `source.options.path`, `transforms[2].filter`, `params.limit`. Empty for the whole spec. */
  path: Schema.String,
  /** What kind of mistake. */
  reason: SpecErrorReason,
  /** What is wrong and how to fix it; never a secret or a record value. */
  detail: Schema.String,
  /** 1-based line and column in the file, when known. */
  line: Schema.optionalKey(Schema.Int),
  column: Schema.optionalKey(Schema.Int),
  /** For `SecretRefused`: whether the secret store was unavailable (worth retrying). */
  transient: Schema.optionalKey(Schema.Boolean)
}) {
  get retryable(): boolean {
    return this.transient === true
  }

  override get message(): string {
    const where = `${this.file ?? "pipeline spec"}${this.line === undefined ? "" : `:${this.line}:${this.column ?? 1}`}`
    return `${where}: ${this.path === "" ? "" : `${this.path}: `}${this.detail}`
  }
}

export type Segment = string | number

export const formatPath = (segments: ReadonlyArray<Segment>): string => {
  let out = ""
  for (const segment of segments) {
    if (typeof segment === "number") out += `[${segment}]`
    else out += out === "" ? segment : `.${segment}`
  }
  return out
}

export interface Locator {
  readonly file?: string | undefined
  readonly locate?: ((segments: ReadonlyArray<Segment>) => { line: number; column: number } | undefined) | undefined
}

export const specError = (
  locator: Locator | undefined,
  segments: ReadonlyArray<Segment>,
  reason: typeof SpecErrorReason.Type,
  detail: string,
  extra?: { readonly transient?: boolean }
): SpecError => {
  const at = locator?.locate?.(segments)
  return new SpecError({
    ...(locator?.file !== undefined ? { file: locator.file } : {}),
    path: formatPath(segments),
    reason,
    detail,
    ...(at !== undefined ? { line: at.line, column: at.column } : {}),
    ...(extra?.transient === true ? { transient: true } : {})
  })
}

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

const issueSegments = (issue: SchemaIssue.Issue): { segments: Array<Segment>; message: string } => {
  const first = formatter(issue).issues[0]
  const segments = (first?.path ?? []).map((key): Segment => {
    const k = typeof key === "object" && key !== null && "key" in key ? key.key : key
    return typeof k === "number" ? k : String(k)
  })
  return { segments, message: first?.message ?? "invalid value" }
}

/** Decodes `input` with `schema` (unknown keys refused), or a SpecError at `at` + the issue's path. */
export const decodeAt = <S extends Schema.Top & { readonly DecodingServices: never }>(
  schema: S,
  input: unknown,
  at: ReadonlyArray<Segment>,
  locator: Locator | undefined,
  reason: typeof SpecErrorReason.Type = "Invalid"
): { readonly ok: true; readonly value: S["Type"] } | { readonly ok: false; readonly error: SpecError } => {
  const exit = Schema.decodeUnknownExit(schema)(input, { onExcessProperty: "error" })
  if (Exit.isSuccess(exit)) return { ok: true, value: exit.value }
  const failure = exit.cause.reasons.find((r) => r._tag === "Fail")
  if (failure === undefined || failure._tag !== "Fail") {
    return { ok: false, error: specError(locator, at, reason, "invalid value") }
  }
  const { segments, message } = issueSegments(failure.error.issue)
  const detail =
    message === "Unexpected key" || message.startsWith("Expected no excess")
      ? "unknown key (check the spelling)"
      : message
  return { ok: false, error: specError(locator, [...at, ...segments], reason, detail) }
}
