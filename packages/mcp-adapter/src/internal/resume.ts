// Where a run of a pipeline with these params would resume: its state key, source, stored checkpoint and the
// source's estimate from there. Shared by previews and by the maxRows/maxBytes guards of run calls.
import { type Checkpoint, type Config, Pipeline, type Source, StateStore } from "@data-mcp/core"
import { Effect, Schema } from "effect"

export interface Resume {
  readonly params: unknown
  readonly stateKey: string
  readonly source: Source.Any
  readonly stored: Checkpoint.Json | undefined
  readonly from: unknown
  readonly estimate: Source.Estimate | null
  /** Why the source could not estimate (the source is unreachable…): a run still starts, unless a guard needs it. */
  readonly estimateError?: Source.SourceError | undefined
}

export const resume = (
  pipeline: Pipeline.Any,
  rawParams: unknown,
  tenant: string | undefined,
  bound: Readonly<Record<string, Checkpoint.Json>> = {}
): Effect.Effect<Resume, Config.ConfigError | Source.SourceError | StateStore.StateError, StateStore.StateStore> =>
  Effect.gen(function* () {
    const params = yield* Pipeline.decodeParams(pipeline, rawParams)
    // The same key as the runner's: params bound to the caller, then its tenant.
    const stateKey = Pipeline.stateKey(pipeline, params, { ...bound, ...(tenant === undefined ? {} : { tenant }) })
    const source = Pipeline.sourceOf(pipeline, params)
    const stored = yield* StateStore.StateStore.use((s) => s.load(stateKey))
    const from =
      stored === undefined
        ? undefined
        : yield* Schema.decodeUnknownEffect(source.checkpointSchema)(stored).pipe(
            Effect.mapError(
              () =>
                new StateStore.StateError({
                  reason: "InvalidCheckpoint",
                  key: stateKey,
                  detail: "the stored checkpoint does not match the source's checkpoint schema"
                })
            )
          )
    const estimated = source.estimate === undefined ? undefined : yield* Effect.result(source.estimate(from))
    if (estimated !== undefined && estimated._tag === "Failure")
      return { params, stateKey, source, stored, from, estimate: null, estimateError: estimated.failure }
    return { params, stateKey, source, stored, from, estimate: estimated?.success ?? null }
  })
