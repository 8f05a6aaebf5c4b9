/**
 * The scheduler starts pipelines on their cron schedule (`options.schedule`). Each scheduled pipeline has its
 * own loop: it sleeps until the next tick (computed in the pipeline's time zone, UTC by default), starts a run
 * through the `Runner`, and goes back to sleep without waiting for the run. It never starts a second run of a
 * pipeline while its previous scheduled run is live (that tick is recorded as `skipped-overlap`), and a tick
 * whose start fails with `RunConflict` (another caller or replica holds the state key) is recorded as
 * `skipped-conflict`.
 *
 * Ticks missed because the process was down or blocked (the loop wakes up more than `toleranceMs` after a tick)
 * are handled by the schedule's `misfire` policy: `skip` (default) drops them and waits for the next tick,
 * `once` starts one catch-up run at once and then resumes. Time zones and daylight saving time follow
 * Effect's `Cron` module: a local time that does not exist (spring forward) fires once, shifted forward by the
 * length of the gap (02:30 becomes 03:30 in `Europe/Berlin` on 2026-03-29); a local time that occurs twice
 * (fall back) fires once, at its first occurrence.
 *
 * All timing goes through Effect's `Clock`, so `TestClock` drives it in tests.
 *
 * @since 0.1.0
 */
import { Clock, Context, Cron, DateTime, Effect, Exit, Fiber, Layer, Option, Result, type Scope } from "effect"
import { ConfigError } from "./Config.ts"
import * as Pipeline from "./Pipeline.ts"
import type { PipelineSet } from "./PipelineSet.ts"
import * as Runner from "./Runner.ts"

/**
 * One scheduled pipeline: the pipeline (with `options.schedule`), the fixed params of its scheduled runs
 * (default `{}`) and, optionally, when it was last handled before this process started.
 *
 * @category models
 * @since 0.1.0
 */
export interface Entry {
  readonly pipeline: Pipeline.Any
  /** The params of every scheduled run (validated when the scheduler is built). Default `{}`. */
  readonly params?: unknown
  /**
   * The last tick handled before this process started (e.g. the start of the pipeline's last scheduled run in
   * the run store). Ticks after it that are already past at start-up are missed ticks, handled by `misfire`.
   * Without it, the scheduler starts from "now" and nothing counts as missed at start-up.
   */
  readonly since?: Date | undefined
  /** Extra options of the scheduled runs (`caller` defaults to `"scheduler"`; conflicts always reject). */
  readonly startOptions?: Omit<Runner.StartOptions, "onConflict"> | undefined
}

/**
 * What the scheduler did at a tick.
 *
 * - `started`: a run was started on time.
 * - `catch-up`: a run was started late for missed ticks (`misfire: "once"`).
 * - `skipped-overlap`: the previous scheduled run of the pipeline was still live.
 * - `skipped-conflict`: `Runner.start` failed with `RunConflict` (someone else runs the state key).
 * - `skipped-misfire`: ticks missed while the process was down or blocked were dropped (`misfire: "skip"`).
 * - `start-failed`: `Runner.start` failed otherwise (admission limits, state store); `detail` says why.
 *
 * @category models
 * @since 0.1.0
 */
export type Outcome =
  | "started"
  | "catch-up"
  | "skipped-overlap"
  | "skipped-conflict"
  | "skipped-misfire"
  | "start-failed"

/**
 * One line of the scheduler's history.
 *
 * @category models
 * @since 0.1.0
 */
export interface Firing {
  readonly pipeline: string
  /** The tick (its scheduled instant); for `skipped-misfire` the first missed tick, for `catch-up` the last. */
  readonly at: Date
  /** When the scheduler handled it. */
  readonly handledAt: Date
  readonly outcome: Outcome
  /** The started run (`started`, `catch-up`) or the live run that held the state key (`skipped-conflict`). */
  readonly runId?: string | undefined
  /** How many ticks were missed (`skipped-misfire`, `catch-up`); counting stops at 10,000. */
  readonly missed?: number | undefined
  /** Why the start failed (`start-failed`). */
  readonly detail?: string | undefined
}

/**
 * The part of a run handle the scheduler needs: its id and its completion.
 *
 * @category models
 * @since 0.1.0
 */
export interface StartedRun {
  readonly id: string
  readonly result: Effect.Effect<unknown, unknown>
}

/**
 * How the scheduler starts a run: `Runner.start` by default. Tests may pass a fake.
 *
 * @category models
 * @since 0.1.0
 */
export type Starter = (
  pipeline: Pipeline.Any,
  params: unknown,
  options: Runner.StartOptions
) => Effect.Effect<StartedRun, unknown>

/**
 * Scheduler options.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /**
   * How late a tick may be handled and still count as on time, in ms (default 60,000, like Quartz's misfire
   * threshold). Later ticks are misfires.
   */
  readonly toleranceMs?: number | undefined
  /** How many firings `history` keeps, newest last (default 1,000). */
  readonly historySize?: number | undefined
}

/**
 * What the scheduler offers.
 *
 * @category models
 * @since 0.1.0
 */
export interface SchedulerShape {
  /** The names of the scheduled pipelines. */
  readonly pipelines: ReadonlyArray<string>
  /** The next tick of a pipeline; `undefined` for an unknown pipeline, a schedule with no more ticks, or after `stop`. */
  readonly next: (pipeline: string) => Effect.Effect<Date | undefined>
  /** Whether the last run the scheduler started for this pipeline is still live. */
  readonly running: (pipeline: string) => Effect.Effect<boolean>
  /** The latest firings, oldest first (bounded by `historySize`). */
  readonly history: Effect.Effect<ReadonlyArray<Firing>>
  /** Stops scheduling. Runs already started go on. */
  readonly stop: Effect.Effect<void>
}

/**
 * The scheduler service.
 *
 * @category services
 * @since 0.1.0
 */
export class Scheduler extends Context.Service<Scheduler, SchedulerShape>()("@data-mcp/core/Scheduler") {}

const DEFAULTS = { toleranceMs: 60_000, historySize: 1000 }
const MAX_COUNTED_TICKS = 10_000

interface Plan {
  readonly entry: Entry
  readonly cron: Cron.Cron
  readonly misfire: "skip" | "once"
}

interface LoopState {
  next: number | undefined
  running: boolean
}

/** The next tick strictly after `after`, or `undefined` when the expression never matches again. */
const nextTick = (cron: Cron.Cron, after: number): number | undefined => {
  try {
    return Cron.next(cron, new Date(after)).getTime()
  } catch {
    return undefined
  }
}

const isEntry = (u: Entry | Pipeline.Any): u is Entry => "pipeline" in u && !("source" in u)

const entriesOf = (
  input: ReadonlyArray<Entry | Pipeline.Any> | PipelineSet
): ReadonlyArray<{ readonly entry: Entry; readonly explicit: boolean }> => {
  const list: ReadonlyArray<Entry | Pipeline.Any> = "pipelines" in input ? input.pipelines : input
  return list.map((item) =>
    isEntry(item) ? { entry: item, explicit: true } : { entry: { pipeline: item }, explicit: false }
  )
}

const planOf = (entry: Entry, now: number): Effect.Effect<Plan, ConfigError> =>
  Effect.gen(function* () {
    const { pipeline } = entry
    const component = `pipeline ${pipeline.name}`
    const schedule = pipeline.options.schedule
    if (schedule === undefined) {
      return yield* new ConfigError({ component, path: "options.schedule", detail: "the pipeline has no schedule" })
    }
    const zoneName = schedule.timeZone ?? "UTC"
    const zone = DateTime.zoneFromString(zoneName)
    if (Option.isNone(zone)) {
      return yield* new ConfigError({
        component,
        path: "options.schedule.timeZone",
        detail: "expected an IANA time zone (e.g. Europe/Berlin) or a fixed offset (e.g. +02:00)"
      })
    }
    const parsed = Cron.parse(schedule.cron, zone.value)
    if (Result.isFailure(parsed)) {
      return yield* new ConfigError({
        component,
        path: "options.schedule.cron",
        detail: `expected a cron expression of 5 or 6 fields: ${parsed.failure.message}`
      })
    }
    if (nextTick(parsed.success, now) === undefined) {
      return yield* new ConfigError({
        component,
        path: "options.schedule.cron",
        detail: "the expression never matches a date"
      })
    }
    yield* Pipeline.decodeParams(pipeline, entry.params ?? {})
    return { entry, cron: parsed.success, misfire: schedule.misfire ?? "skip" }
  })

const runnerStarter = (runner: Runner.RunnerShape): Starter => runner.start

const isRunConflict = (u: unknown): u is Runner.RunConflict =>
  typeof u === "object" && u !== null && "_tag" in u && u._tag === "RunConflict"

const describe = (u: unknown): string =>
  u instanceof Error ? u.message : typeof u === "object" && u !== null && "_tag" in u ? String(u._tag) : String(u)

/**
 * Builds a scheduler that starts runs with `start` (use {@link make} for the `Runner` in context). The
 * scheduling loops are forked in the current scope and stop when it closes.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeWith = (
  start: Starter,
  entries: ReadonlyArray<Entry | Pipeline.Any> | PipelineSet,
  options?: Options
): Effect.Effect<SchedulerShape, ConfigError, Scope.Scope> =>
  Effect.gen(function* () {
    const toleranceMs = options?.toleranceMs ?? DEFAULTS.toleranceMs
    const historySize = Math.max(1, options?.historySize ?? DEFAULTS.historySize)
    const startedAt = yield* Clock.currentTimeMillis
    const plans: Array<Plan> = []
    const names = new Set<string>()
    for (const { entry, explicit } of entriesOf(entries)) {
      if (!explicit && entry.pipeline.options.schedule === undefined) continue
      if (names.has(entry.pipeline.name)) {
        return yield* new ConfigError({
          component: "scheduler",
          path: entry.pipeline.name,
          detail: "the pipeline is scheduled twice"
        })
      }
      names.add(entry.pipeline.name)
      plans.push(yield* planOf(entry, startedAt))
    }

    const scope = yield* Effect.scope
    const history: Array<Firing> = []
    const states = new Map<string, LoopState>()
    let stopped = false

    const record = (firing: Omit<Firing, "handledAt">) =>
      Effect.gen(function* () {
        const handledAt = new Date(yield* Clock.currentTimeMillis)
        history.push({ ...firing, handledAt })
        if (history.length > historySize) history.splice(0, history.length - historySize)
        const log = firing.outcome === "started" || firing.outcome === "catch-up" ? Effect.logInfo : Effect.logWarning
        yield* log(`scheduled tick: ${firing.outcome}`, {
          at: firing.at.toISOString(),
          runId: firing.runId,
          missed: firing.missed,
          detail: firing.detail
        })
      })

    const fire = (plan: Plan, state: LoopState, at: number, outcome: "started" | "catch-up", missed?: number) =>
      Effect.gen(function* () {
        const { pipeline } = plan.entry
        const base = { pipeline: pipeline.name, at: new Date(at), ...(missed === undefined ? {} : { missed }) }
        if (state.running) return yield* record({ ...base, outcome: "skipped-overlap" })
        const started = yield* Effect.exit(
          start(pipeline, plan.entry.params ?? {}, {
            caller: "scheduler",
            ...plan.entry.startOptions,
            onConflict: "reject"
          })
        )
        if (Exit.isFailure(started)) {
          const error = Exit.findErrorOption(started)
          if (Option.isSome(error) && isRunConflict(error.value)) {
            return yield* record({ ...base, outcome: "skipped-conflict", runId: error.value.runId })
          }
          return yield* record({
            ...base,
            outcome: "start-failed",
            detail: Option.isSome(error) ? describe(error.value) : "the start was interrupted or died"
          })
        }
        const run = started.value
        state.running = true
        yield* Effect.forkIn(
          Effect.ensuring(
            Effect.exit(run.result),
            Effect.sync(() => {
              state.running = false
            })
          ),
          scope,
          { startImmediately: true }
        )
        yield* record({ ...base, outcome, runId: run.id })
      })

    // Handles the ticks that are due at `now`: the latest on-time tick fires; older ones are misfires.
    const handleDue = (plan: Plan, state: LoopState, due: ReadonlyArray<number>, now: number, truncated: boolean) =>
      Effect.gen(function* () {
        const late = due.filter((t) => now - t > toleranceMs)
        const onTime = due.filter((t) => now - t <= toleranceMs)
        const missed = late.length + (truncated ? 1 : 0)
        const name = plan.entry.pipeline.name
        if (onTime.length > 0) {
          if (late.length > 0) {
            yield* record({ pipeline: name, at: new Date(late[0]!), outcome: "skipped-misfire", missed })
          }
          return yield* fire(plan, state, onTime[onTime.length - 1]!, "started")
        }
        if (plan.misfire === "once") return yield* fire(plan, state, late[late.length - 1]!, "catch-up", missed)
        yield* record({ pipeline: name, at: new Date(late[0]!), outcome: "skipped-misfire", missed })
      })

    const loop = (plan: Plan, state: LoopState, from: number) =>
      Effect.gen(function* () {
        let last = from
        while (true) {
          const next = nextTick(plan.cron, last)
          state.next = next
          if (next === undefined) return
          let now = yield* Clock.currentTimeMillis
          // The clock may move backwards (or a sleep end early): sleep again until the tick.
          while (now < next) {
            yield* Effect.sleep(next - now)
            now = yield* Clock.currentTimeMillis
          }
          const due = [next]
          let truncated = false
          for (let t = nextTick(plan.cron, next); t !== undefined && t <= now; t = nextTick(plan.cron, t)) {
            if (due.length >= MAX_COUNTED_TICKS) {
              truncated = true
              break
            }
            due.push(t)
          }
          if (truncated) {
            // Too many missed ticks to count: the last one before `now` stands for the rest.
            const previous = Cron.prev(plan.cron, new Date(now + 1)).getTime()
            due.push(previous)
          }
          last = due[due.length - 1]!
          yield* handleDue(plan, state, due, now, truncated)
        }
      }).pipe(Effect.annotateLogs({ pipeline: plan.entry.pipeline.name, scheduler: true }))

    const fibers: Array<Fiber.Fiber<void>> = []
    for (const plan of plans) {
      // A tick at the very instant the scheduler starts fires; `since` resumes after the last handled tick.
      const from = plan.entry.since === undefined ? startedAt - 1 : plan.entry.since.getTime()
      const state: LoopState = { next: nextTick(plan.cron, from), running: false }
      states.set(plan.entry.pipeline.name, state)
      fibers.push(yield* Effect.forkIn(loop(plan, state, from), scope, { startImmediately: true }))
    }

    const stop = Effect.suspend(() => {
      stopped = true
      for (const state of states.values()) state.next = undefined
      return Fiber.interruptAll(fibers)
    })

    return {
      pipelines: plans.map((plan) => plan.entry.pipeline.name),
      next: (pipeline) =>
        Effect.sync(() => {
          const next = stopped ? undefined : states.get(pipeline)?.next
          return next === undefined ? undefined : new Date(next)
        }),
      running: (pipeline) => Effect.sync(() => states.get(pipeline)?.running ?? false),
      history: Effect.sync(() => [...history]),
      stop
    }
  })

/**
 * Builds a scheduler over the `Runner` in context and forks its loops in the current scope. Pipelines of a
 * `PipelineSet` (or bare pipelines) without `options.schedule` are left out; an explicit `Entry` without one, a
 * bad cron expression or time zone, bad params or a pipeline listed twice fail at once with a `ConfigError`
 * naming the field (`options.schedule.cron`, `options.schedule.timeZone`).
 *
 * **Example** (Schedule a pipeline every five minutes)
 *
 * ```ts
 * import { Runner, Scheduler } from "@data-mcp/core"
 * import { Effect } from "effect"
 * declare const orders: import("@data-mcp/core").Pipeline.Any // options.schedule: { cron: "*\/5 * * * *" }
 *
 * const program = Effect.gen(function* () {
 *   const scheduler = yield* Scheduler.make([{ pipeline: orders, params: { region: "eu" } }])
 *   console.log(yield* scheduler.next(orders.name))
 *   yield* Effect.never
 * }).pipe(Effect.scoped, Effect.provide(Runner.layerMemory()))
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (
  entries: ReadonlyArray<Entry | Pipeline.Any> | PipelineSet,
  options?: Options
): Effect.Effect<SchedulerShape, ConfigError, Runner.Runner | Scope.Scope> =>
  Effect.gen(function* () {
    const runner = yield* Runner.Runner
    return yield* makeWith(runnerStarter(runner), entries, options)
  })

/**
 * The scheduler as a layer over the `Runner`; its loops stop when the layer is released.
 *
 * **Example** (A scheduler next to the runner)
 *
 * ```ts
 * import { Runner, Scheduler } from "@data-mcp/core"
 * import { Layer } from "effect"
 * declare const set: import("@data-mcp/core").PipelineSet.PipelineSet
 *
 * const live = Scheduler.layer(set).pipe(Layer.provideMerge(Runner.layerMemory()))
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (
  entries: ReadonlyArray<Entry | Pipeline.Any> | PipelineSet,
  options?: Options
): Layer.Layer<Scheduler, ConfigError, Runner.Runner> =>
  Layer.effect(Scheduler, Effect.map(make(entries, options), Scheduler.of))
