/**
 * A preview is a dry run: it reads a few records from where the pipeline would resume, passes them through the
 * transforms, and returns them with a plan — checkpoint from and to, the source's estimate, what the sink would
 * do to its target, the sample's schema, the guarantee and recent durations. Nothing is written: no sink is
 * opened, no lease taken, no checkpoint saved.
 *
 * @since 0.1.0
 */
import {
  type Checkpoint,
  type Config,
  DeadLetter,
  type Pipeline,
  RunStore,
  SchemaInference,
  Source,
  type StateStore
} from "@data-mcp/core"
import { Effect, Schema, Stream } from "effect"
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
  /** The stored checkpoint a run would resume from (`null`: the beginning) and the last one the sample reached. */
  readonly checkpoint: { readonly from: Checkpoint.Json | null; readonly sampleReached: Checkpoint.Json | null }
  /** The source's estimate of what a run would read, when it can tell. */
  readonly estimate: Source.Estimate | null
  readonly target: {
    readonly sink: string
    readonly disposition: string
    /** Plain-language effects on the target (rows appended, content replaced, keys merged). */
    readonly effects: ReadonlyArray<string>
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
  /** Params bound to the caller and its tenant: they select the state key, as in a run. */
  readonly tenant?: string | undefined
  /** Stop reading after this long, in ms (default 10,000); the sample read so far is returned. */
  readonly timeoutMs?: number | undefined
}

const effectsOf = (info: ReturnType<typeof sinkInfo>, rows: number | undefined): ReadonlyArray<string> => {
  const n = rows === undefined ? "the new" : `about ${rows}`
  switch (info.disposition) {
    case "append":
      return [`appends ${n} rows to ${info.name}`]
    case "replace":
      return [`replaces all rows of ${info.name} with ${n} rows (the current content is dropped)`]
    case "merge":
      return [`merges ${n} rows into ${info.name} by key ${JSON.stringify(info.mergeKey ?? [])}`]
    default:
      return [`writes ${n} rows; the disposition depends on the params`]
  }
}

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
    const { source, stateKey, stored, from, estimate } = yield* resume(pipeline, rawParams, options?.tenant)
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
    const info = sinkInfo(pipeline)
    return {
      records: encoded,
      rejected,
      recordsRead,
      plan: {
        stateKey,
        checkpoint: { from: stored ?? null, sampleReached: reached },
        estimate,
        target: { sink: info.name, disposition: info.disposition, effects: effectsOf(info, estimate?.rows) },
        schema,
        guarantee: info.guarantee,
        recentDurationsMs: recent.runs.flatMap((r) => (r.summary === undefined ? [] : [r.summary.durationMs]))
      }
    }
  })
