// Resources (DESIGN §7): pipeline definitions, run reports, run events and dead letters, gated exactly as the
// matching tools. Anything the caller may not see is "not found"; bodies stay under maxResultBytes.
import { DeadLetter, RunStore } from "@data-mcp/core"
import { type McpServer, ProtocolError, ProtocolErrorCode, ResourceTemplate } from "@modelcontextprotocol/server"
import { Effect, Exit } from "effect"
import { type Caller, grants } from "../RequestContext.ts"
import { cutStrings, fitItems, maskFields } from "./bounds.ts"
import { paramsJsonSchema, sinkInfo, sourceName } from "./describe.ts"
import type { Env } from "./env.ts"
import { pipelineUri } from "./tools.ts"

const notFound = (uri: string) => new ProtocolError(ProtocolErrorCode.InvalidParams, `Resource not found: ${uri}`)

const json = (uri: string, body: unknown) => ({
  contents: [{ uri, mimeType: "application/json", text: JSON.stringify(body) }]
})

const one = (value: string | ReadonlyArray<string> | undefined): string =>
  decodeURIComponent(Array.isArray(value) ? (value[0] ?? "") : ((value as string | undefined) ?? ""))

export const registerResources = (server: McpServer, env: Env, caller: Caller): void => {
  const budget = env.options.maxResultBytes
  const visibleRun = async (uri: string, runId: string) => {
    const exit = await env.run(env.runs.get(caller, runId))
    if (Exit.isFailure(exit)) throw notFound(uri)
    return exit.value
  }

  server.registerResource(
    "pipeline",
    new ResourceTemplate("data-mcp://pipelines/{name}", {
      list: async () => ({
        resources: env.catalog
          .visible(caller)
          .filter((e) => grants(caller, "pipelines:list", e.pipeline.name))
          .map((e) => ({
            uri: pipelineUri(e.pipeline.name),
            name: e.pipeline.name,
            description: cutStrings(e.pipeline.description) as string,
            mimeType: "application/json"
          }))
      })
    }),
    { title: "Pipeline definition", mimeType: "application/json" },
    async (uri, { name }) => {
      const entry = env.catalog.get(caller, one(name))
      if (entry === undefined || !grants(caller, "pipelines:read", entry.pipeline.name)) throw notFound(uri.href)
      const p = entry.pipeline
      const info = sinkInfo(p)
      return json(uri.href, {
        name: p.name,
        version: p.version,
        description: p.description,
        source: sourceName(p),
        sink: info.name,
        disposition: info.disposition,
        guarantee: info.guarantee,
        params: paramsJsonSchema(p),
        ...(entry.origin === undefined ? {} : { template: entry.origin.template })
      })
    }
  )

  server.registerResource(
    "run",
    new ResourceTemplate("data-mcp://runs/{runId}", { list: undefined }),
    { title: "Run report", mimeType: "application/json" },
    async (uri, { runId }) => {
      const run = await visibleRun(uri.href, one(runId))
      return json(uri.href, cutStrings(run))
    }
  )

  server.registerResource(
    "run-events",
    new ResourceTemplate("data-mcp://runs/{runId}/events", { list: undefined }),
    { title: "Run events", mimeType: "application/json" },
    async (uri, { runId }) => {
      const run = await visibleRun(uri.href, one(runId))
      const exit = await env.run(RunStore.RunStore.use((s) => s.events(run.id, { limit: 500 })))
      if (Exit.isFailure(exit)) throw new ProtocolError(ProtocolErrorCode.InternalError, "The run store failed.")
      const fitted = fitItems(
        exit.value.map((e) => cutStrings(e)),
        budget - 256
      )
      return json(uri.href, { runId: run.id, events: fitted.items, omitted: fitted.omitted })
    }
  )

  server.registerResource(
    "run-dead-letters",
    new ResourceTemplate("data-mcp://runs/{runId}/dead-letters", { list: undefined }),
    { title: "Run dead letters", mimeType: "application/json" },
    async (uri, { runId }) => {
      const run = await visibleRun(uri.href, one(runId))
      if (!grants(caller, "deadletters:read", run.pipeline)) throw notFound(uri.href)
      // Masked by the pipeline's own sensitive fields, whoever may see it; a pipeline no longer served has none
      // to go by, so its records are withheld rather than shown unmasked.
      const served = env.catalog.all().find((e) => e.pipeline.name === run.pipeline)
      const sensitive = new Set(served?.pipeline.options.sensitive ?? [])
      const exit = await env.run(
        DeadLetter.DeadLetterStore.use((s) => s.list({ runId: run.id, tenant: run.tenant, limit: 100 })).pipe(
          Effect.map((page) => page.letters)
        )
      )
      if (Exit.isFailure(exit))
        throw new ProtocolError(ProtocolErrorCode.InternalError, "The dead-letter store failed.")
      const letters = exit.value.map((l) => ({
        stage: l.stage,
        stream: l.stream,
        reason: l.reason,
        at: l.at,
        record: served === undefined ? "(withheld: the pipeline is no longer served)" : maskFields(l.record, sensitive)
      }))
      const fitted = fitItems(
        letters.map((l) => cutStrings(l)),
        budget - 256
      )
      return json(uri.href, { runId: run.id, untrusted: true, deadLetters: fitted.items, omitted: fitted.omitted })
    }
  )
}
