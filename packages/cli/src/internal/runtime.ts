// The runner of the command: core's Runner over the project's stores (files under the state directory, or
// PostgreSQL), and the runner's own log lines off unless asked for (the command prints progress and the summary).
import type { Checkpoint, DeadLetter as DeadLetterNs, Pipeline, RunEvent, RunSummary } from "@data-mcp/core"
import { DeadLetter, PipelineRegistry, Runner, RunStore, StateStore } from "@data-mcp/core"
import { type Effect, Layer, Logger, ManagedRuntime, Stream } from "effect"
import type * as Project from "../Project.ts"
import * as Stores from "./stores.ts"

export interface Handle {
  readonly id: string
  readonly events: AsyncIterable<RunEvent.RunEvent>
  readonly result: Promise<RunSummary.RunSummary>
  readonly cancel: () => Promise<RunSummary.RunSummary>
}

type Services =
  | Runner.Runner
  | StateStore.StateStore
  | RunStore.RunStore
  | DeadLetter.DeadLetterStore
  | PipelineRegistry.RegistryStore
  | PipelineRegistry.PipelineRegistry

export const make = (project: Project.Project, options?: { readonly verbose?: boolean | undefined }) => {
  const stores = Layer.mergeAll(Runner.layer({ purgeIntervalMs: 0 }), PipelineRegistry.layer).pipe(
    Layer.provideMerge(Stores.layer(project))
  )
  const layer = options?.verbose === true ? stores : Layer.merge(stores, Logger.layer([]))
  const runtime = ManagedRuntime.make(layer as Layer.Layer<Services, unknown>)
  const run = <A>(effect: Effect.Effect<A, unknown, Services>, signal?: AbortSignal) =>
    runtime.runPromise(effect, { signal })
  return {
    start: async (
      pipeline: Pipeline.Any,
      params: unknown,
      options?: {
        readonly signal?: AbortSignal | undefined
        readonly end?: Checkpoint.Json | undefined
        readonly start?: Checkpoint.Json | undefined
      }
    ): Promise<Handle> => {
      const handle = await run(
        Runner.start(pipeline, params, {
          ...(options?.end === undefined ? {} : { end: options.end }),
          ...(options?.start === undefined ? {} : { start: options.start })
        }),
        options?.signal
      )
      const cancel = () => run(handle.cancel)
      options?.signal?.addEventListener("abort", () => void cancel().catch(() => undefined), { once: true })
      return {
        id: handle.id,
        events: Stream.toAsyncIterable(handle.events),
        result: run(handle.result),
        cancel
      }
    },
    replay: (pipeline: Pipeline.Any, options: DeadLetterNs.ReplayOptions, signal?: AbortSignal) =>
      run(Runner.replayDeadLetters(pipeline, options), signal),
    getRun: (id: string) => run(RunStore.RunStore.use((s) => s.get(id))),
    listRuns: (query: RunStore.RunQuery) => run(RunStore.RunStore.use((s) => s.list(query))),
    deadLetters: (query: DeadLetter.DeadLetterQuery) => run(DeadLetter.DeadLetterStore.use((s) => s.list(query))),
    removeDeadLetters: (ids: ReadonlyArray<string>) => run(DeadLetter.DeadLetterStore.use((s) => s.remove(ids))),
    state: <A>(f: (store: StateStore.StateStore["Service"]) => Effect.Effect<A, unknown>) =>
      run(StateStore.StateStore.use(f)),
    registry: <A>(f: (registry: PipelineRegistry.PipelineRegistry["Service"]) => Effect.Effect<A, unknown>) =>
      run(PipelineRegistry.PipelineRegistry.use(f)),
    runtime,
    dispose: () => runtime.dispose()
  }
}

export type Runtime = ReturnType<typeof make>

/** Makes a runner for `f` and disposes of it afterwards. */
export const use = async <A>(project: Project.Project, f: (runner: Runtime) => Promise<A>): Promise<A> => {
  const runner = make(project)
  try {
    return await f(runner)
  } finally {
    await runner.dispose()
  }
}
