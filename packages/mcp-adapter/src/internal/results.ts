// Tool results: structured content (JSON-safe, bounded) with a short text summary, and error results that
// carry the error's tag, message, retryable flag and, for bad input, the field.
import type { CallToolResult, ResourceLink } from "@modelcontextprotocol/server"
import { Cause, Exit } from "effect"

const jsonSafe = (value: unknown): Record<string, unknown> =>
  JSON.parse(JSON.stringify(value, (_, v) => (typeof v === "bigint" ? v.toString() : v))) as Record<string, unknown>

export const ok = (structured: unknown, text: string, links: ReadonlyArray<ResourceLink> = []): CallToolResult => ({
  content: [{ type: "text", text }, ...links],
  structuredContent: jsonSafe(structured)
})

const fieldOf = (error: Record<string, unknown>): string | undefined => {
  if (error._tag === "InvalidInput" && typeof error.field === "string") return error.field
  if (error._tag === "ConfigError" && typeof error.path === "string")
    return error.path === "" ? "params" : `params.${error.path}`
  if (error._tag === "SpecError" && typeof error.path === "string") return error.path
  return undefined
}

/** An error result for a typed failure. Defects are reported without their message (it may hold anything). */
export const failure = (cause: Cause.Cause<unknown>): CallToolResult => {
  const error = Cause.squash(cause)
  const tagged = typeof error === "object" && error !== null && "_tag" in error
  const body = tagged
    ? {
        _tag: String((error as { _tag: unknown })._tag),
        message: error instanceof Error ? error.message : String(error),
        retryable: (error as { retryable?: unknown }).retryable === true,
        ...(fieldOf(error as Record<string, unknown>) === undefined
          ? {}
          : { field: fieldOf(error as Record<string, unknown>) }),
        ...(typeof (error as { runId?: unknown }).runId === "string"
          ? { runId: (error as unknown as { runId: string }).runId }
          : {})
      }
    : { _tag: "InternalError", message: "The server failed unexpectedly; the failure is in its logs.", retryable: true }
  // Never swallowed: an unexpected failure goes to the host's logs (stderr), not to the agent.
  if (!tagged) console.error("[data-mcp] tool failed unexpectedly", Cause.pretty(cause))
  return { isError: true, content: [{ type: "text", text: body.message }], structuredContent: { error: body } }
}

export const fromExit = <A>(exit: Exit.Exit<A, unknown>, onSuccess: (a: A) => CallToolResult): CallToolResult =>
  Exit.isSuccess(exit) ? onSuccess(exit.value) : failure(exit.cause)

/** The tag of an error result's error. */
export const errorTagOf = (result: CallToolResult): string | undefined => {
  const error = (result.structuredContent as { error?: { _tag?: unknown } } | undefined)?.error
  return typeof error?._tag === "string" ? error._tag : undefined
}

/** The answer of a tool whose call the audit trail could not record: it fails closed. */
export const auditUnavailable = (): CallToolResult => ({
  isError: true,
  content: [
    {
      type: "text",
      text: "The audit trail cannot record this call right now, so it was not carried out. Try again later."
    }
  ],
  structuredContent: {
    error: {
      _tag: "AuditUnavailable",
      message: "The audit trail cannot record this call right now, so it was not carried out. Try again later.",
      retryable: true
    }
  }
})
