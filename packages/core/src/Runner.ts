/**
 * The runner runs a pipeline as a run: `start` returns a `RunHandle` at once (its `id`, live `events`, the
 * `result` and `cancel`), `run` waits for the summary. Before reading, a run takes the lease on its state key
 * (one writer per key, fenced by an increasing token); then it reads, batches, transforms and writes with
 * bounded buffers, saves checkpoints in source order only after everything before them is durable, retries
 * retryable failures, dead-letters bad records within a budget, and heartbeats so a crashed run is marked
 * `abandoned`. Runs are detached from the caller: they belong to the runner's scope and stop only when
 * cancelled, timed out, failed or finished.
 *
 * @since 0.1.0
 */
import {
  Cause,
  Clock,
  Context,
  Deferred,
  Effect,
  Exit,
  Fiber,
  Layer,
  Option,
  PubSub,
  Schedule,
  Schema,
  Stream
} from "effect"
import type { Json } from "./Checkpoint.ts"
import type { ConfigError } from "./Config.ts"
import * as DeadLetter from "./DeadLetter.ts"
import type * as Batcher from "./internal/batcher.ts"
import * as Replay from "./internal/replay.ts"
import * as RunLoop from "./internal/runLoop.ts"
import * as Pipeline from "./Pipeline.ts"
import * as RateLimiter from "./RateLimiter.ts"
import * as RetryPolicy from "./RetryPolicy.ts"
import * as RunEvent from "./RunEvent.ts"
import * as RunStoreModule from "./RunStore.ts"
import { defaultRetention, type Retention, type RunRecord, RunStore } from "./RunStore.ts"
import { guaranteeOf, type RunSummary } from "./RunSummary.ts"
import type * as Sink from "./Sink.ts"
import * as StateStoreModule from "./StateStore.ts"
import { type Lease, type StateError, StateStore } from "./StateStore.ts"

/**
 * Another run holds the state key. `runId` names it; `onConflict` chooses between this error, queueing and
 * attaching to that run.
 *
 * @category errors
 * @since 0.1.0
 */
export class RunConflict extends Schema.TaggedError<RunConflict>("@data-mcp/core/RunConflict")("RunConflict", {
  pipeline: Schema.String,
  stateKey: Schema.String,
  /** The live run holding the state key. */
  runId: Schema.String
}) {
  get retryable(): boolean {
    return false
  }

  override get message(): string {
    return `Pipeline ${this.pipeline} is already running for this state key (run ${this.runId}). Wait for it, attach to it, or cancel it.`
  }
}

/**
 * The runner is at its limit of concurrent and queued runs; try again after `retryAfterSeconds`.
 *
 * @category errors
 * @since 0.1.0
 */
export class RunRejected extends Schema.TaggedError<RunRejected>("@data-mcp/core/RunRejected")("RunRejected", {
  detail: Schema.String,
  retryAfterSeconds: Schema.Number
}) {
  get retryable(): boolean {
    return true
  }

  override get message(): string {
    return `Run refused: ${this.detail}. Retry after ${this.retryAfterSeconds} s.`
  }
}

/**
 * The run took longer than its timeout and was stopped (nothing past unwritten data was checkpointed).
 *
 * @category errors
 * @since 0.1.0
 */
export class RunTimeout extends Schema.TaggedError<RunTimeout>("@data-mcp/core/RunTimeout")("RunTimeout", {
  pipeline: Schema.String,
  timeoutMs: Schema.Number
}) {
  get retryable(): boolean {
    return true
  }

  override get message(): string {
    return `Pipeline ${this.pipeline} timed out after ${this.timeoutMs} ms; it resumes from its last checkpoint when run again.`
  }
}

/**
 * What a run can fail with: a connector error, a state error (fenced, invalid checkpoint), a config error (bad
 * params), the dead-letter budget, a timeout, or an error of a `mapEffect` step.
 *
 * @category models
 * @since 0.1.0
 */
export type RunError = unknown

/**
 * A started run.
 *
 * @category models
 * @since 0.1.0
 */
export interface RunHandle {
  readonly id: string
  readonly pipeline: string
  readonly stateKey: string
  /** The run's events, live, ending with its terminal event (recent events are replayed to late subscribers). */
  readonly events: Stream.Stream<RunEvent.RunEvent>
  /** Waits for the summary; fails with the run's error if it failed. A cancelled run succeeds with status `cancelled`. */
  readonly result: Effect.Effect<RunSummary, RunError>
  /** Cancels the run and waits until it has stopped: the batch in flight finishes, nothing else is written. */
  readonly cancel: Effect.Effect<RunSummary>
}

/**
 * Options of one run.
 *
 * @category models
 * @since 0.1.0
 */
export interface StartOptions {
  /** When another run holds the state key: fail with `RunConflict` (default), wait for it, or return its handle. */
  readonly onConflict?: "reject" | "queue" | "attach" | undefined
  /** A bounded backfill up to this source position; it never moves the pipeline's own state. */
  readonly end?: Json | undefined
  /**
   * A backfill from this source position (JSON, decoded with the source's checkpoint schema) instead of the
   * beginning. Like `end`, it makes the run a backfill with a state key of its own: the pipeline's own checkpoint is
   * neither read nor moved, and a re-run of the same backfill resumes from where it stopped.
   */
  readonly start?: Json | undefined
  /** Who started the run (recorded). */
  readonly caller?: string | undefined
  /** The caller's tenant (recorded, part of the state key). */
  readonly tenant?: string | undefined
  /** Recorded with the run, so a repeated call with the same key can find it (`RunQuery.idempotencyKey`). */
  readonly idempotencyKey?: string | undefined
  /** Params bound to the caller (from a verified token): part of the state key and the run record. */
  readonly bound?: Readonly<Record<string, Json>> | undefined
  /** Overrides the pipeline's timeout, in ms. */
  readonly timeoutMs?: number | undefined
}

/**
 * Runner-wide options.
 *
 * @category models
 * @since 0.1.0
 */
export interface RunnerOptions {
  /** Runs at once over all pipelines (default 16). */
  readonly maxConcurrentRuns?: number | undefined
  /** Runs waiting for a slot before new ones are refused with `RunRejected` (default 100). */
  readonly maxQueuedRuns?: number | undefined
  /** How long a lease lasts without renewal, in ms (default 30,000). Renewed every third of that. */
  readonly leaseTtlMs?: number | undefined
  /** Default retry policy (each pipeline's `retry` option overrides fields). */
  readonly retry?: Partial<RetryPolicy.RetryPolicy> | undefined
  /** Run-history retention. */
  readonly retention?: Retention | undefined
  /** Dead letters expire after this (default 14 days) … */
  readonly deadLetterTtlMs?: number | undefined
  /** … and at most this many are kept (default 1,000,000). */
  readonly deadLetterMaxCount?: number | undefined
  /** How often the purge job runs, in ms (default 1 hour; 0 turns it off). */
  readonly purgeIntervalMs?: number | undefined
}

/**
 * What the runner does.
 *
 * @category models
 * @since 0.1.0
 */
export interface RunnerShape {
  /** Starts a run; fails at once on bad params, a state-key conflict (with `reject`) or admission limits. */
  readonly start: (
    pipeline: Pipeline.Any,
    params: unknown,
    options?: StartOptions
  ) => Effect.Effect<RunHandle, RunConflict | RunRejected | ConfigError | StateError>
  /**
   * Replays a pipeline's dead letters through its current version (see `replayDeadLetters`): as runs recorded in
   * the run store, removing each letter once its records are durable, never moving the pipeline's checkpoint.
   */
  readonly replayDeadLetters: (
    pipeline: Pipeline.Any,
    options?: DeadLetter.ReplayOptions
  ) => Effect.Effect<
    DeadLetter.ReplayResult,
    DeadLetter.ReplayError | RunConflict | RunRejected | ConfigError | StateError
  >
  /** The handle of a live run of this process. */
  readonly handle: (runId: string) => Effect.Effect<RunHandle | undefined>
  /** Marks dead runs abandoned and purges run history and dead letters past retention. */
  readonly purge: Effect.Effect<
    { readonly runs: number; readonly events: number; readonly deadLetters: number; readonly abandoned: number },
    StateError
  >
}

/**
 * The runner service.
 *
 * @category services
 * @since 0.1.0
 */
export class Runner extends Context.Service<Runner, RunnerShape>()("@data-mcp/core/Runner") {}

const DEFAULTS = {
  maxConcurrentRuns: 16,
  maxQueuedRuns: 100,
  leaseTtlMs: 30_000,
  timeoutMs: 6 * 3600_000,
  deadLetterTtlMs: 14 * 24 * 3600_000,
  deadLetterMaxCount: 1_000_000,
  purgeIntervalMs: 3600_000
}

const isoNow = () => new Date().toISOString()

// A backfill's state key: its own, so the pipeline's checkpoint is never read or moved.
const backfillKey = (baseKey: string, start: Json | undefined, end: Json | undefined): string =>
  start === undefined
    ? `${baseKey}/backfill:${JSON.stringify(end)}`
    : `${baseKey}/backfill:${JSON.stringify(start)}..${end === undefined ? "" : JSON.stringify(end)}`

const runIdOf = () => `run_${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`

/**
 * Builds a runner over the state, run and dead-letter stores in context.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (options?: RunnerOptions) =>
  Effect.gen(function* () {
    const stateStore = yield* StateStore
    const runStore = yield* RunStore
    const deadLetters = yield* DeadLetter.DeadLetterStore
    const scope = yield* Effect.scope
    const maxConcurrentRuns = options?.maxConcurrentRuns ?? DEFAULTS.maxConcurrentRuns
    const maxQueuedRuns = options?.maxQueuedRuns ?? DEFAULTS.maxQueuedRuns
    const leaseTtlMs = options?.leaseTtlMs ?? DEFAULTS.leaseTtlMs
    const heartbeatMs = Math.max(10, Math.floor(leaseTtlMs / 3))
    const live = new Map<string, RunHandle>()
    const liveByKey = new Map<string, string>()
    const perPipeline = new Map<string, { active: number }>()
    const limiters = new WeakMap<object, RateLimiter.RateLimiter>()
    let active = 0
    let waiting = 0
    const slotWaiters: Array<() => void> = []

    const limiterFor = (instance: object, rate: RateLimiter.Rate | undefined) => {
      if (rate === undefined) return undefined
      let limiter = limiters.get(instance)
      if (limiter === undefined) {
        limiter = RateLimiter.make(rate)
        limiters.set(instance, limiter)
      }
      return limiter
    }

    // Admission: a global and a per-pipeline cap; waiting runs queue (bounded) in start order.
    const hasSlot = (pipeline: Pipeline.Any) =>
      active < maxConcurrentRuns &&
      (perPipeline.get(pipeline.name)?.active ?? 0) < (pipeline.options.maxConcurrentRuns ?? Number.POSITIVE_INFINITY)
    const acquireSlot = (pipeline: Pipeline.Any) =>
      Effect.callback<void>((resume) => {
        const tryTake = () => {
          if (!hasSlot(pipeline)) return false
          active++
          const p = perPipeline.get(pipeline.name) ?? { active: 0 }
          p.active++
          perPipeline.set(pipeline.name, p)
          resume(Effect.void)
          return true
        }
        if (tryTake()) return
        waiting++
        const waiter = () => {
          if (tryTake()) {
            waiting--
            slotWaiters.splice(slotWaiters.indexOf(waiter), 1)
          }
        }
        slotWaiters.push(waiter)
        return Effect.sync(() => {
          const i = slotWaiters.indexOf(waiter)
          if (i >= 0) {
            slotWaiters.splice(i, 1)
            waiting--
          }
        })
      })
    const releaseSlot = (pipeline: Pipeline.Any) =>
      Effect.sync(() => {
        active--
        const p = perPipeline.get(pipeline.name)
        if (p !== undefined) p.active--
        for (const waiter of [...slotWaiters]) waiter()
      })

    // Takes the lease; `undefined` when another run holds it (the caller decides: reject, attach or queue).
    const tryLease = (
      stateKey: string,
      runId: string
    ): Effect.Effect<Lease | { readonly holder: string }, StateError> =>
      stateStore
        .acquire(stateKey, { runId, ttlMs: leaseTtlMs })
        .pipe(
          Effect.catchTag("StateError", (error) =>
            error.reason === "LeaseHeld"
              ? Effect.succeed({ holder: error.holderRunId ?? "unknown" })
              : Effect.fail(error)
          )
        )

    const waitForLease = (stateKey: string, runId: string) =>
      stateStore.acquire(stateKey, { runId, ttlMs: leaseTtlMs }).pipe(
        Effect.retry({
          while: (error) => error.reason === "LeaseHeld" || error.retryable,
          schedule: Schedule.min([Schedule.exponential("100 millis", 1.5), Schedule.spaced("2 seconds")])
        })
      )

    const startWith = (
      pipeline: Pipeline.Any,
      rawParams: unknown,
      startOptions: StartOptions | undefined,
      internal?: Replay.Hooks
    ): Effect.Effect<RunHandle, RunConflict | RunRejected | ConfigError | StateError> =>
      Effect.gen(function* () {
        const params = yield* Pipeline.decodeParams(pipeline, rawParams)
        const onConflict = startOptions?.onConflict ?? "reject"
        const boundKey = {
          ...(startOptions?.bound ?? {}),
          ...(startOptions?.tenant === undefined ? {} : { tenant: startOptions.tenant })
        }
        const baseKey = Pipeline.stateKey(pipeline, params, boundKey)
        const stateKey =
          internal?.stateKey !== undefined
            ? internal.stateKey(baseKey)
            : startOptions?.end === undefined && startOptions?.start === undefined
              ? baseKey
              : backfillKey(baseKey, startOptions.start, startOptions.end)
        if (onConflict === "attach") {
          const holder = liveByKey.get(stateKey)
          const handle = holder === undefined ? undefined : live.get(holder)
          if (handle !== undefined) return handle
        }
        if (!hasSlot(pipeline) && waiting >= maxQueuedRuns) {
          return yield* new RunRejected({
            detail: `${active} runs active and ${waiting} queued (maxConcurrentRuns ${maxConcurrentRuns}, maxQueuedRuns ${maxQueuedRuns})`,
            retryAfterSeconds: 30
          })
        }
        const runId = runIdOf()
        const taken = yield* tryLease(stateKey, runId)
        let lease: Lease | undefined
        if ("holder" in taken) {
          if (onConflict === "attach") {
            const handle = live.get(taken.holder)
            if (handle !== undefined) return handle
          }
          if (onConflict !== "queue") {
            return yield* new RunConflict({ pipeline: pipeline.name, stateKey, runId: taken.holder })
          }
        } else lease = taken
        const sink = Pipeline.sinkOf(pipeline, params) as Sink.Any
        const guarantee = guaranteeOf(sink.capabilities)
        const now = isoNow()
        const record: RunRecord = {
          id: runId,
          pipeline: pipeline.name,
          version: pipeline.version,
          stateKey,
          status: "queued",
          params: Pipeline.paramsToJson(pipeline, params, { mask: true }),
          caller: startOptions?.caller,
          tenant: startOptions?.tenant,
          ...(startOptions?.idempotencyKey === undefined ? {} : { idempotencyKey: startOptions.idempotencyKey }),
          guarantee,
          createdAt: now,
          updatedAt: now,
          heartbeatAt: now
        }
        yield* runStore.create(record)

        const events = yield* PubSub.sliding<RunEvent.RunEvent>({ capacity: 4096, replay: 4096 })
        const result = yield* Deferred.make<RunSummary, RunError>()
        const stats = RunLoop.emptyStats()
        const startedAt = Date.now()
        const emit = (event: RunEvent.RunEvent) =>
          Effect.andThen(runStore.appendEvents(runId, [event]).pipe(Effect.ignore), PubSub.publish(events, event))

        const summaryOf = (exit: Exit.Exit<unknown, unknown>): RunSummary => {
          const interrupted = Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)
          const error = Exit.isFailure(exit) && !interrupted ? Cause.squash(exit.cause) : undefined
          return {
            runId,
            pipeline: pipeline.name,
            version: pipeline.version,
            stateKey,
            status: Exit.isSuccess(exit) ? "succeeded" : interrupted ? "cancelled" : "failed",
            guarantee,
            recordsRead: stats.recordsRead,
            recordsWritten: stats.recordsWritten,
            deadLetters: stats.deadLetters,
            batches: stats.batches,
            retries: stats.retries,
            checkpointFrom: stats.checkpointFrom,
            checkpointTo: stats.checkpointTo,
            startedAt: new Date(startedAt).toISOString(),
            finishedAt: isoNow(),
            durationMs: Date.now() - startedAt,
            streams: stats.streams,
            error:
              error === undefined
                ? undefined
                : {
                    _tag: typeof error === "object" && error !== null && "_tag" in error ? String(error._tag) : "Error",
                    message: error instanceof Error ? error.message : String(error),
                    retryable: RetryPolicy.isRetryable(error)
                  },
            notes: internal?.note === undefined ? stats.notes : [internal.note, ...stats.notes]
          }
        }

        const heartbeat = Effect.gen(function* () {
          while (true) {
            yield* Effect.sleep(heartbeatMs)
            if (lease !== undefined) lease = yield* stateStore.renew(lease, leaseTtlMs)
            yield* runStore.update(runId, { heartbeatAt: isoNow() }).pipe(Effect.ignore)
          }
        })

        const starter = Option.getOrUndefined(yield* Effect.option(Effect.currentSpan))
        const policy = RetryPolicy.make({ ...options?.retry, ...pipeline.options.retry })
        const source = Pipeline.sourceOf(pipeline, params)
        const timeoutMs = startOptions?.timeoutMs ?? pipeline.options.timeoutMs ?? DEFAULTS.timeoutMs
        const body = Effect.gen(function* () {
          if (lease === undefined) lease = yield* waitForLease(stateKey, runId)
          yield* Effect.acquireRelease(acquireSlot(pipeline), () => releaseSlot(pipeline))
          yield* runStore.update(runId, { status: "running", updatedAt: isoNow() })
          yield* Effect.scoped(
            RunLoop.execute({
              runId,
              pipeline,
              params,
              stateKey,
              tenant: startOptions?.tenant,
              end: startOptions?.end,
              start: startOptions?.start,
              deadLetterId: internal?.deadLetterId,
              deadLetterStateKey: internal?.deadLetterStateKey,
              onCheckpoint: internal?.onCheckpoint,
              lease: () => lease!,
              stateStore,
              deadLetters,
              policy,
              limits: {
                // The pipeline's batch options, else the size the sink writes best (bulk loaders), else defaults.
                rows: pipeline.options.batch?.rows ?? sink.capabilities.batch?.rows ?? 5000,
                bytes: pipeline.options.batch?.bytes ?? sink.capabilities.batch?.bytes ?? 8 * 1024 * 1024,
                maxWaitMs: pipeline.options.batch?.maxWaitMs ?? 1000
              } satisfies Batcher.Limits,
              budget: pipeline.options.deadLetterBudget ?? DeadLetter.defaultBudget,
              limiters: {
                source: limiterFor(source, pipeline.options.rateLimit?.source),
                sink: limiterFor(sink, pipeline.options.rateLimit?.sink)
              },
              stats,
              emit,
              now: isoNow
            })
          ).pipe(
            Effect.timeoutOrElse({
              duration: timeoutMs,
              orElse: () => Effect.fail(new RunTimeout({ pipeline: pipeline.name, timeoutMs }))
            })
          )
        }).pipe(
          Effect.scoped,
          Effect.raceFirst(Effect.andThen(heartbeat, Effect.never)),
          Effect.annotateLogs({ pipeline: pipeline.name, runId }),
          // A run is detached from whoever started it: its span is a root of its own, linked to the caller's
          // span (a tool call) when there is one.
          Effect.withSpan("data-mcp.run", {
            root: true,
            attributes: { pipeline: pipeline.name, version: pipeline.version, "data-mcp.run.id": runId },
            links: starter === undefined ? [] : [{ span: starter, attributes: { "data-mcp.link": "started-by" } }]
          })
        )

        const finalize = (exit: Exit.Exit<unknown, unknown>) =>
          Effect.gen(function* () {
            const summary = summaryOf(exit)
            yield* runStore
              .update(runId, {
                status: summary.status,
                updatedAt: summary.finishedAt,
                finishedAt: summary.finishedAt,
                summary
              })
              .pipe(Effect.ignore)
            const tag =
              summary.status === "succeeded"
                ? "RunFinished"
                : summary.status === "cancelled"
                  ? "RunCancelled"
                  : "RunFailed"
            yield* emit({ _tag: tag, runId, at: summary.finishedAt, summary })
            if (lease !== undefined) yield* stateStore.release(lease).pipe(Effect.ignore)
            live.delete(runId)
            if (liveByKey.get(stateKey) === runId) liveByKey.delete(stateKey)
            if (summary.status === "failed" && Exit.isFailure(exit)) {
              yield* Effect.logWarning("run failed", summary.error)
              yield* Deferred.failCause(result, exit.cause)
            } else yield* Deferred.succeed(result, summary)
          })

        const fiber = yield* body.pipe(Effect.onExit(finalize), Effect.forkIn(scope, { startImmediately: true }))
        // A cancel requested through the run store (by a process without this run's handle) is honoured at the
        // next heartbeat: the watcher interrupts the run from outside, as `cancel` does, and ends with the run.
        yield* Effect.gen(function* () {
          while (true) {
            yield* Effect.sleep(heartbeatMs)
            const stored = yield* runStore.get(runId).pipe(Effect.orElseSucceed(() => undefined))
            if (stored?.cancelRequestedAt !== undefined) {
              yield* Effect.logInfo("run cancelled on request through the run store")
              return yield* Fiber.interrupt(fiber)
            }
          }
        }).pipe(Effect.raceFirst(Deferred.await(result)), Effect.ignore, Effect.forkIn(scope))
        const handle: RunHandle = {
          id: runId,
          pipeline: pipeline.name,
          stateKey,
          events: Stream.fromPubSub(events).pipe(Stream.takeUntil(RunEvent.isTerminal)),
          result: Deferred.await(result),
          // A run that had already failed keeps its own summary; cancel reports it rather than inventing one.
          cancel: Effect.andThen(
            Fiber.interrupt(fiber),
            Deferred.await(result).pipe(
              Effect.catchCause((cause) =>
                Effect.map(
                  runStore.get(runId).pipe(Effect.orElseSucceed(() => undefined)),
                  (stored) => stored?.summary ?? summaryOf(Exit.failCause(cause))
                )
              )
            )
          )
        }
        live.set(runId, handle)
        liveByKey.set(stateKey, runId)
        return handle
      })

    const start: RunnerShape["start"] = (pipeline, params, startOptions) => startWith(pipeline, params, startOptions)

    const replayDeadLetters: RunnerShape["replayDeadLetters"] = (pipeline, replayOptions) =>
      Replay.replay(pipeline, replayOptions ?? {}, { deadLetters, start: startWith })

    const purge = Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const abandoned = yield* runStore.markAbandoned(now - 2 * leaseTtlMs)
      const history = yield* runStore.purge(options?.retention ?? defaultRetention, now)
      const letters = yield* deadLetters.purge({
        ttlMs: options?.deadLetterTtlMs ?? DEFAULTS.deadLetterTtlMs,
        maxCount: options?.deadLetterMaxCount ?? DEFAULTS.deadLetterMaxCount,
        now
      })
      return { ...history, deadLetters: letters, abandoned: abandoned.length }
    })

    const purgeIntervalMs = options?.purgeIntervalMs ?? DEFAULTS.purgeIntervalMs
    yield* runStore.markAbandoned(Date.now() - 2 * leaseTtlMs).pipe(Effect.ignore)
    if (purgeIntervalMs > 0) {
      yield* purge.pipe(
        Effect.tapCause((cause) => Effect.logWarning("purge failed", cause)),
        Effect.ignore,
        Effect.repeat(Schedule.spaced(purgeIntervalMs)),
        Effect.delay(purgeIntervalMs),
        Effect.forkIn(scope)
      )
    }
    return Runner.of({
      start,
      replayDeadLetters,
      handle: (runId) => Effect.sync(() => live.get(runId)),
      purge
    })
  })

/**
 * The runner as a layer over the state, run and dead-letter stores. Live runs are interrupted (cancelled safely)
 * when the layer is released.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (
  options?: RunnerOptions
): Layer.Layer<Runner, never, StateStore | RunStore | DeadLetter.DeadLetterStore> => Layer.effect(Runner, make(options))

/**
 * Asks for a run to be cancelled through the run store, for a process that does not hold the run's handle (another
 * replica sharing the stores): the runner that owns the run cancels it at its next heartbeat (a third of the
 * lease TTL), safely, as `cancel` does. Returns the run's record as it is then, or `undefined` when there is no
 * such run; a run that has already ended is left as it is.
 *
 * @category constructors
 * @since 0.1.0
 */
export const requestCancel = (runId: string): Effect.Effect<RunRecord | undefined, StateError, RunStore> =>
  Effect.gen(function* () {
    const store = yield* RunStore
    const run = yield* store.get(runId)
    if (run === undefined || (run.status !== "queued" && run.status !== "running")) return run
    return yield* store.update(runId, { cancelRequestedAt: new Date().toISOString() })
  })

/**
 * Starts a run with the runner in context.
 *
 * **Example** (Start, watch events, await the summary)
 *
 * ```ts
 * import { Runner } from "@data-mcp/core"
 * import { Effect, Stream } from "effect"
 * declare const pipeline: import("@data-mcp/core").Pipeline.Any
 *
 * const program = Effect.gen(function* () {
 *   const handle = yield* Runner.start(pipeline, {})
 *   yield* Effect.forkChild(Stream.runForEach(handle.events, (e) => Effect.log(e._tag)))
 *   return yield* handle.result
 * })
 * ```
 *
 * @category accessors
 * @since 0.1.0
 */
export const start = (
  pipeline: Pipeline.Any,
  params: unknown,
  options?: StartOptions
): Effect.Effect<RunHandle, RunConflict | RunRejected | ConfigError | StateError, Runner> =>
  Runner.use((runner) => runner.start(pipeline, params, options))

/**
 * Replays a pipeline's dead letters through the pipeline's current version (DESIGN §4, "Operations on state").
 *
 * **When to use**: records were dead-lettered by a bug that a new version of the pipeline fixes (a transform
 * that threw, a schema or a sink that refused them): register and deploy the fix, then replay.
 *
 * **Details**
 *
 * - Which letters: those of `pipeline.name` under the state key of `params` (or `options.stateKey`), or only
 *   `options.ids`. Letters of stage `transform` go through the pipeline's transforms, schema contract and sink;
 *   letters of stages `schema` and `sink` hold records already transformed, so they go through the schema
 *   contract and the sink only. Letters of stage `source` are **not replayed** (counted in `skipped`): they hold
 *   the raw input a source could not decode, which only that source's parser can read — fix the data and run a
 *   backfill over its range instead.
 * - Each group is one run, recorded in the run store under the state key `<stateKey>/replay` (its summary's first
 *   note says it is a replay and of how many letters). The pipeline's own checkpoint is never read or moved; a
 *   replay and a run of the same state key may run at once, two replays of one state key may not (`RunConflict`).
 * - A letter is removed from the store only after its records are durably written by the sink (or set aside
 *   again); a record that fails again becomes a new dead letter with the new reason, whose id derives from the old
 *   one (`<id>~r1`, `~r2`, …), so an interrupted replay repeated never stores a letter twice. Nothing is lost: a
 *   crash or cancel leaves every letter not yet removed in the store. Records of a letter whose removal did not
 *   happen before a crash may be written again by the next replay (at-least-once, as for any append sink).
 * - One letter per write, so the mapping from letter to outcome is exact: a replay is slower than a run per
 *   record, which suits the few records a fix recovers. The dead-letter budget does not apply (a record that
 *   fails again stays a dead letter). A sink with disposition `replace` is refused (`DeadLetter.ReplayError`): its target
 *   would be replaced by the replayed records alone.
 *
 * **Example** (Fix a transform, then replay what it dead-lettered)
 *
 * ```ts
 * import { Runner } from "@data-mcp/core"
 * import { Effect } from "effect"
 * declare const fixed: import("@data-mcp/core").Pipeline.Any
 *
 * const program = Effect.gen(function* () {
 *   const result = yield* Runner.replayDeadLetters(fixed, { params: {} })
 *   yield* Effect.log(`${result.succeeded} recovered, ${result.failedAgain} still failing`)
 * })
 * ```
 *
 * @see start
 * @category accessors
 * @since 0.1.0
 */
export const replayDeadLetters = (
  pipeline: Pipeline.Any,
  options?: DeadLetter.ReplayOptions
): Effect.Effect<
  DeadLetter.ReplayResult,
  DeadLetter.ReplayError | RunConflict | RunRejected | ConfigError | StateError,
  Runner
> => Runner.use((runner) => runner.replayDeadLetters(pipeline, options))

/**
 * Runs a pipeline and waits for its summary: `start` then `result`.
 *
 * @category accessors
 * @since 0.1.0
 */
export const run = (
  pipeline: Pipeline.Any,
  params: unknown,
  options?: StartOptions
): Effect.Effect<RunSummary, RunError, Runner> =>
  Effect.flatMap(start(pipeline, params, options), (handle) => handle.result)

/**
 * A runner with every store in memory: for tests and throwaway runs.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerMemory = (
  options?: RunnerOptions
): Layer.Layer<Runner | StateStore | RunStore | DeadLetter.DeadLetterStore> =>
  layer(options).pipe(
    Layer.provideMerge(Layer.mergeAll(StateStoreModule.layerMemory, RunStoreModule.layerMemory, DeadLetter.layerMemory))
  )

/**
 * A runner whose state, run history and dead letters live in files under `directory` (the embedded default is
 * `.data-mcp/`): crash-safe, and locked so a second process cannot write the same state.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerFile = (
  storage: { readonly directory: string },
  options?: RunnerOptions
): Layer.Layer<Runner | StateStore | RunStore | DeadLetter.DeadLetterStore, StateError> =>
  layer(options).pipe(
    Layer.provideMerge(
      Layer.mergeAll(
        StateStoreModule.layerFile(storage),
        RunStoreModule.layerFile(storage),
        DeadLetter.layerFile(storage)
      )
    )
  )
