// The runner of the command: core's Runner with file stores under the project's state directory, and the
// runner's own log lines off unless asked for (the command prints progress and the summary itself).
import type { Checkpoint, Pipeline, RunEvent, RunSummary } from "@data-mcp/core"
import { DeadLetter, Runner, RunStore } from "@data-mcp/core"
import { Layer, Logger, ManagedRuntime, Stream } from "effect"

export interface Handle {
  readonly id: string
  readonly events: AsyncIterable<RunEvent.RunEvent>
  readonly result: Promise<RunSummary.RunSummary>
  readonly cancel: () => Promise<RunSummary.RunSummary>
}

export const make = (directory: string, options?: { readonly verbose?: boolean | undefined }) => {
  const stores = Runner.layerFile({ directory })
  const layer = options?.verbose === true ? stores : Layer.merge(stores, Logger.layer([]))
  const runtime = ManagedRuntime.make(layer)
  return {
    start: async (
      pipeline: Pipeline.Any,
      params: unknown,
      options?: { readonly signal?: AbortSignal | undefined; readonly end?: Checkpoint.Json | undefined }
    ): Promise<Handle> => {
      const handle = await runtime.runPromise(
        Runner.start(pipeline, params, options?.end === undefined ? {} : { end: options.end }),
        { signal: options?.signal }
      )
      const cancel = () => runtime.runPromise(handle.cancel)
      options?.signal?.addEventListener("abort", () => void cancel().catch(() => undefined), { once: true })
      return {
        id: handle.id,
        events: Stream.toAsyncIterable(handle.events),
        result: runtime.runPromise(handle.result),
        cancel
      }
    },
    getRun: (id: string) => runtime.runPromise(RunStore.RunStore.use((s) => s.get(id))),
    listRuns: (query: RunStore.RunQuery) => runtime.runPromise(RunStore.RunStore.use((s) => s.list(query))),
    deadLetters: (query: DeadLetter.DeadLetterQuery) =>
      runtime.runPromise(DeadLetter.DeadLetterStore.use((s) => s.list(query))),
    removeDeadLetters: (ids: ReadonlyArray<string>) =>
      runtime.runPromise(DeadLetter.DeadLetterStore.use((s) => s.remove(ids))),
    runtime,
    dispose: () => runtime.dispose()
  }
}

/** Makes a runner for `f` and disposes of it afterwards. */
export const use = async <A>(directory: string, f: (runner: ReturnType<typeof make>) => Promise<A>): Promise<A> => {
  const runner = make(directory)
  try {
    return await f(runner)
  } finally {
    await runner.dispose()
  }
}
