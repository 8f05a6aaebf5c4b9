/**
 * Runs started over MCP are detached (DESIGN §7): a call starts a run, waits for it at most `waitSeconds`
 * while reporting progress, and returns the run's id and status. The run belongs to the runner, not to the
 * call: a client abort or disconnect ends the wait, never the run; only `cancel` stops it. A repeated call with
 * the same `idempotencyKey` within 24 hours returns the same run. Every run records its caller, and callers see
 * and cancel only their own runs unless granted `runs:read:any` / `runs:cancel:any`.
 *
 * @since 0.1.0
 */
import { type Config, type Pipeline, Runner, RunStore, type Source, type StateStore } from "@data-mcp/core"
import { Deferred, Effect, Fiber, Stream } from "effect"
import { resume } from "./internal/resume.ts"
import { Forbidden, GuardExceeded, NotFound, RunNotLive } from "./McpError.ts"
import { type Caller, grants } from "./RequestContext.ts"

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
    | GuardExceeded,
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
  /** Cancels a live run the caller may cancel and returns its final record. */
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

const terminal = new Set(["succeeded", "failed", "cancelled", "abandoned"])

/**
 * Whether a run status is final.
 *
 * @category guards
 * @since 0.1.0
 */
export const isFinal = (status: string): boolean => terminal.has(status)

/** Whether the caller may see a run (same tenant, and its own unless granted `any`). */
const mayReach = (caller: Caller, run: RunStore.RunRecord, any: "runs:read:any" | "runs:cancel:any"): boolean =>
  (run.tenant ?? undefined) === (caller.tenant ?? undefined) && (run.caller === caller.subject || grants(caller, any))

/**
 * Makes the detached-run service. Idempotency keys are kept in memory for 24 hours.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (): Runs => {
  const keys = new Map<string, { readonly runId: string; readonly at: number }>()

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
      if (!mayReach(caller, run, "runs:read:any")) return yield* new NotFound({ kind: "run", reference: runId })
      return run
    })

  const start: Runs["start"] = (pipeline, params, caller, options) =>
    Effect.gen(function* () {
      const now = Date.now()
      for (const [k, v] of keys) if (now - v.at > DAY_MS) keys.delete(k)
      const key =
        options?.idempotencyKey === undefined
          ? undefined
          : JSON.stringify([caller.tenant ?? null, caller.subject, pipeline.name, options.idempotencyKey])
      const earlier = key === undefined ? undefined : keys.get(key)
      if (earlier !== undefined) return { runId: earlier.runId, reused: true }
      const plan = yield* resume(pipeline, params, caller.tenant)
      const rows = plan.estimate?.rows
      if (options?.maxRows !== undefined && rows !== undefined && rows > options.maxRows) {
        return yield* new GuardExceeded({ guard: "maxRows", limit: options.maxRows, estimate: rows })
      }
      const bytes = plan.estimate?.bytes
      if (options?.maxBytes !== undefined && bytes !== undefined && bytes > options.maxBytes) {
        return yield* new GuardExceeded({ guard: "maxBytes", limit: options.maxBytes, estimate: bytes })
      }
      const handle = yield* Runner.start(pipeline, params, { caller: caller.subject, tenant: caller.tenant })
      if (key !== undefined) keys.set(key, { runId: handle.id, at: now })
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
      if (!mayReach(caller, run, "runs:cancel:any")) return yield* new NotFound({ kind: "run", reference: runId })
      const handle = yield* Runner.Runner.use((r) => r.handle(runId))
      if (handle === undefined) return yield* new RunNotLive({ runId, status: run.status })
      yield* handle.cancel
      return yield* record(runId)
    })

  const list: Runs["list"] = (caller, query) =>
    Effect.gen(function* () {
      if (!grants(caller, "runs:read")) return yield* new Forbidden({ permission: "runs:read" })
      const page = yield* RunStore.RunStore.use((s) =>
        s.list({
          pipeline: query.pipeline,
          tenant: caller.tenant,
          caller: grants(caller, "runs:read:any") ? undefined : caller.subject,
          limit: query.limit,
          cursor: query.cursor
        })
      )
      // Without a tenant the store does not filter by one: keep only runs outside every tenant.
      return caller.tenant === undefined ? { ...page, runs: page.runs.filter((r) => r.tenant === undefined) } : page
    })

  return { start, wait, get, cancel, list }
}
