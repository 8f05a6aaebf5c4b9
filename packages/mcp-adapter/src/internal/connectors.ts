// A pipeline's source and sink as the adapter describes them: the values themselves, or — when they are built
// from params — built from the given decoded params, else from the params' defaults. `undefined` when that is not
// possible (no defaults, or the builder refuses them): the caller then says it cannot tell.
import { Pipeline, type Sink, type Source } from "@data-mcp/core"
import { Effect, Exit } from "effect"

/** The pipeline's params with every default applied, if `{}` decodes. */
export const defaultParams = (pipeline: Pipeline.Any): unknown => {
  const exit = Effect.runSyncExit(Pipeline.decodeParams(pipeline, {}))
  return Exit.isSuccess(exit) ? exit.value : undefined
}

const built = <A>(make: () => A): A | undefined => {
  try {
    return make()
  } catch {
    // A builder that refuses the params: the connector cannot be described, which callers report as unknown.
    return undefined
  }
}

/** The pipeline's sink, from `params` (decoded) or the defaults when it is built from params. */
export const sinkOf = (pipeline: Pipeline.Any, params?: unknown): Sink.Any | undefined => {
  if (typeof pipeline.sink !== "function") return pipeline.sink as Sink.Any
  const given = params ?? defaultParams(pipeline)
  return given === undefined ? undefined : built(() => Pipeline.sinkOf(pipeline, given) as Sink.Any)
}

/** The pipeline's source, from `params` (decoded) or the defaults when it is built from params. */
export const sourceOf = (pipeline: Pipeline.Any, params?: unknown): Source.Any | undefined => {
  if (typeof pipeline.source !== "function") return pipeline.source as Source.Any
  const given = params ?? defaultParams(pipeline)
  return given === undefined ? undefined : built(() => Pipeline.sourceOf(pipeline, given) as Source.Any)
}
