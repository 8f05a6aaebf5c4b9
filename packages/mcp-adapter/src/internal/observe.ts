// What watches every tool call: the audit trail and metrics plug in here (DESIGN §7). A mutating tool asks
// `before` first and does nothing when it rejects (the audit trail cannot take the event: fail closed); every
// call reports to `after`, and a call whose report is refused answers with an error instead of its result.
import type { Caller } from "../RequestContext.ts"

/** One tool call, as the observer sees it. `args` are the raw arguments: the observer protects what it keeps. */
export interface CallInfo {
  readonly tool: string
  readonly caller: Caller
  readonly args: unknown
  /** The pipeline the call is about, when it names one. */
  readonly pipeline?: string | undefined
  readonly transport: "http" | "stdio"
}

export interface CallOutcome {
  readonly outcome: "ok" | "error" | "denied"
  /** The error's tag, when the call failed. */
  readonly error?: string | undefined
  /** The run the call started or read, when there is one. */
  readonly runId?: string | undefined
  readonly durationMs: number
}

export interface Observer {
  readonly before?: ((call: CallInfo) => Promise<void>) | undefined
  readonly after: (call: CallInfo, outcome: CallOutcome) => Promise<void>
}

/** Errors that mean "not allowed" rather than "failed". */
export const DENIALS: ReadonlySet<string> = new Set(["Forbidden", "InsufficientScope", "MissingClaim"])

/** Tools that change something: they ask `before` first. */
export const MUTATING: (tool: string) => boolean = (tool) =>
  tool === "run_pipeline" || tool === "cancel_run" || tool === "register_pipeline" || tool.startsWith("run_")
