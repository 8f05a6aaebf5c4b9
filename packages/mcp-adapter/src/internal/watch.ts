// The observer of a server with an audit sink and/or metrics: one audit event per tool call (and a `started` one
// before a call that changes something), params protected (the pipeline's sensitive fields and secret params
// HMAC'd with the server's key), tool-call metrics, and the audit events of requests refused before any tool ran.
import { Pipeline } from "@data-mcp/core"
import { Effect, Exit, Redacted } from "effect"
import * as Audit from "../Audit.ts"
import type { Refusal } from "../handler.ts"
import type * as Metrics from "../Metrics.ts"
import type { Catalog } from "./catalog.ts"
import type { CallInfo, CallOutcome, Observer } from "./observe.ts"

export interface WatchOptions {
  readonly audit?: Audit.AuditSink | undefined
  readonly auditKey: Redacted.Redacted<string | Uint8Array>
  readonly metrics?: Metrics.Metrics | undefined
  readonly catalog: Catalog
}

const pipelineOf = (catalog: Catalog, name: string | undefined) =>
  name === undefined ? undefined : catalog.all().find((e) => e.pipeline.name === name)?.pipeline

// The fields to protect in a call's arguments: the pipeline's sensitive fields and the params that decode to a
// secret (`Redacted`), under `params.` for the generic tools; every param when they cannot be decoded.
const sensitiveOf = (call: CallInfo, pipeline: Pipeline.Any | undefined): ReadonlyArray<string> => {
  const args = (call.args ?? {}) as Record<string, unknown>
  const inner = call.tool === "run_pipeline" || call.tool === "preview_pipeline"
  const given = (inner ? args.params : args) as Record<string, unknown> | undefined
  const prefix = inner ? "params." : ""
  if (pipeline === undefined || given === undefined || typeof given !== "object") return []
  const decoded = Effect.runSyncExit(Pipeline.decodeParams(pipeline, given))
  const secret = Exit.isSuccess(decoded)
    ? Object.entries(decoded.value as Record<string, unknown>).flatMap(([k, v]) => (Redacted.isRedacted(v) ? [k] : []))
    : Object.keys(given)
  return [...new Set([...(pipeline.options.sensitive ?? []), ...secret])].map((f) => `${prefix}${f}`)
}

const who = (call: CallInfo) => ({
  sub: call.caller.subject,
  ...(call.caller.clientId === undefined ? {} : { client_id: call.caller.clientId }),
  ...(call.caller.tenant === undefined ? {} : { tenant: call.caller.tenant }),
  ...(call.caller.tokenId === undefined ? {} : { jti: call.caller.tokenId })
})

export const make = (options: WatchOptions): Observer & { readonly refused: (refusal: Refusal) => Promise<void> } => {
  const { audit, metrics, catalog, auditKey } = options

  const event = (
    call: CallInfo,
    at: number,
    outcome: Audit.Outcome,
    rest: Partial<Audit.AuditEvent>
  ): Audit.AuditEvent => {
    const pipeline = pipelineOf(catalog, call.pipeline)
    return {
      time: new Date(at).toISOString(),
      ...who(call),
      method: "tools/call",
      tool: call.tool,
      ...(call.pipeline === undefined ? {} : { pipeline: call.pipeline }),
      ...(pipeline === undefined ? {} : { pipeline_version: pipeline.version }),
      outcome,
      duration_ms: 0,
      params: Audit.protectParams(call.args ?? {}, sensitiveOf(call, pipeline), auditKey),
      transport: call.transport,
      ...rest
    }
  }

  const starts = new WeakMap<CallInfo, number>()
  return {
    before: async (call) => {
      const at = Date.now()
      starts.set(call, at)
      if (audit !== undefined) await audit.write(event(call, at, "started", {}))
    },
    after: async (call: CallInfo, result: CallOutcome) => {
      metrics?.recordToolCall({ tool: call.tool, outcome: result.outcome, seconds: result.durationMs / 1000 })
      if (audit === undefined) return
      const at = starts.get(call) ?? Date.now() - result.durationMs
      await audit.write(
        event(call, at, result.outcome, {
          duration_ms: Math.max(0, result.durationMs),
          ...(result.runId === undefined ? {} : { run_id: result.runId }),
          ...(result.error === undefined ? {} : { error: { tag: result.error } })
        })
      )
    },
    refused: async (refusal) => {
      const outcome = refusal.status === 403 ? "denied" : "unauthenticated"
      metrics?.recordToolCall({ tool: refusal.tool ?? "(request)", outcome, seconds: 0 })
      if (audit === undefined) return
      const principal = refusal.principal
      await audit.write({
        time: new Date().toISOString(),
        ...(principal === undefined
          ? {}
          : {
              sub: principal.subject,
              ...(principal.clientId === undefined ? {} : { client_id: principal.clientId }),
              ...(principal.tenant === undefined ? {} : { tenant: principal.tenant }),
              ...(principal.jti === undefined ? {} : { jti: principal.jti })
            }),
        ...(refusal.tool === undefined ? {} : { tool: refusal.tool }),
        outcome,
        error: { tag: refusal.status === 403 ? "InsufficientScope" : "Unauthenticated", reason: refusal.reason },
        duration_ms: 0,
        transport: "http",
        http_status: refusal.status
      })
    }
  }
}
