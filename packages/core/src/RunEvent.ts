/**
 * What happens during a run, as events: started, each batch written, retries, dead letters, checkpoints
 * saved, schema changes, and how it ended. Events are plain JSON-safe objects: the run store keeps them, the
 * MCP adapter serves them as resources, and `RunHandle.events` streams them live.
 *
 * @since 0.1.0
 */
import type { Json } from "./Checkpoint.ts"
import type { RunSummary } from "./RunSummary.ts"

interface Base {
  readonly runId: string
  /** ISO 8601 time of the event. */
  readonly at: string
}

/**
 * The run holds its lease and starts reading from `checkpoint`.
 *
 * @category models
 * @since 0.1.0
 */
export interface RunStarted extends Base {
  readonly _tag: "RunStarted"
  readonly pipeline: string
  readonly version: string
  readonly stateKey: string
  readonly checkpoint: Json | null
}

/**
 * A batch was written by the sink.
 *
 * @category models
 * @since 0.1.0
 */
export interface BatchWritten extends Base {
  readonly _tag: "BatchWritten"
  readonly stream: string
  readonly seq: number
  /** Records the source read for this batch. */
  readonly read: number
  /** Records the sink wrote. */
  readonly written: number
  /** Records of this batch that became dead letters. */
  readonly deadLetters: number
}

/**
 * A retryable failure; the operation runs again after `delayMs`.
 *
 * @category models
 * @since 0.1.0
 */
export interface RetryScheduled extends Base {
  readonly _tag: "RetryScheduled"
  readonly operation: string
  readonly attempt: number
  readonly delayMs: number
  readonly error: string
}

/**
 * Records were set aside as dead letters (durably, before the checkpoint that passes them).
 *
 * @category models
 * @since 0.1.0
 */
export interface DeadLettered extends Base {
  readonly _tag: "DeadLettered"
  readonly stream: string
  readonly count: number
  /** The distinct reasons, cut to a few. */
  readonly reasons: ReadonlyArray<string>
}

/**
 * A checkpoint was saved: everything before it is durable.
 *
 * @category models
 * @since 0.1.0
 */
export interface CheckpointSaved extends Base {
  readonly _tag: "CheckpointSaved"
  readonly checkpoint: Json
}

/**
 * A stream's schema changed under the pipeline's schema contract, or (with `target`) the sink changed the shape
 * of the table or object it writes the stream to: created it, added or widened columns. `version` counts the
 * contract's snapshots of the stream, or the sink's versions of `target`.
 *
 * @category models
 * @since 0.1.0
 */
export interface SchemaChanged extends Base {
  readonly _tag: "SchemaChanged"
  readonly stream: string
  readonly version: number
  readonly diff: Json
  /** Set when the sink made the change: its target (`public.orders`). */
  readonly target?: string | undefined
}

/**
 * The run ended: succeeded, failed or cancelled; the summary says how much it did.
 *
 * @category models
 * @since 0.1.0
 */
export interface RunEnded extends Base {
  readonly _tag: "RunFinished" | "RunFailed" | "RunCancelled"
  readonly summary: RunSummary
}

/**
 * Any run event.
 *
 * @category models
 * @since 0.1.0
 */
export type RunEvent =
  | RunStarted
  | BatchWritten
  | RetryScheduled
  | DeadLettered
  | CheckpointSaved
  | SchemaChanged
  | RunEnded

/**
 * Whether an event ends the run.
 *
 * @category guards
 * @since 0.1.0
 */
export const isTerminal = (event: RunEvent): event is RunEnded =>
  event._tag === "RunFinished" || event._tag === "RunFailed" || event._tag === "RunCancelled"
