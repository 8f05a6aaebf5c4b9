/**
 * The run store keeps run history: one record per run (who started it, with which params and pipeline
 * version, how it is going or how it ended) and its events. Running runs heartbeat; a run whose heartbeat
 * stopped (its process died) is marked `abandoned`. Old runs and events are purged by retention rules.
 * `layerMemory` and `layerFile` share one implementation, so they behave the same.
 *
 * @since 0.1.0
 */
import { Clock, Context, Effect, Layer, Schema, Semaphore } from "effect"
import type { Json } from "./Checkpoint.ts"
import * as FileStore from "./internal/fileStore.ts"
import { isTerminal, type RunEvent } from "./RunEvent.ts"
import type { Guarantee, RunStatus, RunSummary } from "./RunSummary.ts"
import { StateError } from "./StateStore.ts"

/**
 * One run as the store keeps it. JSON-safe.
 *
 * @category models
 * @since 0.1.0
 */
export interface RunRecord {
  readonly id: string
  readonly pipeline: string
  readonly version: string
  readonly stateKey: string
  readonly status: RunStatus
  /** The decoded params, with `sensitive` fields masked. */
  readonly params: Json
  readonly caller?: string | undefined
  readonly tenant?: string | undefined
  /** The key a caller started it with: a repeat of the call with this key returns this run (MCP adapter). */
  readonly idempotencyKey?: string | undefined
  readonly guarantee: Guarantee
  readonly createdAt: string
  readonly updatedAt: string
  readonly heartbeatAt: string
  readonly finishedAt?: string | undefined
  /**
   * Set by `Runner.requestCancel` (e.g. from another replica sharing the store): the runner that owns the run
   * cancels it at its next heartbeat.
   */
  readonly cancelRequestedAt?: string | undefined
  readonly summary?: RunSummary | undefined
}

/**
 * Which runs to list. Results are newest first; pass `nextCursor` back as `cursor` for the next page.
 *
 * @category models
 * @since 0.1.0
 */
export interface RunQuery {
  readonly pipeline?: string | undefined
  readonly status?: RunStatus | undefined
  readonly caller?: string | undefined
  readonly tenant?: string | undefined
  /** Only the runs started with this idempotency key. */
  readonly idempotencyKey?: string | undefined
  readonly limit?: number | undefined
  readonly cursor?: string | undefined
}

/**
 * A page of runs.
 *
 * @category models
 * @since 0.1.0
 */
export interface RunPage {
  readonly runs: ReadonlyArray<RunRecord>
  readonly nextCursor?: string | undefined
}

/**
 * How long run history is kept.
 *
 * @category models
 * @since 0.1.0
 */
export interface Retention {
  /** Runs older than this are removed (default 90 days). */
  readonly runMaxAgeMs: number
  /** At most this many runs per pipeline are kept, newest first (default 10,000). */
  readonly runsPerPipeline: number
  /** Events older than this are removed (default 7 days). */
  readonly eventMaxAgeMs: number
}

/**
 * The default retention: 90 days / 10,000 runs per pipeline, events 7 days.
 *
 * @category constants
 * @since 0.1.0
 */
export const defaultRetention: Retention = {
  runMaxAgeMs: 90 * 24 * 3600_000,
  runsPerPipeline: 10_000,
  eventMaxAgeMs: 7 * 24 * 3600_000
}

/**
 * What a run store does.
 *
 * @category models
 * @since 0.1.0
 */
export interface RunStoreShape {
  /** Stores a new run; fails if the id exists. */
  readonly create: (run: RunRecord) => Effect.Effect<void, StateError>
  /** Replaces fields of a run; fails with `NotFound` if unknown. Returns the updated run. */
  readonly update: (
    id: string,
    patch: Partial<Omit<RunRecord, "id" | "pipeline" | "createdAt">>
  ) => Effect.Effect<RunRecord, StateError>
  /** The run, or `undefined`. */
  readonly get: (id: string) => Effect.Effect<RunRecord | undefined, StateError>
  /** Runs matching the query, newest first. */
  readonly list: (query: RunQuery) => Effect.Effect<RunPage, StateError>
  /** Appends events to a run's log. */
  readonly appendEvents: (id: string, events: ReadonlyArray<RunEvent>) => Effect.Effect<void, StateError>
  /** A run's events in order, from index `from` (default 0), at most `limit`. */
  readonly events: (
    id: string,
    options?: { readonly from?: number; readonly limit?: number }
  ) => Effect.Effect<ReadonlyArray<RunEvent>, StateError>
  /** Marks `running`/`queued` runs whose heartbeat is older than `staleBefore` (epoch ms) as `abandoned`. */
  readonly markAbandoned: (staleBefore: number) => Effect.Effect<ReadonlyArray<string>, StateError>
  /** Removes runs and events past retention (relative to `now`, epoch ms); returns how many went. */
  readonly purge: (
    retention: Retention,
    now: number
  ) => Effect.Effect<{ readonly runs: number; readonly events: number }, StateError>
}

/**
 * The run store service.
 *
 * @category services
 * @since 0.1.0
 */
export class RunStore extends Context.Service<RunStore, RunStoreShape>()("@data-mcp/core/RunStore") {}

// ---------------------------------------------------------------------------------------------------------------
// One implementation over a storage backend: the runs are indexed in memory, the backend makes them durable.
// ---------------------------------------------------------------------------------------------------------------

interface Backend {
  readonly putRun: (run: RunRecord) => Effect.Effect<void, StateError>
  /** Removes a run and its events. */
  readonly deleteRun: (id: string) => Effect.Effect<void, StateError>
  readonly appendEvents: (id: string, events: ReadonlyArray<RunEvent>, sync: boolean) => Effect.Effect<void, StateError>
  readonly readEvents: (id: string) => Effect.Effect<ReadonlyArray<RunEvent>, StateError>
  readonly replaceEvents: (id: string, events: ReadonlyArray<RunEvent>) => Effect.Effect<void, StateError>
}

const isActive = (status: RunStatus): boolean => status === "running" || status === "queued"

const millis = (iso: string): number => Date.parse(iso)

/** Newest first by `createdAt`, then by `id` (descending). */
const newestFirst = (a: RunRecord, b: RunRecord): number => {
  const ta = millis(a.createdAt) || 0
  const tb = millis(b.createdAt) || 0
  if (ta !== tb) return tb - ta
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0
}

const encodeCursor = (run: RunRecord): string =>
  Buffer.from(JSON.stringify([millis(run.createdAt) || 0, run.id]), "utf8").toString("base64url")

const decodeCursor = (cursor: string): readonly [number, string] | undefined => {
  const text = Buffer.from(cursor, "base64url").toString("utf8")
  if (!text.startsWith("[")) return undefined
  const value: unknown = JSON.parse(text)
  return Array.isArray(value) && value.length === 2 && typeof value[0] === "number" && typeof value[1] === "string"
    ? [value[0], value[1]]
    : undefined
}

const badCursor = (cursor: string) =>
  new StateError({
    reason: "NotFound",
    key: cursor,
    detail: "this cursor was not issued by this run store; pass back the nextCursor of a previous page"
  })

const notFound = (id: string) =>
  new StateError({ reason: "NotFound", key: id, detail: `no run ${id} (never created, or purged by retention)` })

/** A JSON round trip: the memory store keeps exactly what a file store would read back. */
const jsonCopy = <A>(value: A): A => JSON.parse(JSON.stringify(value)) as A

/** A page size: `limit` rounded down and at least 1; 50 if absent or not a number. */
const pageLimit = (limit: number | undefined): number =>
  limit === undefined || Number.isNaN(limit) ? 50 : Math.max(1, Math.floor(limit))

const make = (initial: Iterable<RunRecord>, backend: Backend): RunStoreShape => {
  const runs = new Map<string, RunRecord>()
  for (const run of initial) runs.set(run.id, run)
  const semaphore = Semaphore.makeUnsafe(1)
  const exclusive = semaphore.withPermit
  const existing = (id: string) =>
    Effect.suspend(() => {
      const run = runs.get(id)
      return run === undefined ? Effect.fail(notFound(id)) : Effect.succeed(run)
    })
  const put = (run: RunRecord) =>
    Effect.andThen(
      backend.putRun(run),
      Effect.sync(() => {
        runs.set(run.id, run)
      })
    )

  return {
    create: (run) =>
      exclusive(
        Effect.suspend(() =>
          runs.has(run.id)
            ? Effect.fail(new StateError({ reason: "Conflict", key: run.id, detail: `run ${run.id} already exists` }))
            : put(jsonCopy(run))
        )
      ),
    update: (id, patch) =>
      exclusive(
        Effect.gen(function* () {
          const run = yield* existing(id)
          const updated: RunRecord = jsonCopy({
            ...run,
            ...patch,
            id: run.id,
            pipeline: run.pipeline,
            createdAt: run.createdAt
          })
          yield* put(updated)
          return updated
        })
      ),
    get: (id) => Effect.sync(() => runs.get(id)),
    list: (query) =>
      Effect.gen(function* () {
        const limit = pageLimit(query.limit)
        const matching = [...runs.values()]
          .filter(
            (run) =>
              (query.pipeline === undefined || run.pipeline === query.pipeline) &&
              (query.status === undefined || run.status === query.status) &&
              (query.caller === undefined || run.caller === query.caller) &&
              (query.tenant === undefined || run.tenant === query.tenant) &&
              (query.idempotencyKey === undefined || run.idempotencyKey === query.idempotencyKey)
          )
          .sort(newestFirst)
        let start = 0
        if (query.cursor !== undefined) {
          const cursor = query.cursor
          const after = yield* Effect.try({ try: () => decodeCursor(cursor), catch: () => badCursor(cursor) })
          if (after === undefined) return yield* badCursor(cursor)
          const [createdAt, id] = after
          const index = matching.findIndex((run) => {
            const t = millis(run.createdAt) || 0
            return t < createdAt || (t === createdAt && run.id < id)
          })
          start = index === -1 ? matching.length : index
        }
        const page = matching.slice(start, start + limit)
        const last = page[page.length - 1]
        return start + limit < matching.length && last !== undefined
          ? { runs: page, nextCursor: encodeCursor(last) }
          : { runs: page }
      }),
    appendEvents: (id, events) =>
      exclusive(
        Effect.flatMap(existing(id), () =>
          events.length === 0 ? Effect.void : backend.appendEvents(id, jsonCopy(events), events.some(isTerminal))
        )
      ),
    events: (id, options) =>
      Effect.flatMap(existing(id), () => backend.readEvents(id)).pipe(
        Effect.map((events) => {
          const from = Math.max(0, Math.floor(options?.from ?? 0))
          return options?.limit === undefined
            ? events.slice(from)
            : events.slice(from, from + Math.max(0, options.limit))
        })
      ),
    markAbandoned: (staleBefore) =>
      exclusive(
        Effect.gen(function* () {
          const now = new Date(yield* Clock.currentTimeMillis).toISOString()
          const stale = [...runs.values()].filter(
            (run) => isActive(run.status) && millis(run.heartbeatAt) < staleBefore
          )
          for (const run of stale) {
            yield* put({ ...run, status: "abandoned", updatedAt: now, finishedAt: now })
          }
          return stale.map((run) => run.id)
        })
      ),
    purge: (retention, now) =>
      exclusive(
        Effect.gen(function* () {
          const runCutoff = now - retention.runMaxAgeMs
          const eventCutoff = now - retention.eventMaxAgeMs
          const byPipeline = new Map<string, Array<RunRecord>>()
          for (const run of runs.values()) {
            const group = byPipeline.get(run.pipeline)
            if (group === undefined) byPipeline.set(run.pipeline, [run])
            else group.push(run)
          }
          const victims: Array<RunRecord> = []
          for (const group of byPipeline.values()) {
            group.sort(newestFirst).forEach((run, rank) => {
              if (isActive(run.status)) return
              if (millis(run.createdAt) < runCutoff || rank >= retention.runsPerPipeline) victims.push(run)
            })
          }
          let events = 0
          for (const run of victims) {
            events += (yield* backend.readEvents(run.id)).length
            yield* backend.deleteRun(run.id)
            runs.delete(run.id)
          }
          // Events of live runs stay (their indices are in use); a run created after the cutoff has no older events.
          for (const run of runs.values()) {
            if (isActive(run.status) || !(millis(run.createdAt) < eventCutoff)) continue
            const all = yield* backend.readEvents(run.id)
            const kept = all.filter((event) => !(millis(event.at) < eventCutoff))
            if (kept.length < all.length) {
              yield* backend.replaceEvents(run.id, kept)
              events += all.length - kept.length
            }
          }
          return { runs: victims.length, events }
        })
      )
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Layers
// ---------------------------------------------------------------------------------------------------------------

/**
 * A run store in memory: for tests and processes whose run history may be lost on exit. Same ordering,
 * pagination, abandonment and retention rules as `layerFile`.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerMemory: Layer.Layer<RunStore> = Layer.effect(
  RunStore,
  Effect.sync(() => {
    const events = new Map<string, ReadonlyArray<RunEvent>>()
    return RunStore.of(
      make([], {
        putRun: () => Effect.void,
        deleteRun: (id) => Effect.sync(() => void events.delete(id)),
        appendEvents: (id, appended) =>
          Effect.sync(() => void events.set(id, [...(events.get(id) ?? []), ...appended])),
        readEvents: (id) => Effect.sync(() => events.get(id) ?? []),
        replaceEvents: (id, kept) =>
          Effect.sync(() => void (kept.length === 0 ? events.delete(id) : events.set(id, kept)))
      })
    )
  })
)

const RunRecordFile = Schema.Struct({
  id: Schema.String,
  pipeline: Schema.String,
  version: Schema.String,
  stateKey: Schema.String,
  status: Schema.Literals(["queued", "running", "succeeded", "failed", "cancelled", "abandoned"]),
  guarantee: Schema.Literals(["exactly-once", "effectively-once", "at-least-once"]),
  createdAt: Schema.String,
  updatedAt: Schema.String,
  heartbeatAt: Schema.String
})

const RunEventLine = Schema.Struct({ _tag: Schema.String, runId: Schema.String, at: Schema.String })

const loadRuns = (dir: string) =>
  Effect.flatMap(FileStore.listDir(dir), (names) =>
    Effect.forEach(
      names.filter((name) => name.endsWith(".json")),
      (name) => {
        const file = FileStore.join(dir, name)
        return Effect.flatMap(FileStore.readJson(file), (value) => {
          if (!Schema.is(RunRecordFile)(value)) return Effect.fail(FileStore.corrupt(file, "not a run record"))
          if (`${FileStore.safeName(value.id)}.json` !== name) {
            return Effect.fail(FileStore.corrupt(file, `it holds run ${value.id}, which belongs in another file`))
          }
          return Effect.succeed(value as RunRecord)
        })
      },
      { concurrency: 16 }
    )
  )

/**
 * A run store in files under `directory` (the embedded default is `.data-mcp/`), with `runs.lock` keeping any
 * other process (or a second layer in this one) out.
 *
 * **Details**
 *
 * - `runs/<name>.json`: one run record, replaced crash-safely (temp file, fsync, rename, fsync of the
 *   directory) on every change. All records are read when the layer is built and indexed in memory.
 * - `events/<name>.jsonl`: the run's events, one per line, appended; fsynced when a batch holds a terminal
 *   event (`RunFinished`, `RunFailed`, `RunCancelled`), so a finished run's log is on disk.
 * - `<name>` is a readable prefix of the run id plus its sha256. A corrupt file fails with `StateError` `Io`
 *   naming it (when the layer is built, or when its events are read); it is never reset.
 * - `purge` never removes a `running` or `queued` run, nor events of one.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerFile = (options: { readonly directory: string }): Layer.Layer<RunStore, StateError> =>
  Layer.effect(
    RunStore,
    Effect.gen(function* () {
      yield* FileStore.lock(options.directory, "runs")
      const runsDir = FileStore.join(options.directory, "runs")
      const eventsDir = FileStore.join(options.directory, "events")
      yield* FileStore.ensureDir(runsDir)
      yield* FileStore.ensureDir(eventsDir)
      yield* FileStore.sweepTemp(runsDir)
      yield* FileStore.sweepTemp(eventsDir)
      const runFile = (id: string) => FileStore.join(runsDir, `${FileStore.safeName(id)}.json`)
      const eventsFile = (id: string) => FileStore.join(eventsDir, `${FileStore.safeName(id)}.jsonl`)
      const initial = yield* loadRuns(runsDir)
      return RunStore.of(
        make(initial, {
          putRun: (run) => FileStore.atomicWrite(runFile(run.id), `${JSON.stringify(run)}\n`),
          deleteRun: (id) => Effect.andThen(FileStore.removeFile(eventsFile(id)), FileStore.removeFile(runFile(id))),
          appendEvents: (id, events, sync) =>
            Effect.asVoid(
              FileStore.appendLines(
                eventsFile(id),
                events.map((event) => JSON.stringify(event)),
                { sync }
              )
            ),
          readEvents: (id) => {
            const file = eventsFile(id)
            return Effect.flatMap(FileStore.readLines(file), (lines) =>
              Effect.forEach(lines, (line, i) =>
                Schema.is(RunEventLine)(line.value)
                  ? Effect.succeed(line.value as RunEvent)
                  : Effect.fail(FileStore.corrupt(file, `line ${i + 1} is not a run event`))
              )
            )
          },
          replaceEvents: (id, events) =>
            events.length === 0
              ? FileStore.removeFile(eventsFile(id))
              : FileStore.atomicWrite(eventsFile(id), events.map((event) => `${JSON.stringify(event)}\n`).join(""))
        })
      )
    })
  )
