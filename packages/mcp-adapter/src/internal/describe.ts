// What an agent reads about a pipeline: its sink's disposition and guarantee, truthful tool annotations, a
// generated description (≤ 1,000 characters), and the JSON Schema of its params.
import { type Pipeline, RunSummary, type Source } from "@data-mcp/core"
import type { ToolAnnotations } from "@modelcontextprotocol/server"
import { Schema } from "effect"
import { withoutBound } from "./bound.ts"
import { sinkOf } from "./connectors.ts"

export interface SinkInfo {
  readonly name: string
  readonly disposition: "append" | "replace" | "merge" | "unknown"
  readonly mergeKey?: ReadonlyArray<string> | undefined
  readonly guarantee: RunSummary.Guarantee | "unknown"
}

/**
 * The sink a pipeline writes to; a sink built from params is described from `params` when given (decoded), else
 * from the default params, if any.
 */
export const sinkInfo = (pipeline: Pipeline.Any, decodedParams?: unknown): SinkInfo => {
  const sink = sinkOf(pipeline, decodedParams)
  if (sink === undefined) return { name: "per-params", disposition: "unknown", guarantee: "unknown" }
  return {
    name: sink.name,
    disposition: sink.disposition.type,
    mergeKey: sink.disposition.type === "merge" ? sink.disposition.key : undefined,
    guarantee: RunSummary.guaranteeOf(sink.capabilities)
  }
}

export const sourceName = (pipeline: Pipeline.Any): string =>
  typeof pipeline.source === "function" ? "per-params" : (pipeline.source as Source.Any).name

/** Truthful hints for a tool that runs this pipeline (DESIGN §7). */
export const runAnnotations = (info: SinkInfo): ToolAnnotations => ({
  readOnlyHint: false,
  destructiveHint: info.disposition !== "append",
  idempotentHint: info.disposition === "replace" || info.disposition === "merge",
  openWorldHint: true
})

export const readOnlyAnnotations: ToolAnnotations = {
  readOnlyHint: true,
  destructiveHint: false,
  idempotentHint: true,
  openWorldHint: false
}

/** The JSON Schema of a pipeline's params (input side), or an open object when not representable. */
export const paramsJsonSchema = (pipeline: Pipeline.Any): Record<string, unknown> => {
  try {
    const std = Schema.toStandardJSONSchemaV1(pipeline.params as unknown as Schema.Codec<unknown>)
    const { $schema: _, ...rest } = std["~standard"].jsonSchema.input({ target: "draft-2020-12" }) as Record<
      string,
      unknown
    >
    return withoutBound(pipeline, rest.type === "object" ? { ...rest, additionalProperties: false } : rest)
  } catch {
    return { type: "object" }
  }
}

const effects = (info: SinkInfo): string => {
  switch (info.disposition) {
    case "append":
      return "appends rows (not destructive; a repeat appends again)"
    case "replace":
      return "replaces the target's content atomically at the end (destructive, idempotent)"
    case "merge":
      return `upserts by key ${JSON.stringify(info.mergeKey ?? [])} (destructive, idempotent)`
    default:
      return "writes with a disposition chosen by its params"
  }
}

export const exampleArgs = (pipeline: Pipeline.Any): string => {
  const schema = paramsJsonSchema(pipeline)
  const props = (schema.properties ?? {}) as Record<string, { type?: string }>
  const required = new Set((schema.required ?? []) as ReadonlyArray<string>)
  const example: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(props)) {
    if (!required.has(k)) continue
    example[k] = v.type === "integer" || v.type === "number" ? 1 : v.type === "boolean" ? true : "…"
  }
  return JSON.stringify(example)
}

/** A generated description: purpose, source → sink, disposition, guarantee, typical duration, an example. */
export const describePipeline = (
  pipeline: Pipeline.Any,
  info: SinkInfo,
  options: { readonly example: string; readonly typicalMs?: number | undefined }
): string => {
  const typical =
    options.typicalMs === undefined
      ? ""
      : ` Recent runs took about ${Math.max(1, Math.round(options.typicalMs / 1000))} s.`
  const text =
    `${pipeline.description} Reads ${sourceName(pipeline)} → writes ${info.name}: ${effects(info)}; ` +
    `guarantee ${info.guarantee}.${typical} Runs are detached: the call waits up to waitSeconds, then returns ` +
    `a runId to follow with wait_run. Example: ${options.example}`
  return text.length > 1000 ? `${text.slice(0, 999)}…` : text
}
