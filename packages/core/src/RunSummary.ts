/**
 * The summary of a run: what it read and wrote, from which checkpoint to which, and which delivery guarantee
 * held. The guarantee is the weakest that applied: `exactly-once` (a transactional sink committed data and
 * checkpoint together), `effectively-once` (an idempotent sink; replays overwrite) or `at-least-once`.
 *
 * @since 0.1.0
 */
import type { Json } from "./Checkpoint.ts"

/**
 * The delivery guarantee of a run.
 *
 * @category models
 * @since 0.1.0
 */
export type Guarantee = "exactly-once" | "effectively-once" | "at-least-once"

/**
 * How a run ended (or that it has not yet).
 *
 * @category models
 * @since 0.1.0
 */
export type RunStatus = "queued" | "running" | "succeeded" | "failed" | "cancelled" | "abandoned"

/**
 * A run's summary. JSON-safe.
 *
 * @category models
 * @since 0.1.0
 */
export interface RunSummary {
  readonly runId: string
  readonly pipeline: string
  readonly version: string
  readonly stateKey: string
  readonly status: RunStatus
  readonly guarantee: Guarantee
  readonly recordsRead: number
  readonly recordsWritten: number
  readonly deadLetters: number
  readonly batches: number
  readonly retries: number
  /** The checkpoint the run started from (`null`: the beginning). */
  readonly checkpointFrom: Json | null
  /** The last checkpoint it saved (`null`: none). */
  readonly checkpointTo: Json | null
  readonly startedAt: string
  readonly finishedAt: string
  readonly durationMs: number
  /** Per stream: records read and written. */
  readonly streams: Readonly<Record<string, { readonly read: number; readonly written: number }>>
  /** For failed runs: the error's tag and message. */
  readonly error?: { readonly _tag: string; readonly message: string; readonly retryable: boolean } | undefined
  /** Lines worth a human's attention (schema changes, budget use). */
  readonly notes: ReadonlyArray<string>
}

/**
 * The guarantee a sink with these capabilities gives.
 *
 * @category utils
 * @since 0.1.0
 */
export const guaranteeOf = (capabilities: {
  readonly transactional: boolean
  readonly idempotent: boolean
}): Guarantee =>
  capabilities.transactional ? "exactly-once" : capabilities.idempotent ? "effectively-once" : "at-least-once"
