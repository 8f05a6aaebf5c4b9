// The pipeline set the MCP examples, the quickstart and the MCP bench serve: generated data (no service needed)
// written to JSONL files under `directory`.
import { join } from "node:path"
import { Generator, Jsonl, Pipeline, PipelineSet, PipelineSpec, Transform } from "@data-mcp/core"
import { Effect, Schema } from "effect"

/** Makes the demo set, writing its files under `directory`. */
export const demoSet = (directory: string): PipelineSet.PipelineSet => {
  const customers = Pipeline.make({
    name: "customers_to_jsonl",
    version: "1.0.0",
    description: "Exports generated customer records (id, name, email, amount, category) to customers.jsonl.",
    params: Schema.Struct({
      count: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 1_000_000 })).annotate({
        description: "How many customers to generate"
      })
    }),
    source: ({ count }) => Generator.source({ count, fields: ["id", "name", "email", "amount", "category"] }),
    transforms: Transform.identity<{
      id: number
      name: string
      email: string
      amount: number
      category: string
    }>().pipe(Transform.map((r) => ({ ...r, email: r.email.toLowerCase() }))),
    sink: Jsonl.sink({ path: join(directory, "customers.jsonl") }),
    options: { batch: { rows: 500 }, sensitive: ["email"], mcp: { tool: true } }
  })

  // A slower pipeline (a lookup per batch of records), to watch progress and detached runs.
  const events = Pipeline.make({
    name: "events_to_jsonl",
    version: "1.0.0",
    description:
      "Enriches generated events with a simulated lookup (about 1 ms per record) and appends them to events.jsonl.",
    params: Schema.Struct({
      count: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 100_000 })).annotate({
        description: "How many events to generate"
      })
    }),
    source: ({ count }) => Generator.source({ count, fields: ["id", "category", "createdAt"] }),
    transforms: Transform.identity<{ id: number; category: string }>().pipe(
      Transform.mapEffect((r) => Effect.as(Effect.sleep("1 millis"), { ...r, enriched: true }))
    ),
    sink: Jsonl.sink({ path: join(directory, "events.jsonl") }),
    options: { batch: { rows: 100 } }
  })

  return PipelineSet.make("data-mcp-demo", [customers, events])
}

/** A template agents may instantiate with register_pipeline: generated samples of a chosen size, to a fixed file. */
export const demoTemplates = (directory: string): ReadonlyArray<PipelineSpec.Template> => [
  Effect.runSync(
    PipelineSpec.decodeTemplate({
      name: "sample_export",
      version: "1.0.0",
      description: "Exports a sample of generated records to samples.jsonl.",
      params: { count: { type: "integer", minimum: 1, maximum: 10_000, default: 100, description: "Sample size" } },
      secrets: [],
      source: { kind: "generator", options: { count: { param: "count" } } },
      sink: { kind: "jsonl", options: { path: join(directory, "samples.jsonl") } }
    })
  )
]
