/**
 * The Promise face of the runner, for Node services that do not use Effect. It owns one `ManagedRuntime` with
 * the runner, its stores and the registry, converts at the edge only — Effect → Promise, Stream → async
 * iterable, an `AbortSignal` → cancellation — and rejects with the same error classes the Effect API fails
 * with (`ConnectorError`, `RunConflict`, …), so `_tag` checks work the same way.
 *
 * @since 0.1.0
 */
import { Effect, Layer, ManagedRuntime, Stream } from "effect"
import type { Json } from "../Checkpoint.ts"
import * as DeadLetter from "../DeadLetter.ts"
import type * as Pipeline from "../Pipeline.ts"
import * as PipelineRegistry from "../PipelineRegistry.ts"
import type * as RunEvent from "../RunEvent.ts"
import * as Runner from "../Runner.ts"
import * as RunStore from "../RunStore.ts"
import type { RunSummary } from "../RunSummary.ts"
import * as StateStore from "../StateStore.ts"

/**
 * Where the runner keeps its state: files under `directory` (default `.data-mcp`), or memory.
 *
 * @category models
 * @since 0.1.0
 */
export interface PromiseRunnerOptions extends Runner.RunnerOptions {
  /** The state directory (default `.data-mcp`); ignored with `inMemory`. */
  readonly directory?: string | undefined
  /** Keep everything in memory (tests, throwaway runs). */
  readonly inMemory?: boolean | undefined
}

/**
 * A started run, Promise style.
 *
 * @category models
 * @since 0.1.0
 */
export interface PromiseRunHandle {
  readonly id: string
  readonly pipeline: string
  readonly stateKey: string
  /** Live events; the iteration ends with the run's terminal event. */
  readonly events: AsyncIterable<RunEvent.RunEvent>
  /** Resolves with the summary; rejects with the run's error if it failed. */
  readonly result: Promise<RunSummary>
  /** Cancels and resolves once the run stopped. */
  cancel(): Promise<RunSummary>
}

/**
 * Options of `run` and `start`.
 *
 * @category models
 * @since 0.1.0
 */
export interface PromiseStartOptions extends Runner.StartOptions {
  /** Aborting cancels the run (the batch in flight finishes, nothing past it is checkpointed). */
  readonly signal?: AbortSignal | undefined
}

type Services =
  | Runner.Runner
  | PipelineRegistry.PipelineRegistry
  | StateStore.StateStore
  | RunStore.RunStore
  | DeadLetter.DeadLetterStore

/**
 * The runner for Promise users.
 *
 * **Example** (Run a pipeline and print its events)
 *
 * ```ts
 * import { PromiseRunner } from "@data-mcp/core/promise"
 * declare const pipeline: import("@data-mcp/core").Pipeline.Any
 *
 * const runner = PromiseRunner.create({ directory: ".data-mcp" })
 * const handle = await runner.start(pipeline, {})
 * for await (const event of handle.events) console.log(event._tag)
 * console.log(await handle.result)
 * await runner.dispose()
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export class PromiseRunner {
  readonly #runtime: ManagedRuntime.ManagedRuntime<Services, unknown>

  private constructor(runtime: ManagedRuntime.ManagedRuntime<Services, unknown>) {
    this.#runtime = runtime
  }

  /** Makes a runner; its stores open lazily on first use and close with `dispose`. */
  static create(options?: PromiseRunnerOptions): PromiseRunner {
    const stores =
      options?.inMemory === true
        ? Runner.layerMemory(options)
        : Runner.layerFile({ directory: options?.directory ?? ".data-mcp" }, options)
    const registry =
      options?.inMemory === true
        ? PipelineRegistry.layerMemory
        : PipelineRegistry.layer.pipe(
            Layer.provide(PipelineRegistry.RegistryStore.layerFile({ directory: options?.directory ?? ".data-mcp" }))
          )
    return new PromiseRunner(ManagedRuntime.make(Layer.mergeAll(stores, registry)))
  }

  /** Runs a pipeline and resolves with its summary (`start` + `result`). */
  async run(pipeline: Pipeline.Any, params: unknown, options?: PromiseStartOptions): Promise<RunSummary> {
    const handle = await this.start(pipeline, params, options)
    return handle.result
  }

  /** Starts a run and resolves with its handle as soon as it holds its state key. */
  async start(pipeline: Pipeline.Any, params: unknown, options?: PromiseStartOptions): Promise<PromiseRunHandle> {
    const { signal, ...startOptions } = options ?? {}
    const handle = await this.#runtime.runPromise(Runner.start(pipeline, params, startOptions), { signal })
    const runtime = this.#runtime
    const cancel = () => runtime.runPromise(handle.cancel)
    signal?.addEventListener("abort", () => void cancel(), { once: true })
    return {
      id: handle.id,
      pipeline: handle.pipeline,
      stateKey: handle.stateKey,
      events: Stream.toAsyncIterable(handle.events),
      result: runtime.runPromise(handle.result),
      cancel
    }
  }

  /** Registers a pipeline version (see `PipelineRegistry`). */
  register(pipeline: Pipeline.Any): Promise<PipelineRegistry.Entry> {
    return this.#runtime.runPromise(PipelineRegistry.PipelineRegistry.use((r) => r.register(pipeline)))
  }

  /** Lists registered pipelines. */
  pipelines(options?: { readonly includeDeprecated?: boolean }): Promise<ReadonlyArray<PipelineRegistry.Entry>> {
    return this.#runtime.runPromise(PipelineRegistry.PipelineRegistry.use((r) => r.list(options)))
  }

  /** Gets a registered pipeline by `name` or `name@version`. */
  pipeline(
    reference: string
  ): Promise<{ readonly entry: PipelineRegistry.Entry; readonly pipeline: Pipeline.Any | undefined }> {
    return this.#runtime.runPromise(PipelineRegistry.PipelineRegistry.use((r) => r.get(reference)))
  }

  /** Marks a version deprecated. */
  deprecate(reference: string, reason: string): Promise<PipelineRegistry.Entry> {
    return this.#runtime.runPromise(PipelineRegistry.PipelineRegistry.use((r) => r.deprecate(reference, reason)))
  }

  /** A run's record. */
  getRun(runId: string): Promise<RunStore.RunRecord | undefined> {
    return this.#runtime.runPromise(RunStore.RunStore.use((s) => s.get(runId)))
  }

  /** Runs, newest first, paginated. */
  listRuns(query?: RunStore.RunQuery): Promise<RunStore.RunPage> {
    return this.#runtime.runPromise(RunStore.RunStore.use((s) => s.list(query ?? {})))
  }

  /** A run's stored events. */
  runEvents(
    runId: string,
    options?: { readonly from?: number; readonly limit?: number }
  ): Promise<ReadonlyArray<RunEvent.RunEvent>> {
    return this.#runtime.runPromise(RunStore.RunStore.use((s) => s.events(runId, options)))
  }

  /** Dead letters, oldest first, paginated. */
  deadLetters(
    query?: DeadLetter.DeadLetterQuery
  ): Promise<{ readonly letters: ReadonlyArray<DeadLetter.DeadLetter>; readonly nextCursor?: string | undefined }> {
    return this.#runtime.runPromise(DeadLetter.DeadLetterStore.use((s) => s.list(query ?? {})))
  }

  /**
   * Replays a pipeline's dead letters through its current version (`Runner.replayDeadLetters`). Aborting the
   * signal cancels the replay run safely; letters not yet replayed stay.
   */
  replayDeadLetters(
    pipeline: Pipeline.Any,
    options?: DeadLetter.ReplayOptions & { readonly signal?: AbortSignal | undefined }
  ): Promise<DeadLetter.ReplayResult> {
    const { signal, ...replayOptions } = options ?? {}
    return this.#runtime.runPromise(Runner.replayDeadLetters(pipeline, replayOptions), { signal })
  }

  /** A state key's checkpoint. */
  checkpoint(stateKey: string): Promise<Json | undefined> {
    return this.#runtime.runPromise(StateStore.StateStore.use((s) => s.load(stateKey)))
  }

  /** Marks dead runs abandoned and purges history past retention. */
  purge(): Promise<{
    readonly runs: number
    readonly events: number
    readonly deadLetters: number
    readonly abandoned: number
  }> {
    return this.#runtime.runPromise(Runner.Runner.use((r) => r.purge))
  }

  /** Cancels live runs and closes the stores. */
  dispose(): Promise<void> {
    return this.#runtime.dispose()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose()
  }
}

/**
 * Runs an Effect-returning helper of core from Promise code (for the rare function without a facade twin).
 *
 * @category utils
 * @since 0.1.0
 */
export const runPromise = <A, E>(
  effect: Effect.Effect<A, E>,
  options?: { readonly signal?: AbortSignal }
): Promise<A> => Effect.runPromise(effect, options)
