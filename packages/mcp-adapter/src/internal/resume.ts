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
}

export const resume = (
  pipeline: Pipeline.Any,
  rawParams: unknown,
  tenant: string | undefined
): Effect.Effect<Resume, Config.ConfigError | Source.SourceError | StateStore.StateError, StateStore.StateStore> =>
  Effect.gen(function* () {
    const params = yield* Pipeline.decodeParams(pipeline, rawParams)
    const stateKey = Pipeline.stateKey(pipeline, params, tenant === undefined ? {} : { tenant })
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
    const estimate = source.estimate === undefined ? null : yield* source.estimate(from)
    return { params, stateKey, source, stored, from, estimate }
  })
