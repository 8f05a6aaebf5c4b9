/**
 * Operational metrics in the Prometheus text format: runs by outcome and their durations, rows read and
 * written, errors, retries, dead letters, schema changes, tool calls by outcome and their latency, and per
 * pipeline the time of the last successful run and how far its checkpoint lags behind the clock. They are
 * fed from core's `RunEvent` values and from tool calls, kept in a registry of their own (never a global
 * one), and labelled only by `pipeline`, `stream`, `tool` and `outcome` — never by run id, params, user or
 * tenant.
 *
 * @since 0.1.0
 */
import { type RunEvent, Timestamp } from "@data-mcp/core"
import { Context, Metric } from "effect"

/**
 * How a tool call ended (the outcomes of `Audit`).
 *
 * @category models
 * @since 0.1.0
 */
export type ToolOutcome = "ok" | "error" | "denied" | "unauthenticated"

/**
 * Options of `make`.
 *
 * @category models
 * @since 0.1.0
 */
export interface MetricsOptions {
  /** The clock, in epoch milliseconds, for `checkpoint_lag_seconds` (default `Date.now`). */
  readonly now?: (() => number) | undefined
  /**
   * At most this many distinct values per label (`pipeline`, `stream`, `tool`); later values are counted
   * under `"other"`, so unknown tool names sent by a client cannot grow the series without bound
   * (default 200).
   */
  readonly maxLabelValues?: number | undefined
}

/**
 * The metrics of one server.
 *
 * @category models
 * @since 0.1.0
 */
export interface Metrics {
  /** Counts a tool call and observes its latency. */
  readonly recordToolCall: (call: {
    readonly tool: string
    readonly outcome: ToolOutcome
    readonly seconds: number
  }) => void
  /**
   * Records a run event. `pipeline` may be left out for any event after the run's `RunStarted` (the events
   * themselves carry only the run id); events of a run whose pipeline is unknown are ignored.
   */
  readonly recordRunEvent: (event: RunEvent.RunEvent, pipeline?: string) => void
  /** Records whether a pipeline's source or sink answered its last check (`describe_pipeline` runs them). */
  readonly recordConnectorHealth: (health: {
    readonly pipeline: string
    readonly connector: "source" | "sink"
    readonly up: boolean
  }) => void
  /** The scrape: every series in the Prometheus text format (version 0.0.4). */
  readonly text: () => Promise<string>
  /** The `Content-Type` of `text()`. */
  readonly contentType: string
}

/**
 * The `Content-Type` of the Prometheus text format.
 *
 * @category constants
 * @since 0.1.0
 */
export const contentType = "text/plain; version=0.0.4; charset=utf-8"

/**
 * The series, by name (each prefixed `data_mcp_`).
 *
 * @category constants
 * @since 0.1.0
 */
export const names = {
  runsStarted: "data_mcp_runs_started_total",
  runs: "data_mcp_runs_total",
  runDuration: "data_mcp_run_duration_seconds",
  rowsRead: "data_mcp_rows_read_total",
  rowsWritten: "data_mcp_rows_written_total",
  deadLetters: "data_mcp_dead_letters_total",
  retries: "data_mcp_retries_total",
  errors: "data_mcp_errors_total",
  schemaChanges: "data_mcp_schema_changes_total",
  toolCalls: "data_mcp_tool_calls_total",
  toolDuration: "data_mcp_tool_duration_seconds",
  lastSuccess: "data_mcp_last_success_timestamp_seconds",
  checkpointLag: "data_mcp_checkpoint_lag_seconds",
  connectorUp: "data_mcp_connector_up"
} as const

const RUN_BUCKETS = [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 14_400]
const TOOL_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]
const MAX_LABEL_LENGTH = 128
const MAX_LIVE_RUNS = 10_000
// State keys remembered per pipeline for the checkpoint lag (least recently reported dropped first).
const MAX_STATE_KEYS = 1000

const counter = (name: string, description: string) => Metric.counter(name, { description, incremental: true })

const instruments = () => ({
  runsStarted: counter(names.runsStarted, "Runs started, by pipeline."),
  runs: counter(names.runs, "Runs ended, by pipeline and outcome (succeeded, failed, cancelled)."),
  runDuration: Metric.histogram(names.runDuration, {
    description: "Duration of ended runs in seconds, by pipeline and outcome.",
    boundaries: RUN_BUCKETS
  }),
  rowsRead: counter(names.rowsRead, "Records read by sources, by pipeline and stream."),
  rowsWritten: counter(names.rowsWritten, "Records written by sinks, by pipeline and stream."),
  deadLetters: counter(names.deadLetters, "Records set aside as dead letters, by pipeline and stream."),
  retries: counter(names.retries, "Retries scheduled after retryable errors, by pipeline."),
  errors: counter(names.errors, "Errors met by runs, by pipeline and outcome (retried, fatal)."),
  schemaChanges: counter(names.schemaChanges, "Schema changes of a stream or its target, by pipeline and stream."),
  toolCalls: counter(names.toolCalls, "MCP tool calls, by tool and outcome (ok, error, denied, unauthenticated)."),
  toolDuration: Metric.histogram(names.toolDuration, {
    description: "MCP tool call latency in seconds, by tool and outcome.",
    boundaries: TOOL_BUCKETS
  }),
  lastSuccess: Metric.gauge(names.lastSuccess, {
    description: "Epoch seconds when the pipeline's last successful run finished."
  }),
  connectorUp: Metric.gauge(names.connectorUp, {
    description: "1 when the pipeline's source or sink (outcome label: source, sink) answered its last check, else 0."
  }),
  checkpointLag: Metric.gauge(names.checkpointLag, {
    description:
      "Seconds between now and the time cursor of the pipeline's latest checkpoint (only for time-cursor sources)."
  })
})

const toMs = (text: string): number | undefined => {
  const t = Timestamp.parse(text)
  return t === undefined ? undefined : Number(t.micros / 1000n)
}

/**
 * The time a checkpoint has reached, in epoch milliseconds, when it tells one: a timestamp string, an
 * incremental position `{ cursor, tieBreaker }` whose cursor is a timestamp string, or a map from stream to
 * either (the oldest stream counts: it lags most). Timestamps without a zone are read as UTC. Offsets, numbers
 * and opaque tokens tell no time (`undefined`).
 *
 * @category utils
 * @since 0.1.0
 */
export const checkpointTime = (checkpoint: unknown, depth = 0): number | undefined => {
  if (typeof checkpoint === "string") return toMs(checkpoint)
  if (checkpoint === null || typeof checkpoint !== "object" || Array.isArray(checkpoint) || depth > 1) {
    return undefined
  }
  const record = checkpoint as Record<string, unknown>
  if ("cursor" in record) return typeof record.cursor === "string" ? toMs(record.cursor) : undefined
  let oldest: number | undefined
  for (const value of Object.values(record)) {
    const t = checkpointTime(value, depth + 1)
    if (t !== undefined && (oldest === undefined || t < oldest)) oldest = t
  }
  return oldest
}

const OUTCOME_OF_END = { RunFinished: "succeeded", RunFailed: "failed", RunCancelled: "cancelled" } as const

/**
 * Makes an empty set of metrics with a registry of its own.
 *
 * **Details**
 *
 * `checkpoint_lag_seconds{pipeline}` is computed at each scrape: for each state key of the pipeline (one per
 * tenant or param set), the latest checkpoint its runs reported (`RunStarted`, `CheckpointSaved`, the summary
 * of an ended run) gives a time by `checkpointTime`; the lag is now minus the oldest of those times, i.e. the
 * state key that lags most. A pipeline whose checkpoints tell no time (offsets, page tokens) has no such
 * series. The lag grows while no run moves the checkpoint, which is what an alert on stale data wants; it
 * starts from the first run this process sees (a restart forgets it until the next run reports).
 *
 * **Example** (Feed a run's events and tool calls, then scrape)
 *
 * ```ts
 * import { Metrics } from "@data-mcp/mcp-adapter"
 *
 * const metrics = Metrics.make()
 * metrics.recordToolCall({ tool: "run_pipeline", outcome: "ok", seconds: 0.012 })
 * const body = await metrics.text() // Prometheus text; serve with metrics.contentType
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (options?: MetricsOptions): Metrics => {
  const now = options?.now ?? Date.now
  const maxValues = Math.max(1, options?.maxLabelValues ?? 200)
  const registry: Metric.MetricRegistry = new Map()
  const context = Context.make(Metric.MetricRegistry, registry)
  const m = instruments()

  const seen = { pipeline: new Set<string>(), stream: new Set<string>(), tool: new Set<string>() }
  const label = (kind: keyof typeof seen, value: string): string => {
    const cut = value.length > MAX_LABEL_LENGTH ? value.slice(0, MAX_LABEL_LENGTH) : value
    const values = seen[kind]
    if (values.has(cut)) return cut
    if (values.size >= maxValues) return "other"
    values.add(cut)
    return cut
  }

  // One attributed metric per label set, made once.
  const series = new Map<string, Metric.Metric<number, unknown>>()
  const update = (
    metric: Metric.Metric<number, unknown>,
    attributes: Readonly<Record<string, string>>,
    value: number
  ) => {
    let id = metric.id
    for (const name in attributes) id += `\u0000${attributes[name]}`
    let attributed = series.get(id)
    if (attributed === undefined) {
      attributed = Metric.withAttributes(metric, attributes)
      series.set(id, attributed)
    }
    attributed.updateUnsafe(value, context)
  }

  // Runs seen starting and not yet ended: run id → pipeline and state key (bounded, oldest dropped first).
  const live = new Map<string, { readonly pipeline: string; readonly stateKey: string }>()
  // Per pipeline, per state key (a tenant's or a param set's own checkpoint): the time its checkpoint reached.
  const cursorTimes = new Map<string, Map<string, number>>()
  const noteCheckpoint = (pipeline: string, stateKey: string | undefined, checkpoint: unknown) => {
    const t = checkpointTime(checkpoint)
    if (t === undefined || stateKey === undefined) return
    const keys = cursorTimes.get(pipeline) ?? new Map<string, number>()
    cursorTimes.set(pipeline, keys)
    keys.delete(stateKey)
    if (keys.size >= MAX_STATE_KEYS) keys.delete(keys.keys().next().value as string)
    keys.set(stateKey, t)
  }

  const recordRunEvent = (event: RunEvent.RunEvent, name?: string) => {
    const run = live.get(event.runId)
    const summary = "summary" in event ? event.summary : undefined
    const raw = name ?? (event._tag === "RunStarted" ? event.pipeline : (run?.pipeline ?? summary?.pipeline))
    if (raw === undefined) return
    const pipeline = label("pipeline", raw)
    const stateKey = event._tag === "RunStarted" ? event.stateKey : (run?.stateKey ?? summary?.stateKey)
    switch (event._tag) {
      case "RunStarted": {
        if (live.size >= MAX_LIVE_RUNS) live.delete(live.keys().next().value as string)
        live.set(event.runId, { pipeline: raw, stateKey: event.stateKey })
        update(m.runsStarted, { pipeline }, 1)
        if (event.checkpoint !== null) noteCheckpoint(pipeline, stateKey, event.checkpoint)
        return
      }
      case "BatchWritten": {
        const stream = label("stream", event.stream)
        update(m.rowsRead, { pipeline, stream }, event.read)
        update(m.rowsWritten, { pipeline, stream }, event.written)
        return
      }
      case "DeadLettered":
        update(m.deadLetters, { pipeline, stream: label("stream", event.stream) }, event.count)
        return
      case "RetryScheduled":
        update(m.retries, { pipeline }, 1)
        update(m.errors, { pipeline, outcome: "retried" }, 1)
        return
      case "CheckpointSaved":
        noteCheckpoint(pipeline, stateKey, event.checkpoint)
        return
      case "SchemaChanged":
        update(m.schemaChanges, { pipeline, stream: label("stream", event.stream) }, 1)
        return
      case "RunFinished":
      case "RunFailed":
      case "RunCancelled": {
        live.delete(event.runId)
        const outcome = OUTCOME_OF_END[event._tag]
        const summary = event.summary
        update(m.runs, { pipeline, outcome }, 1)
        update(m.runDuration, { pipeline, outcome }, Math.max(0, summary.durationMs) / 1000)
        if (event._tag === "RunFailed") update(m.errors, { pipeline, outcome: "fatal" }, 1)
        if (summary.checkpointTo !== null) noteCheckpoint(pipeline, stateKey, summary.checkpointTo)
        if (event._tag === "RunFinished") {
          const finished = Date.parse(summary.finishedAt)
          update(m.lastSuccess, { pipeline }, (Number.isNaN(finished) ? Date.parse(event.at) : finished) / 1000)
        }
        return
      }
    }
  }

  return {
    recordToolCall: ({ tool, outcome, seconds }) => {
      const attributes = { tool: label("tool", tool), outcome }
      update(m.toolCalls, attributes, 1)
      update(m.toolDuration, attributes, Math.max(0, seconds))
    },
    recordRunEvent,
    // The connector rides on the `outcome` label: the label set stays pipeline, stream, tool, outcome.
    recordConnectorHealth: ({ pipeline, connector, up }) =>
      update(m.connectorUp, { pipeline: label("pipeline", pipeline), outcome: connector }, up ? 1 : 0),
    text: async () => {
      const at = now()
      for (const [pipeline, keys] of cursorTimes) {
        // The state key that lags most (its oldest checkpoint time) speaks for the pipeline.
        let oldest = Number.POSITIVE_INFINITY
        for (const t of keys.values()) oldest = Math.min(oldest, t)
        update(m.checkpointLag, { pipeline }, Math.max(0, (at - oldest) / 1000))
      }
      // Loaded at the first scrape: importing the adapter does not pay for effect/observability (~100 ms).
      const { PrometheusMetrics } = await import("effect/observability")
      return PrometheusMetrics.formatUnsafe(context)
    },
    contentType
  }
}
