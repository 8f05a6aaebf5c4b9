// The metrics after a synthetic workload of run events and tool calls: the scrape parses, holds the documented
// series with the right counts, and carries no forbidden label (run id, params, user, tenant).
import type { RunEvent, RunSummary } from "@data-mcp/core"
import { Context, Metric } from "effect"
import { describe, expect, it } from "vitest"
import { Metrics } from "../src/index.ts"
import { parse, value } from "./prometheus.ts"

const T0 = Date.parse("2026-01-01T00:00:00Z")
const iso = (seconds: number) => new Date(T0 + seconds * 1000).toISOString()

const summary = (
  runId: string,
  pipeline: string,
  status: RunSummary.RunStatus,
  durationMs: number,
  checkpointTo: RunSummary.RunSummary["checkpointTo"] = null
): RunSummary.RunSummary => ({
  runId,
  pipeline,
  version: "1.0.0",
  stateKey: `${pipeline}/tenant=acme`,
  status,
  guarantee: "exactly-once",
  recordsRead: 0,
  recordsWritten: 0,
  deadLetters: 0,
  batches: 0,
  retries: 0,
  checkpointFrom: null,
  checkpointTo,
  startedAt: iso(0),
  finishedAt: iso(durationMs / 1000),
  durationMs,
  streams: {},
  notes: []
})

const started = (
  runId: string,
  pipeline: string,
  checkpoint: RunEvent.RunStarted["checkpoint"] = null,
  stateKey = `${pipeline}/tenant=acme`
) =>
  ({
    _tag: "RunStarted",
    runId,
    at: iso(0),
    pipeline,
    version: "1.0.0",
    stateKey,
    checkpoint
  }) satisfies RunEvent.RunEvent

// Run ids, tenants, users and params that must never show in the scrape.
const RUN_A = "run-aaaa-1111"
const RUN_B = "run-bbbb-2222"
const RUN_C = "run-cccc-3333"

const workload = (metrics: Metrics.Metrics) => {
  // orders: one run that succeeds (2 batches, dead letters, retries, a schema change), one that fails.
  const a: Array<RunEvent.RunEvent> = [
    started(RUN_A, "orders"),
    { _tag: "RetryScheduled", runId: RUN_A, at: iso(1), operation: "read", attempt: 1, delayMs: 10, error: "x" },
    {
      _tag: "BatchWritten",
      runId: RUN_A,
      at: iso(2),
      stream: "public.orders",
      seq: 0,
      read: 100,
      written: 98,
      deadLetters: 2
    },
    { _tag: "DeadLettered", runId: RUN_A, at: iso(2), stream: "public.orders", count: 2, reasons: ["bad email"] },
    {
      _tag: "BatchWritten",
      runId: RUN_A,
      at: iso(3),
      stream: "public.items",
      seq: 1,
      read: 40,
      written: 40,
      deadLetters: 0
    },
    { _tag: "RetryScheduled", runId: RUN_A, at: iso(3), operation: "write", attempt: 1, delayMs: 10, error: "y" },
    { _tag: "SchemaChanged", runId: RUN_A, at: iso(3), stream: "public.orders", version: 2, diff: { added: ["note"] } },
    {
      _tag: "CheckpointSaved",
      runId: RUN_A,
      at: iso(4),
      checkpoint: {
        "public.orders": { cursor: "2026-01-01 00:00:00+00", tieBreaker: 5 },
        "public.items": { cursor: "2026-01-01T00:30:00Z", tieBreaker: "9" }
      }
    },
    { _tag: "RunFinished", runId: RUN_A, at: iso(5), summary: summary(RUN_A, "orders", "succeeded", 2500) }
  ]
  const b: Array<RunEvent.RunEvent> = [
    started(
      RUN_B,
      "orders",
      { "public.orders": { cursor: "2025-12-31T23:00:00Z", tieBreaker: 1 } },
      "orders/tenant=beta"
    ),
    {
      _tag: "BatchWritten",
      runId: RUN_B,
      at: iso(6),
      stream: "public.orders",
      seq: 0,
      read: 50,
      written: 50,
      deadLetters: 0
    },
    { _tag: "RunFailed", runId: RUN_B, at: iso(7), summary: summary(RUN_B, "orders", "failed", 700) }
  ]
  // events: offsets tell no time, so no lag series; cancelled.
  const c: Array<RunEvent.RunEvent> = [
    started(RUN_C, "events", 10),
    { _tag: "BatchWritten", runId: RUN_C, at: iso(8), stream: "events", seq: 0, read: 7, written: 7, deadLetters: 0 },
    { _tag: "CheckpointSaved", runId: RUN_C, at: iso(8), checkpoint: 17 },
    { _tag: "RunCancelled", runId: RUN_C, at: iso(9), summary: summary(RUN_C, "events", "cancelled", 9000) }
  ]
  // Interleaved, as concurrent runs are; the pipeline comes from RunStarted (or is passed).
  for (let i = 0; i < Math.max(a.length, b.length, c.length); i++) {
    const ea = a[i]
    const eb = b[i]
    const ec = c[i]
    if (ea !== undefined) metrics.recordRunEvent(ea)
    if (eb !== undefined) metrics.recordRunEvent(eb, "orders")
    if (ec !== undefined) metrics.recordRunEvent(ec)
  }
  // An event of a run never started here and no pipeline: ignored.
  metrics.recordRunEvent({
    _tag: "BatchWritten",
    runId: "run-unknown",
    at: iso(9),
    stream: "s",
    seq: 0,
    read: 1,
    written: 1,
    deadLetters: 0
  })

  for (let i = 0; i < 3; i++) metrics.recordToolCall({ tool: "list_pipelines", outcome: "ok", seconds: 0.004 })
  metrics.recordToolCall({ tool: "run_pipeline", outcome: "ok", seconds: 1.2 })
  metrics.recordToolCall({ tool: "run_pipeline", outcome: "denied", seconds: 0.001 })
  metrics.recordToolCall({ tool: "get_run", outcome: "error", seconds: 0.02 })
  metrics.recordToolCall({ tool: "list_pipelines", outcome: "unauthenticated", seconds: 0.0005 })
}

describe("Metrics", () => {
  const now = T0 + 3600 * 1000

  it("holds the documented series with the right counts after a workload", async () => {
    const metrics = Metrics.make({ now: () => now })
    workload(metrics)
    const text = await metrics.text()
    const { samples, types } = parse(text)
    const v = (name: string, labels: Record<string, string>) => value(samples, name, labels)

    expect(types.get(Metrics.names.runs)).toBe("counter")
    expect(types.get(Metrics.names.runDuration)).toBe("histogram")
    expect(types.get(Metrics.names.toolDuration)).toBe("histogram")
    expect(types.get(Metrics.names.lastSuccess)).toBe("gauge")
    expect(types.get(Metrics.names.checkpointLag)).toBe("gauge")

    expect(v(Metrics.names.runsStarted, { pipeline: "orders" })).toBe(2)
    expect(v(Metrics.names.runsStarted, { pipeline: "events" })).toBe(1)
    expect(v(Metrics.names.runs, { pipeline: "orders", outcome: "succeeded" })).toBe(1)
    expect(v(Metrics.names.runs, { pipeline: "orders", outcome: "failed" })).toBe(1)
    expect(v(Metrics.names.runs, { pipeline: "events", outcome: "cancelled" })).toBe(1)

    expect(v(Metrics.names.rowsRead, { pipeline: "orders", stream: "public.orders" })).toBe(150)
    expect(v(Metrics.names.rowsWritten, { pipeline: "orders", stream: "public.orders" })).toBe(148)
    expect(v(Metrics.names.rowsRead, { pipeline: "orders", stream: "public.items" })).toBe(40)
    expect(v(Metrics.names.rowsWritten, { pipeline: "events", stream: "events" })).toBe(7)
    expect(samples.some((s) => s.labels.stream === "s")).toBe(false)

    expect(v(Metrics.names.deadLetters, { pipeline: "orders", stream: "public.orders" })).toBe(2)
    expect(v(Metrics.names.retries, { pipeline: "orders" })).toBe(2)
    expect(v(Metrics.names.errors, { pipeline: "orders", outcome: "retried" })).toBe(2)
    expect(v(Metrics.names.errors, { pipeline: "orders", outcome: "fatal" })).toBe(1)
    expect(v(Metrics.names.schemaChanges, { pipeline: "orders", stream: "public.orders" })).toBe(1)

    const duration = `${Metrics.names.runDuration}_count`
    expect(v(duration, { pipeline: "orders", outcome: "succeeded" })).toBe(1)
    expect(v(`${Metrics.names.runDuration}_sum`, { pipeline: "orders", outcome: "succeeded" })).toBe(2.5)
    expect(v(`${Metrics.names.runDuration}_bucket`, { pipeline: "orders", outcome: "succeeded", le: "1" })).toBe(0)
    expect(v(`${Metrics.names.runDuration}_bucket`, { pipeline: "orders", outcome: "succeeded", le: "5" })).toBe(1)
    expect(v(`${Metrics.names.runDuration}_bucket`, { pipeline: "orders", outcome: "failed", le: "1" })).toBe(1)
    expect(v(`${Metrics.names.runDuration}_bucket`, { pipeline: "events", outcome: "cancelled", le: "+Inf" })).toBe(1)

    expect(v(Metrics.names.toolCalls, { tool: "list_pipelines", outcome: "ok" })).toBe(3)
    expect(v(Metrics.names.toolCalls, { tool: "run_pipeline", outcome: "ok" })).toBe(1)
    expect(v(Metrics.names.toolCalls, { tool: "run_pipeline", outcome: "denied" })).toBe(1)
    expect(v(Metrics.names.toolCalls, { tool: "get_run", outcome: "error" })).toBe(1)
    expect(v(Metrics.names.toolCalls, { tool: "list_pipelines", outcome: "unauthenticated" })).toBe(1)
    const toolBucket = `${Metrics.names.toolDuration}_bucket`
    expect(v(toolBucket, { tool: "list_pipelines", outcome: "ok", le: "0.005" })).toBe(3)
    expect(v(toolBucket, { tool: "run_pipeline", outcome: "ok", le: "1" })).toBe(0)
    expect(v(toolBucket, { tool: "run_pipeline", outcome: "ok", le: "2.5" })).toBe(1)
    expect(v(`${Metrics.names.toolDuration}_count`, { tool: "list_pipelines", outcome: "ok" })).toBe(3)

    // The successful run finished at T0 + 2.5 s; the failed one sets nothing.
    expect(v(Metrics.names.lastSuccess, { pipeline: "orders" })).toBe((T0 + 2500) / 1000)
    expect(v(Metrics.names.lastSuccess, { pipeline: "events" })).toBeUndefined()
    // orders has two state keys: acme's checkpoint reached 00:00 (its oldest stream), beta's 23:00 the day
    // before; the one that lags most speaks: 2 h at 01:00.
    expect(v(Metrics.names.checkpointLag, { pipeline: "orders" })).toBe(7200)
    expect(v(Metrics.names.checkpointLag, { pipeline: "events" })).toBeUndefined()
  })

  it("never labels by run id, params, user or tenant", async () => {
    const metrics = Metrics.make({ now: () => now })
    workload(metrics)
    const text = await metrics.text()
    const { samples } = parse(text)
    const allowed = new Set(["pipeline", "stream", "tool", "outcome", "le"])
    for (const s of samples) {
      for (const label of Object.keys(s.labels)) expect(allowed.has(label), `${s.name} ${label}`).toBe(true)
    }
    for (const forbidden of [RUN_A, RUN_B, RUN_C, "run-unknown", "acme", "beta", "tenant", "bad email", "stateKey"]) {
      expect(text).not.toContain(forbidden)
    }
  })

  it("computes checkpoint lag at scrape time from the latest time-cursor checkpoint", async () => {
    let clock = T0
    const metrics = Metrics.make({ now: () => clock })
    metrics.recordRunEvent(started("r1", "p", { cursor: "2025-12-31T23:59:00Z", tieBreaker: 1 }))
    const lag = async () =>
      value(parse(await metrics.text()).samples, Metrics.names.checkpointLag, { pipeline: "p" }) as number
    expect(await lag()).toBe(60)
    clock += 30_000
    expect(await lag()).toBe(90)
    metrics.recordRunEvent({
      _tag: "CheckpointSaved",
      runId: "r1",
      at: iso(30),
      checkpoint: { cursor: iso(20), tieBreaker: 2 }
    })
    expect(await lag()).toBe(10)
    expect(Metrics.checkpointTime("opaque-page-token")).toBeUndefined()
    expect(Metrics.checkpointTime({ cursor: 1_700_000_000, tieBreaker: 1 })).toBeUndefined()
    expect(Metrics.checkpointTime({ a: { cursor: iso(5), tieBreaker: 1 }, b: { cursor: iso(1), tieBreaker: 1 } })).toBe(
      T0 + 1000
    )
  })

  it("caps the distinct values of a label, so unknown tool names cannot grow the series", async () => {
    const metrics = Metrics.make({ maxLabelValues: 3 })
    for (let i = 0; i < 50; i++) metrics.recordToolCall({ tool: `probe_${i}`, outcome: "error", seconds: 0.001 })
    const { samples } = parse(await metrics.text())
    const tools = new Set(samples.filter((s) => s.name === Metrics.names.toolCalls).map((s) => s.labels.tool))
    expect(tools).toEqual(new Set(["probe_0", "probe_1", "probe_2", "other"]))
    expect(value(samples, Metrics.names.toolCalls, { tool: "other", outcome: "error" })).toBe(47)
  })

  it("keeps a registry per instance, never the global one", async () => {
    const one = Metrics.make()
    const two = Metrics.make()
    one.recordToolCall({ tool: "list_pipelines", outcome: "ok", seconds: 0.001 })
    expect(await one.text()).toContain(Metrics.names.toolCalls)
    expect(await two.text()).not.toContain(Metrics.names.toolCalls)
    const global = Metric.snapshotUnsafe(Context.empty())
    expect(global.some((s) => s.id.startsWith("data_mcp_"))).toBe(false)
    expect(one.contentType).toBe("text/plain; version=0.0.4; charset=utf-8")
  })
})
