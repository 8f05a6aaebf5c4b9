// The data-mcp quickstart: a pipeline on the embedded default (files in, files out, state in .data-mcp/),
// run twice to show that it resumes from its checkpoint. Run it with `npm run quickstart`.
//
//   orders.csv ──▶ validate (Schema) ──▶ map to the warehouse shape ──▶ orders.jsonl
//                       └── bad rows ──▶ dead letters (kept, with their reason)
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { Csv, Jsonl, Pipeline, type RunEvent, type RunSummary, Timestamp, Transform } from "@data-mcp/core"
import { PromiseRunner } from "@data-mcp/core/promise"
import { Schema } from "effect"

const here = dirname(fileURLToPath(import.meta.url))
const work = join(here, "out")
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

const main = async () => {
  // A fresh demo each time: the sample input, no output, no state.
  rmSync(work, { recursive: true, force: true })
  mkdirSync(work, { recursive: true })
  copyFileSync(join(here, "data", "orders-day1.csv"), input)
  const state = join(work, ".data-mcp")

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

  const ok =
    first.status === "succeeded" &&
    second.recordsRead === 0 &&
    third.recordsRead === 60 &&
    lines.length === first.recordsWritten + third.recordsWritten
  if (!ok) {
    console.error("\nThe quickstart did not behave as expected.")
    process.exitCode = 1
  }
}

await main()
