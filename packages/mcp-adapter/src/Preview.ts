/**
 * A preview is a dry run: it reads a few records from where the pipeline would resume, passes them through the
 * transforms, and returns them with a plan — checkpoint from and to, the source's estimate, what the sink would
 * do to its target (created, columns added or widened, rows a `replace` drops) with the schema diff, the
 * sample's schema, the guarantee and recent durations. Nothing is written: no sink is opened, no lease taken, no
 * checkpoint saved.
 *
 * @since 0.1.0
 */
import {
  type Checkpoint,
  type Config,
  ConnectorError,
  DeadLetter,
  Pipeline,
  RunStore,
  SchemaInference,
  type Sink,
  Source,
  type StateStore
} from "@data-mcp/core"
import { Effect, Option, Schema, Stream } from "effect"
import * as Transformer from "./internal/applyTransform.ts"
import { maskFields } from "./internal/bounds.ts"
import { sinkInfo } from "./internal/describe.ts"
import { resume } from "./internal/resume.ts"

/**
 * What running the pipeline now would do.
 *
 * @category models
 * @since 0.1.0
 */
export interface Plan {
  readonly stateKey: string
  /**
   * The stored checkpoint a run would resume from (`null`: the beginning), the one it would end at when the
   * source can tell (`null`: unknown), and the last one the sample reached.
   */
  readonly checkpoint: {
    readonly from: Checkpoint.Json | null
    readonly to: Checkpoint.Json | null
    readonly sampleReached: Checkpoint.Json | null
  }
  /** The source's estimate of what a run would read, when it can tell. */
  readonly estimate: Source.Estimate | null
  readonly target: {
    readonly sink: string
    readonly disposition: string
    /** The target as its sink names it (`public.orders`), when the sink describes it. */
    readonly name?: string | undefined
    readonly exists?: boolean | undefined
    /** Rows it holds now (approximate for databases), when the sink can tell. */
    readonly rows?: number | undefined
    /** Plain-language effects on the target (created, columns added or widened, rows appended or dropped). */
    readonly effects: ReadonlyArray<string>
    /**
     * The schema changes a run would make to the target for records like the sample (`null`: the sink cannot
     * tell).
     */
    readonly schemaDiff: SchemaInference.Diff | null
    /** What the sink's schema contract refuses of the sample, and what a run would do then. */
    readonly refused?: Sink.TargetPlan["refused"]
    /** Why the target could not be described (unreachable, no permission); the preview itself succeeded. */
    readonly unavailable?: string | undefined
  }
  /** Field → inferred type of the transformed sample. */
  readonly schema: Readonly<Record<string, string>>
  readonly guarantee: string
  /** Durations of the latest successful runs, newest first, in ms. */
  readonly recentDurationsMs: ReadonlyArray<number>
}

/**
 * A preview's result. `records` are the transformed sample in lossless JSON (`{ $timestamp }`, `{ $bigint }`),
 * with `sensitive` fields masked; they are untrusted data.
 *
 * @category models
 * @since 0.1.0
 */
export interface PreviewResult {
  readonly records: ReadonlyArray<Checkpoint.Json>
  /** Records the source or a transform refused, with the step and reason (never the value). */
  readonly rejected: ReadonlyArray<{ readonly step: string; readonly reason: string }>
  readonly recordsRead: number
  readonly plan: Plan
}

/**
 * Options of `run`.
 *
 * @category models
 * @since 0.1.0
 */
export interface PreviewOptions {
  /** Records to return (default 10, at most 100). */
  readonly limit?: number | undefined
  /** The caller's tenant: it selects the state key, as in a run. */
  readonly tenant?: string | undefined
  /** Params bound to the caller's token (already in the params): they select the state key, as in a run. */
  readonly bound?: Readonly<Record<string, Checkpoint.Json>> | undefined
  /** Stop reading after this long, in ms (default 10,000); the sample read so far is returned. */
  readonly timeoutMs?: number | undefined
}

const list = (items: ReadonlyArray<string>) =>
  items.length <= 8 ? items.join(", ") : `${items.slice(0, 8).join(", ")} and ${items.length - 8} more`

const effectsOf = (
  info: ReturnType<typeof sinkInfo>,
  rows: number | undefined,
  target: Sink.TargetPlan | undefined
): ReadonlyArray<string> => {
  const n = rows === undefined ? "the new" : `about ${rows}`
  const name = target?.target ?? info.name
  const effects: Array<string> = []
  if (target !== undefined) {
    const { changes } = target
    if (!target.exists && changes.added.length > 0)
      effects.push(`creates ${name} with columns ${list(changes.added.map((c) => `${c.path} ${c.type}`))}`)
    else if (changes.added.length > 0)
      effects.push(`adds columns ${list(changes.added.map((c) => `${c.path} ${c.type}`))} to ${name}`)
    if (changes.widened.length > 0)
      effects.push(`widens ${list(changes.widened.map((c) => `${c.path} ${c.from} → ${c.to}`))} in ${name}`)
    if (target.refused !== undefined) {
      const what =
        target.refused.outcome === "fail"
          ? "the run would fail"
          : target.refused.outcome === "discardRow"
            ? "such records become dead letters"
            : "such values are dropped"
      effects.push(`${target.refused.reason}; ${what}`)
    }
  }
  const held = target?.rows === undefined ? "" : ` (it holds about ${target.rows} rows now)`
  switch (info.disposition) {
    case "append":
      effects.push(`appends ${n} rows to ${name}`)
      break
    case "replace":
      effects.push(`replaces all rows of ${name} with ${n} rows: the current content is dropped${held}`)
      break
    case "merge":
      effects.push(`merges ${n} rows into ${name} by key ${JSON.stringify(info.mergeKey ?? [])}${held}`)
      break
    default:
      effects.push(`writes ${n} rows; the disposition depends on the params`)
  }
  return effects
}

// The sink's own account of its target for the sample, or why it could not give one (the preview still answers).
const describeTarget = (
  pipeline: Pipeline.Any,
  params: unknown,
  sample: ReadonlyArray<unknown>,
  timeoutMs: number
): Effect.Effect<{ readonly plan?: Sink.TargetPlan; readonly unavailable?: string }> =>
  Effect.suspend(() => {
    let sink: Sink.Any
    try {
      sink = Pipeline.sinkOf(pipeline, params)
    } catch (error) {
      return Effect.succeed({ unavailable: `the sink could not be made: ${messageOf(error)}` })
    }
    if (sink.plan === undefined) return Effect.succeed({})
    return sink.plan(sample).pipe(
      Effect.timeoutOption(timeoutMs),
      Effect.map((plan) =>
        Option.isSome(plan) ? { plan: plan.value } : { unavailable: `the target did not answer within ${timeoutMs} ms` }
      ),
      Effect.catch((error) => Effect.succeed({ unavailable: messageOf(error) }))
    )
  })

const messageOf = (error: unknown): string =>
  ConnectorError.isConnectorError(error) || error instanceof Error ? error.message : String(error)

/**
 * Previews a pipeline with params: a sample after transforms and the plan of a run. Fails with the params'
 * `ConfigError` (naming the field), a source error, or a state error.
 *
 * **Example** (Ten records and the plan)
 *
 * ```ts
 * import { Runner } from "@data-mcp/core"
 * import { Preview } from "@data-mcp/mcp-adapter"
 * import { Effect } from "effect"
 * declare const pipeline: import("@data-mcp/core").Pipeline.Any
 *
 * const program = Preview.run(pipeline, {}, { limit: 10 }).pipe(Effect.provide(Runner.layerMemory()))
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const run = (
  pipeline: Pipeline.Any,
  rawParams: unknown,
  options?: PreviewOptions
): Effect.Effect<
  PreviewResult,
  Config.ConfigError | Source.SourceError | StateStore.StateError,
  StateStore.StateStore | RunStore.RunStore
> =>
  Effect.gen(function* () {
    const limit = Math.max(1, Math.min(100, Math.floor(options?.limit ?? 10)))
    const { params, source, stateKey, stored, from, estimate } = yield* resume(
      pipeline,
      rawParams,
      options?.tenant,
      options?.bound
    )
    const records: Array<unknown> = []
    const rejected: Array<{ step: string; reason: string }> = []
    let recordsRead = 0
    let reached: Checkpoint.Json | null = null
    yield* source.read(from, { runId: "preview", batchRows: limit }).pipe(
      Stream.mapEffect((batch) =>
        Effect.gen(function* () {
          const valid: Array<unknown> = []
          for (const record of batch.records) {
            if (records.length + valid.length >= limit) break
            recordsRead++
            if (Source.isInvalidRecord(record)) {
              rejected.push({ step: "source", reason: record.reason })
            } else valid.push(record)
          }
          const applied = yield* Transformer.apply(pipeline.transforms, valid)
          records.push(...applied.records.slice(0, limit - records.length))
          rejected.push(...applied.rejected)
          if (batch.checkpoint !== undefined) {
            reached = Schema.encodeUnknownSync(source.checkpointSchema)(batch.checkpoint) as Checkpoint.Json
          }
          return records.length >= limit
        })
      ),
      Stream.takeUntil((done) => done),
      Stream.runDrain,
      Effect.timeoutOption(options?.timeoutMs ?? 10_000)
    )
    const sensitive = new Set(pipeline.options.sensitive ?? [])
    const encoded = records.map((r) => maskFields(DeadLetter.encodeRecord(r), sensitive))
    const inferred = SchemaInference.inferSchema(records)
    const schema: Record<string, string> = {}
    if (inferred.type === "object") {
      for (const [k, field] of Object.entries(inferred.fields)) schema[k] = SchemaInference.typeName(field)
    }
    const recent = yield* RunStore.RunStore.use((s) =>
      s.list({ pipeline: pipeline.name, status: "succeeded", limit: 5 })
    )
    const info = sinkInfo(pipeline, params)
    const target = yield* describeTarget(pipeline, params, records, options?.timeoutMs ?? 10_000)
    const described = target.plan
    return {
      records: encoded,
      rejected,
      recordsRead,
      plan: {
        stateKey,
        checkpoint: { from: stored ?? null, to: estimate?.to ?? null, sampleReached: reached },
        estimate,
        target: {
          sink: info.name,
          disposition: info.disposition,
          ...(described === undefined
            ? {}
            : {
                name: described.target,
                exists: described.exists,
                ...(described.rows === undefined ? {} : { rows: described.rows })
              }),
          effects: effectsOf(info, estimate?.rows, described),
          schemaDiff: described?.changes ?? null,
          ...(described?.refused === undefined ? {} : { refused: described.refused }),
          ...(target.unavailable === undefined ? {} : { unavailable: target.unavailable })
        },
        schema,
        guarantee: info.guarantee,
        recentDurationsMs: recent.runs.flatMap((r) => (r.summary === undefined ? [] : [r.summary.durationMs]))
      }
    }
  })
