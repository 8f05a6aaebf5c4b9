/**
 * Runs started over MCP are detached (DESIGN §7): a call starts a run, waits for it at most `waitSeconds`
 * while reporting progress, and returns the run's id and status. The run belongs to the runner, not to the
 * call: a client abort or disconnect ends the wait, never the run; only `cancel` stops it. A repeated call with
 * the same `idempotencyKey` within 24 hours returns the same run. Cancelling works across replicas that share the
 * stores (through the run store). Every run records its caller, and callers see
 * and cancel only their own runs unless granted `runs:read:any` / `runs:cancel:any`.
 *
 * @since 0.1.0
 */
import {
  type Config,
  type Pipeline,
  type RunEvent,
  Runner,
  RunStore,
  type Source,
  type StateStore
} from "@data-mcp/core"
import { Deferred, Effect, Fiber, Option, Schedule, Semaphore, Stream } from "effect"
import { bind } from "./internal/bound.ts"
import { resume } from "./internal/resume.ts"
import { Forbidden, GuardExceeded, type InvalidInput, type MissingClaim, NotFound, RunNotLive } from "./McpError.ts"
import { type Caller, grants, roleGrants } from "./RequestContext.ts"

/**
 * Progress of a run while a call waits for it.
 *
 * @category models
 * @since 0.1.0
 */
export interface Progress {
  /** Records read so far. */
  readonly progress: number
  /** The estimated total, when the source can tell. */
  readonly total?: number | undefined
  readonly message: string
}

/**
 * How long and how to wait.
 *
 * @category models
 * @since 0.1.0
 */
export interface WaitOptions {
  /** Seconds to wait at most (0: do not wait). */
  readonly waitSeconds: number
  /** Ends the wait (never the run) when aborted. */
  readonly signal?: AbortSignal | undefined
  /** Called on every batch written while waiting. */
  readonly onProgress?: ((progress: Progress) => Promise<void>) | undefined
}

/**
 * Options of `start`.
 *
 * @category models
 * @since 0.1.0
 */
export interface StartOptions {
  /** A repeat with the same key (same caller and tenant) within 24 h returns the same run. */
  readonly idempotencyKey?: string | undefined
  /** Refuse to start when the source estimates more rows than this. */
  readonly maxRows?: number | undefined
  /** Refuse to start when the source estimates more bytes than this. */
  readonly maxBytes?: number | undefined
}

/**
 * The detached-run service shape.
 *
 * @category models
 * @since 0.1.0
 */
export interface Runs {
  /** Starts a run for the caller (or returns the run of an earlier call with the same idempotency key). */
  readonly start: (
    pipeline: Pipeline.Any,
    params: unknown,
    caller: Caller,
    options?: StartOptions
  ) => Effect.Effect<
    { readonly runId: string; readonly reused: boolean; readonly total?: number | undefined },
    | Runner.RunConflict
    | Runner.RunRejected
    | Config.ConfigError
    | StateStore.StateError
    | Source.SourceError
    | GuardExceeded
    | InvalidInput
    | MissingClaim,
    Runner.Runner | RunStore.RunStore | StateStore.StateStore
  >
  /** Waits for a run up to `waitSeconds` and returns its record as it is then. */
  readonly wait: (
    runId: string,
    options: WaitOptions
  ) => Effect.Effect<RunStore.RunRecord, NotFound | StateStore.StateError, Runner.Runner | RunStore.RunStore>
  /** A run the caller may read (`runs:read`, and `runs:read:any` for other callers' runs). */
  readonly get: (
    caller: Caller,
    runId: string
  ) => Effect.Effect<RunStore.RunRecord, NotFound | Forbidden | StateStore.StateError, RunStore.RunStore>
  /**
   * Cancels a live run the caller may cancel and returns its final record. A run another process owns (a replica
   * sharing the stores) is cancelled through the run store: its runner stops it at its next heartbeat; the record
   * returned may still be `running` (with `cancelRequestedAt`) if that takes longer than 15 s.
   */
  readonly cancel: (
    caller: Caller,
    runId: string
  ) => Effect.Effect<
    RunStore.RunRecord,
    NotFound | Forbidden | RunNotLive | StateStore.StateError,
    Runner.Runner | RunStore.RunStore
  >
  /** The caller's runs (everyone's in its tenant with `runs:read:any`), newest first. */
  readonly list: (
    caller: Caller,
    query: { readonly pipeline?: string | undefined; readonly limit: number; readonly cursor?: string | undefined }
  ) => Effect.Effect<RunStore.RunPage, Forbidden | StateStore.StateError, RunStore.RunStore>
}

const DAY_MS = 24 * 3600_000

// How long cancel_run waits for another process to stop a run it owns (its heartbeat is a third of the lease TTL,
// 10 s by default); after that it answers with the run still running and its cancel requested.
const remoteCancelWaitMs = 15_000

const terminal = new Set(["succeeded", "failed", "cancelled", "abandoned"])

/**
 * Whether a run status is final.
 *
 * @category guards
 * @since 0.1.0
 */
export const isFinal = (status: string): boolean => terminal.has(status)

/**
 * Whether the caller may see a run: same tenant, a pipeline its roles let it read runs of, and its own run unless
 * granted `any` (for that pipeline).
 */
const mayReach = (
  caller: Caller,
  run: RunStore.RunRecord,
  own: "runs:read" | "runs:cancel",
  any: "runs:read:any" | "runs:cancel:any"
): boolean =>
  (run.tenant ?? undefined) === (caller.tenant ?? undefined) &&
  grants(caller, own, run.pipeline) &&
  (run.caller === caller.subject || grants(caller, any, run.pipeline))

/**
 * Makes the detached-run service. Idempotency keys are recorded with the runs they started (in the run store, so
 * a retry finds its run after a restart, or on another replica sharing the store) and honoured for 24 hours.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (options?: {
  /** Sees every event of the runs started here (metrics). */
  readonly onRunEvent?: ((event: RunEvent.RunEvent, pipeline: string) => void) | undefined
}): Runs => {
  const onRunEvent = options?.onRunEvent
  // Starts with a key, one at a time in this process: a retry racing its first call finds the first call's run.
  const keyed = Semaphore.makeUnsafe(1)

  // The caller's run of `key` for this pipeline, started less than 24 hours ago.
  const runOfKey = (pipeline: Pipeline.Any, caller: Caller, key: string) =>
    Effect.map(
      RunStore.RunStore.use((s) =>
        s.list({
          pipeline: pipeline.name,
          caller: caller.subject,
          tenant: caller.tenant,
          idempotencyKey: key,
          limit: 10
        })
      ),
      (page) =>
        page.runs.find(
          (run) =>
            (run.tenant ?? undefined) === (caller.tenant ?? undefined) &&
            Date.now() - Date.parse(run.createdAt) <= DAY_MS
        )
    )

  const record = (runId: string) =>
    Effect.flatMap(
      RunStore.RunStore.use((s) => s.get(runId)),
      (run) => (run === undefined ? Effect.fail(new NotFound({ kind: "run", reference: runId })) : Effect.succeed(run))
    )

  const get: Runs["get"] = (caller, runId) =>
    Effect.gen(function* () {
      if (!grants(caller, "runs:read")) return yield* new Forbidden({ permission: "runs:read" })
      const run = yield* record(runId)
      // A run the caller may not reach is reported as absent: it never learns that it exists.
      if (!mayReach(caller, run, "runs:read", "runs:read:any"))
        return yield* new NotFound({ kind: "run", reference: runId })
      return run
    })

  const start: Runs["start"] = (pipeline, params, caller, options) => {
    const key = options?.idempotencyKey
    if (key === undefined) return startNew(pipeline, params, caller, options)
    return keyed.withPermits(1)(
      Effect.flatMap(runOfKey(pipeline, caller, key), (earlier) =>
        earlier === undefined
          ? startNew(pipeline, params, caller, options)
          : Effect.succeed({ runId: earlier.id, reused: true })
      )
    )
  }

  const startNew: Runs["start"] = (pipeline, given, caller, options) =>
    Effect.gen(function* () {
      const { params, bound } = yield* bind(pipeline, caller, given)
      const plan = yield* resume(pipeline, params, caller.tenant, bound)
      // A guard needs the estimate: without one (the source cannot tell now) the run does not start.
      if ((options?.maxRows !== undefined || options?.maxBytes !== undefined) && plan.estimateError !== undefined)
        return yield* plan.estimateError
      const rows = plan.estimate?.rows
      if (options?.maxRows !== undefined && rows !== undefined && rows > options.maxRows) {
        return yield* new GuardExceeded({ guard: "maxRows", limit: options.maxRows, estimate: rows })
      }
      const bytes = plan.estimate?.bytes
      if (options?.maxBytes !== undefined && bytes !== undefined && bytes > options.maxBytes) {
        return yield* new GuardExceeded({ guard: "maxBytes", limit: options.maxBytes, estimate: bytes })
      }
      const handle = yield* Runner.start(pipeline, params, {
        caller: caller.subject,
        tenant: caller.tenant,
        bound,
        idempotencyKey: options?.idempotencyKey
      })
      // The run's events (replayed from its start to a late subscriber), until its terminal one.
      if (onRunEvent !== undefined)
        yield* Stream.runForEach(handle.events, (event) => Effect.sync(() => onRunEvent(event, pipeline.name))).pipe(
          Effect.forkDetach
        )
      return { runId: handle.id, reused: false, total: rows }
    })

  const wait: Runs["wait"] = (runId, options) =>
    Effect.gen(function* () {
      const handle = yield* Runner.Runner.use((r) => r.handle(runId))
      if (handle !== undefined && options.waitSeconds > 0) {
        const stop = yield* Deferred.make<void>()
        const onAbort = () => Deferred.doneUnsafe(stop, Effect.void)
        if (options.signal?.aborted === true) onAbort()
        options.signal?.addEventListener("abort", onAbort, { once: true })
        let read = 0
        const progress =
          options.onProgress === undefined
            ? undefined
            : yield* Stream.runForEach(handle.events, (event) =>
                event._tag === "BatchWritten"
                  ? Effect.promise(() => {
                      read += event.read
                      return options.onProgress!({
                        progress: read,
                        message: `batch ${event.seq}: read ${event.read}, wrote ${event.written}`
                      }).catch(() => undefined)
                    })
                  : Effect.void
              ).pipe(Effect.forkChild({ startImmediately: true }))
        // The run's own failure is in its record; the wait only ends.
        yield* Effect.raceFirst(Effect.ignore(handle.result), Deferred.await(stop)).pipe(
          Effect.timeoutOption(options.waitSeconds * 1000),
          Effect.ensuring(
            Effect.sync(() => options.signal?.removeEventListener("abort", onAbort)).pipe(
              Effect.andThen(progress === undefined ? Effect.void : Fiber.interrupt(progress))
            )
          )
        )
      }
      return yield* record(runId)
    })

  const cancel: Runs["cancel"] = (caller, runId) =>
    Effect.gen(function* () {
      if (!grants(caller, "runs:cancel")) return yield* new Forbidden({ permission: "runs:cancel" })
      const run = yield* record(runId)
      if (!mayReach(caller, run, "runs:cancel", "runs:cancel:any"))
        return yield* new NotFound({ kind: "run", reference: runId })
      const handle = yield* Runner.Runner.use((r) => r.handle(runId))
      if (handle !== undefined) {
        yield* handle.cancel
        return yield* record(runId)
      }
      if (isFinal(run.status)) return yield* new RunNotLive({ runId, status: run.status })
      // Another process owns the run (a replica sharing the stores): ask through the run store, then wait a while
      // for its runner to stop it at its next heartbeat.
      yield* Runner.requestCancel(runId)
      return yield* record(runId).pipe(
        Effect.repeat({ schedule: Schedule.spaced("100 millis"), until: (r) => isFinal(r.status) }),
        Effect.timeoutOption(remoteCancelWaitMs),
        Effect.flatMap((ended) => (Option.isSome(ended) ? Effect.succeed(ended.value) : record(runId)))
      )
    })

  const list: Runs["list"] = (caller, query) =>
    Effect.gen(function* () {
      if (!grants(caller, "runs:read")) return yield* new Forbidden({ permission: "runs:read" })
      const page = yield* RunStore.RunStore.use((s) =>
        s.list({
          pipeline: query.pipeline,
          tenant: caller.tenant,
          caller: roleGrants(caller, "runs:read:any") ? undefined : caller.subject,
          limit: query.limit,
          cursor: query.cursor
        })
      )
      // Only the runs this caller may reach (pipeline patterns; without a tenant the store does not filter by one,
      // so runs of every tenant are dropped here). A page may come out shorter than `limit`; its cursor still holds.
      return { ...page, runs: page.runs.filter((r) => mayReach(caller, r, "runs:read", "runs:read:any")) }
    })

  return { start, wait, get, cancel, list }
}
