// The data-mcp quickstart: a pipeline on the embedded default (files in, files out, state in .data-mcp/),
// run three times to show that it resumes from its checkpoint; then the same app serves its pipelines over MCP
// on localhost and the official MCP client lists the tools, previews a pipeline, runs one with progress and
// reads the run report. Run it with `npm run quickstart`; `npm run quickstart -- --serve` only serves (Ctrl-C
// stops it).
//
//   orders.csv ──▶ validate (Schema) ──▶ map to the warehouse shape ──▶ orders.jsonl
//                       └── bad rows ──▶ dead letters (kept, with their reason)
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { Csv, Jsonl, Pipeline, PipelineSet, type RunEvent, type RunSummary, Timestamp, Transform } from "@data-mcp/core"
import { PromiseRunner } from "@data-mcp/core/promise"
import { createMcpServer } from "@data-mcp/mcp-adapter"
import { listen } from "@data-mcp/mcp-adapter/node"
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client"
import { Schema } from "effect"
import { demoSet, demoTemplates } from "../mcp-pipelines/set.ts"

const here = dirname(fileURLToPath(import.meta.url))
const work = process.env.DATA_MCP_OUT ?? join(here, "out")
const input = join(work, "orders.csv")
const output = join(work, "orders.jsonl")

/** A CSV row as it must look to be loaded: every cell is text, so the schema parses and checks it. */
const OrderRow = Schema.Struct({
  order_id: Schema.NumberFromString.check(Schema.isInt(), Schema.isGreaterThan(0)),
  customer_email: Schema.String.check(
    Schema.isPattern(/^[^@\s]+@[^@\s]+\.[a-z]{2,}$/i, { message: "must be an email address" })
  ),
  amount: Schema.String.check(
    Schema.isPattern(/^\d+\.\d{2}$/, { message: "must be a positive amount with two decimals" })
  ),
  country: Schema.String.check(Schema.isPattern(/^[A-Z]{2}$/, { message: "must be an ISO 3166 country code" })),
  ordered_at: Timestamp.TimestampFromString,
  note: Schema.String
})

/** The pipeline: its params choose the input file; the state (checkpoint) is per input file. */
const ordersToJsonl = Pipeline.make({
  name: "orders_to_jsonl",
  version: "1.0.0",
  description: "Loads the day's orders from CSV, validates them, and appends them to orders.jsonl.",
  params: Schema.Struct({ input: Schema.String }),
  source: ({ input }) => Csv.source({ path: input }),
  transforms: Transform.identity<unknown>().pipe(
    Transform.validate(OrderRow),
    Transform.map((row) => ({
      id: row.order_id,
      customer: row.customer_email.toLowerCase(),
      amount: row.amount, // decimals stay exact, as strings
      country: row.country,
      ordered_at: row.ordered_at, // a Timestamp: microseconds kept
      note: row.note
    }))
  ),
  sink: Jsonl.sink({ path: output }),
  options: { batch: { rows: 50 }, sensitive: ["customer"] }
})

const describe = (event: RunEvent.RunEvent): string | undefined => {
  switch (event._tag) {
    case "RunStarted":
      return `started ${event.runId} from checkpoint ${JSON.stringify(event.checkpoint)}`
    case "BatchWritten":
      return `batch ${event.seq}: read ${event.read}, wrote ${event.written}${event.deadLetters > 0 ? `, ${event.deadLetters} dead-lettered` : ""}`
    case "DeadLettered":
      return `dead letters: ${event.reasons.join(" | ")}`
    case "CheckpointSaved":
      return `checkpoint saved: ${JSON.stringify(event.checkpoint)}`
    default:
      return undefined
  }
}

const report = (title: string, summary: RunSummary.RunSummary) => {
  console.log(`\n${title}`)
  console.table({
    status: summary.status,
    guarantee: summary.guarantee,
    "records read": summary.recordsRead,
    "records written": summary.recordsWritten,
    "dead letters": summary.deadLetters,
    batches: summary.batches,
    "checkpoint from": JSON.stringify(summary.checkpointFrom),
    "checkpoint to": JSON.stringify(summary.checkpointTo),
    "duration (ms)": summary.durationMs
  })
}

const runOnce = async (runner: PromiseRunner, title: string) => {
  const handle = await runner.start(ordersToJsonl, { input })
  for await (const event of handle.events) {
    const line = describe(event)
    if (line !== undefined) console.log(`  ${line}`)
  }
  const summary = await handle.result
  report(title, summary)
  return summary
}

const state = join(work, ".data-mcp")

const runDirectly = async (): Promise<boolean> => {
  await using runner = PromiseRunner.create({ directory: state })
  console.log(`data-mcp quickstart — ${input} → ${output}\n`)

  console.log("Run 1: the day's orders")
  const first = await runOnce(runner, "Run 1 summary")

  console.log("\nRun 2: nothing new — it resumes from its checkpoint and reads nothing")
  const second = await runOnce(runner, "Run 2 summary")

  console.log("\nRun 3: more orders arrive (appended to the CSV) — only they are read")
  writeFileSync(input, readFileSync(join(here, "data", "orders-day2.csv")), { flag: "a" })
  const third = await runOnce(runner, "Run 3 summary")

  const letters = await runner.deadLetters({ pipeline: "orders_to_jsonl" })
  console.log(`\nDead letters kept (${letters.letters.length}), each with its reason:`)
  for (const letter of letters.letters) console.log(`  [${letter.stage}] ${letter.reason}`)

  const lines = readFileSync(output, "utf8").trim().split("\n")
  console.log(`\n${output}: ${lines.length} records; the first:\n  ${lines[0]}`)
  console.log(`State, run history and dead letters live in ${state}`)

  return (
    first.status === "succeeded" &&
    second.recordsRead === 0 &&
    third.recordsRead === 60 &&
    lines.length === first.recordsWritten + third.recordsWritten
  )
}

/** The app's MCP server: the orders pipeline and the demo set, state in the same directory. */
const startMcp = async (port: number) => {
  const set = PipelineSet.make("data-mcp-quickstart", [ordersToJsonl, ...demoSet(work).pipelines])
  const server = await createMcpServer(set, { directory: state, templates: demoTemplates(work) })
  const http = await listen(server, { port })
  return {
    url: http.url,
    close: async () => {
      await http.close()
      await server.close()
    }
  }
}

const text = (value: unknown): string => JSON.stringify(value)

const overMcp = async (): Promise<boolean> => {
  const mcp = await startMcp(0)
  console.log(`\nOver MCP: the app serves its pipelines at ${mcp.url} (Streamable HTTP, localhost only)`)
  const client = new Client({ name: "quickstart", version: "1.0.0" }, { versionNegotiation: { mode: "auto" } })
  try {
    await client.connect(new StreamableHTTPClientTransport(mcp.url))
    console.log(`  connected (${client.getProtocolEra()} era, protocol ${client.getNegotiatedProtocolVersion()})`)
    const { tools } = await client.listTools()
    console.log(`  tools: ${tools.map((t) => t.name).join(", ")}`)

    const preview = (await client.callTool({
      name: "preview_pipeline",
      arguments: { name: "orders_to_jsonl", params: { input }, limit: 2 }
    })) as {
      structuredContent?: { records: unknown[]; plan: { checkpoint: { from: unknown }; target: { effects: string[] } } }
    }
    const plan = preview.structuredContent?.plan
    console.log(`  preview_pipeline orders_to_jsonl: ${preview.structuredContent?.records.length ?? 0} new records;`)
    console.log(`    resumes from ${text(plan?.checkpoint.from)}; ${plan?.target.effects.join("; ")}`)

    const sample = (await client.callTool({
      name: "preview_pipeline",
      arguments: { name: "customers_to_jsonl", params: { count: 1000 }, limit: 2 }
    })) as { structuredContent?: { records: unknown[] } }
    console.log(`  preview_pipeline customers_to_jsonl (emails masked): ${text(sample.structuredContent?.records[0])}`)

    console.log("  run_pipeline events_to_jsonl (2,000 events), progress:")
    let last = 0
    const run = (await client.callTool(
      { name: "run_pipeline", arguments: { name: "events_to_jsonl", params: { count: 2000 }, waitSeconds: 30 } },
      {
        onprogress: (p) => {
          if (p.progress - last >= 500 || p.progress === p.total) {
            last = p.progress
            console.log(`    ${p.progress}/${p.total ?? "?"} ${p.message ?? ""}`)
          }
        },
        resetTimeoutOnProgress: true
      }
    )) as { structuredContent?: { runId: string; status: string; resource: string } }
    const runId = run.structuredContent?.runId ?? ""
    console.log(`  run ${runId}: ${run.structuredContent?.status}`)

    const report = await client.readResource({ uri: run.structuredContent?.resource ?? "" })
    const body = JSON.parse((report.contents[0] as { text: string }).text) as {
      status: string
      summary?: RunSummary.RunSummary
    }
    console.log(
      `  run report: ${body.status}, read ${body.summary?.recordsRead}, wrote ${body.summary?.recordsWritten}, ${body.summary?.guarantee}, ${body.summary?.durationMs} ms`
    )
    return body.status === "succeeded" && body.summary?.recordsWritten === 2000
  } finally {
    await client.close()
    await mcp.close()
    console.log("  stopped cleanly")
  }
}

const serveOnly = async () => {
  mkdirSync(work, { recursive: true })
  if (!existsSync(input)) copyFileSync(join(here, "data", "orders-day1.csv"), input)
  const portArg = process.argv.indexOf("--port")
  const mcp = await startMcp(portArg > 0 ? Number(process.argv[portArg + 1]) : Number(process.env.PORT ?? 3333))
  console.log(`MCP endpoint: ${mcp.url}`)
  const stop = () => void mcp.close().then(() => process.exit(0))
  process.once("SIGINT", stop)
  process.once("SIGTERM", stop)
}

const main = async () => {
  // A fresh demo each time: the sample input, no output, no state.
  rmSync(work, { recursive: true, force: true })
  mkdirSync(work, { recursive: true })
  copyFileSync(join(here, "data", "orders-day1.csv"), input)
  const direct = await runDirectly()
  const mcp = await overMcp()
  if (!direct || !mcp) {
    console.error("\nThe quickstart did not behave as expected.")
    process.exitCode = 1
  }
}

await (process.argv.includes("--serve") ? serveOnly() : main())
