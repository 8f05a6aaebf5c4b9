/**
 * The run store keeps run history: one record per run (who started it, with which params and pipeline
 * version, how it is going or how it ended) and its events. Running runs heartbeat; a run whose heartbeat
 * stopped (its process died) is marked `abandoned`. Old runs and events are purged by retention rules.
 *
 * @since 0.1.0
 */
import { Context, type Effect } from "effect"
import type { Json } from "./Checkpoint.ts"
import type { RunEvent } from "./RunEvent.ts"
import type { Guarantee, RunStatus, RunSummary } from "./RunSummary.ts"
import type { StateError } from "./StateStore.ts"

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
  readonly guarantee: Guarantee
  readonly createdAt: string
  readonly updatedAt: string
  readonly heartbeatAt: string
  readonly finishedAt?: string | undefined
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
