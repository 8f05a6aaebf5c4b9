// Tool-call spans after the OpenTelemetry MCP conventions: `tools/call <tool>`, kind server, `mcp.method.name`,
// `gen_ai.tool.name`, `gen_ai.operation.name` and, for a tool error, `error.type = tool_error`. The parent comes
// from the caller's W3C trace context: `params._meta.traceparent`, else the HTTP `traceparent` header. Spans go to
// whatever tracer the server's context holds (none exports by default; `tracing` in createMcpServer adds OTLP).
import { Effect, Tracer } from "effect"

const TRACEPARENT = /^[\da-f]{2}-([\da-f]{32})-([\da-f]{16})-([\da-f]{2})$/

/** The span a W3C `traceparent` names, if it is well-formed (an all-zero id is not). */
export const parentOf = (traceparent: unknown): Tracer.ExternalSpan | undefined => {
  if (typeof traceparent !== "string") return undefined
  const m = TRACEPARENT.exec(traceparent.trim().toLowerCase())
  if (m === null || /^0+$/.test(m[1] as string) || /^0+$/.test(m[2] as string)) return undefined
  return Tracer.externalSpan({
    traceId: m[1] as string,
    spanId: m[2] as string,
    sampled: (Number.parseInt(m[3] as string, 16) & 1) === 1
  })
}

/** Runs a tool call's effect in its span; `isError` results are marked after the fact by `markToolError`. */
export const toolSpan =
  (tool: string, pipeline: string | undefined, parent: Tracer.ExternalSpan | undefined) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    effect.pipe(
      Effect.withSpan(`tools/call ${tool}`, {
        kind: "server",
        ...(parent === undefined ? {} : { parent }),
        attributes: {
          "mcp.method.name": "tools/call",
          "gen_ai.tool.name": tool,
          "gen_ai.operation.name": "execute_tool",
          ...(pipeline === undefined ? {} : { "data-mcp.pipeline": pipeline })
        }
      })
    )
