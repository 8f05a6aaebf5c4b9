/**
 * The errors the adapter answers tool calls with. Each is a tagged class with a `retryable` flag and a message
 * that says what to fix; a tool call that fails returns an error result (`isError: true`) whose
 * `structuredContent.error` carries `_tag`, `message`, `retryable` and, for bad input, the `field`.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * A tool's input is wrong: `field` names the offending field (`params.limit`), `detail` says what is expected.
 * Values are never quoted.
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidInput extends Schema.TaggedError<InvalidInput>("@data-mcp/mcp-adapter/InvalidInput")(
  "InvalidInput",
  { field: Schema.String, detail: Schema.String }
) {
  get retryable(): boolean {
    return false
  }

  override get message(): string {
    return `Invalid input at ${this.field}: ${this.detail}`
  }
}

/**
 * No pipeline, template or run of that name is visible to the caller (hidden ones are reported the same way,
 * so a caller never learns that they exist).
 *
 * @category errors
 * @since 0.1.0
 */
export class NotFound extends Schema.TaggedError<NotFound>("@data-mcp/mcp-adapter/NotFound")("NotFound", {
  kind: Schema.Literals(["pipeline", "template", "run"]),
  reference: Schema.String
}) {
  get retryable(): boolean {
    return false
  }

  override get message(): string {
    return `No ${this.kind} ${JSON.stringify(this.reference)} is available to you; list_pipelines shows what is.`
  }
}

/**
 * The caller lacks a permission.
 *
 * @category errors
 * @since 0.1.0
 */
export class Forbidden extends Schema.TaggedError<Forbidden>("@data-mcp/mcp-adapter/Forbidden")("Forbidden", {
  permission: Schema.String
}) {
  get retryable(): boolean {
    return false
  }

  override get message(): string {
    return `This call needs the permission ${this.permission}, which you do not have.`
  }
}

/**
 * A pipeline binds a param to a token claim (`mcp.bind`) that the caller's token does not carry: the run would not
 * be partitioned, so it is refused.
 *
 * @category errors
 * @since 0.1.0
 */
export class MissingClaim extends Schema.TaggedError<MissingClaim>("@data-mcp/mcp-adapter/MissingClaim")(
  "MissingClaim",
  {
    pipeline: Schema.String,
    param: Schema.String,
    claim: Schema.String
  }
) {
  get retryable(): boolean {
    return false
  }

  override get message(): string {
    return `${this.pipeline} fills its param ${this.param} from the token claim ${this.claim}, which your token does not carry.`
  }
}

/**
 * The caller's roles grant the permission, but its token lacks the scope of that name (`insufficient_scope`).
 * Over HTTP the request is answered 403 with a `WWW-Authenticate` challenge before any tool runs; this error
 * is what a transport without that challenge (or a late check) returns.
 *
 * @category errors
 * @since 0.1.0
 */
export class InsufficientScope extends Schema.TaggedError<InsufficientScope>("@data-mcp/mcp-adapter/InsufficientScope")(
  "InsufficientScope",
  { scope: Schema.String }
) {
  get retryable(): boolean {
    return false
  }

  override get message(): string {
    return `insufficient_scope: this call needs the token scope ${this.scope}; ask for a token that includes it.`
  }
}

/**
 * A run guard refused to start a run: the plan's estimate is over `maxRows` or `maxBytes`.
 *
 * @category errors
 * @since 0.1.0
 */
export class GuardExceeded extends Schema.TaggedError<GuardExceeded>("@data-mcp/mcp-adapter/GuardExceeded")(
  "GuardExceeded",
  { guard: Schema.Literals(["maxRows", "maxBytes"]), limit: Schema.Number, estimate: Schema.Number }
) {
  get retryable(): boolean {
    return false
  }

  override get message(): string {
    return `Not started: the plan estimates ${this.estimate} ${this.guard === "maxRows" ? "rows" : "bytes"}, over ${this.guard} ${this.limit}. Raise the guard or narrow the params.`
  }
}

/**
 * The run is not live in this process any more (it ended, or its process stopped): it cannot be cancelled or
 * waited on; `get_run` reports how it ended.
 *
 * @category errors
 * @since 0.1.0
 */
export class RunNotLive extends Schema.TaggedError<RunNotLive>("@data-mcp/mcp-adapter/RunNotLive")("RunNotLive", {
  runId: Schema.String,
  status: Schema.String
}) {
  get retryable(): boolean {
    return false
  }

  override get message(): string {
    return `Run ${this.runId} is ${this.status} and not live in this process; get_run reports it.`
  }
}

/**
 * Any adapter error.
 *
 * @category models
 * @since 0.1.0
 */
export type McpError = InvalidInput | NotFound | Forbidden | GuardExceeded | RunNotLive
