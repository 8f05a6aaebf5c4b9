/**
 * A dead letter is a record the pipeline could not process — it failed validation, a transform threw, the
 * sink refused it — kept with its reason so nothing is lost. Dead letters are durable before the checkpoint
 * that passes them, count against the run's budget, expire after a TTL and can be replayed through the
 * pipeline's current version.
 *
 * @since 0.1.0
 */
import { Context, type Effect, Schema } from "effect"
import type { Json } from "./Checkpoint.ts"
import * as LosslessJson from "./internal/losslessJson.ts"
import type { StateError } from "./StateStore.ts"

/**
 * Where in the pipeline the record failed.
 *
 * @category models
 * @since 0.1.0
 */
export type Stage = "source" | "transform" | "sink"

/**
 * A record set aside, with why. `record` is the record in lossless JSON form (see `encodeRecord`).
 *
 * @category models
 * @since 0.1.0
 */
export interface DeadLetter {
  readonly id: string
  readonly pipeline: string
  readonly version: string
  readonly stateKey: string
  readonly runId: string
  readonly stream: string
  readonly stage: Stage
  /** Why the record failed. Never includes a secret. */
  readonly reason: string
  readonly record: Json
  readonly tenant?: string | undefined
  /** ISO 8601 time it was stored. */
  readonly at: string
}

/**
 * Which dead letters to list, oldest first.
 *
 * @category models
 * @since 0.1.0
 */
export interface DeadLetterQuery {
  readonly pipeline?: string | undefined
  readonly stateKey?: string | undefined
  readonly runId?: string | undefined
  readonly tenant?: string | undefined
  readonly limit?: number | undefined
  readonly cursor?: string | undefined
}

/**
 * What a dead-letter store does.
 *
 * @category models
 * @since 0.1.0
 */
export interface DeadLetterStoreShape {
  /** Stores dead letters; durable when the effect succeeds. */
  readonly append: (letters: ReadonlyArray<DeadLetter>) => Effect.Effect<void, StateError>
  /** Dead letters matching the query, oldest first, paginated. */
  readonly list: (
    query: DeadLetterQuery
  ) => Effect.Effect<
    { readonly letters: ReadonlyArray<DeadLetter>; readonly nextCursor?: string | undefined },
    StateError
  >
  /** How many match. */
  readonly count: (query: DeadLetterQuery) => Effect.Effect<number, StateError>
  /** Removes dead letters by id (after a replay). */
  readonly remove: (ids: ReadonlyArray<string>) => Effect.Effect<number, StateError>
  /** Removes those older than `ttlMs` before `now`, then the oldest past `maxCount`; returns how many went. */
  readonly purge: (options: {
    readonly ttlMs: number
    readonly maxCount: number
    readonly now: number
  }) => Effect.Effect<number, StateError>
}

/**
 * The dead-letter store service.
 *
 * @category services
 * @since 0.1.0
 */
export class DeadLetterStore extends Context.Service<DeadLetterStore, DeadLetterStoreShape>()(
  "@data-mcp/core/DeadLetterStore"
) {}

/**
 * The run's dead-letter budget: it fails once more than `maxCount` records, or more than `maxRatio` of the
 * records read (after at least `minRecords`), became dead letters. Default: `{ maxRatio: 0.1, minRecords: 1000 }`
 * — a pipeline dropping more than one record in ten is broken, not unlucky.
 *
 * @category models
 * @since 0.1.0
 */
export interface Budget {
  readonly maxCount?: number | undefined
  readonly maxRatio?: number | undefined
  readonly minRecords?: number | undefined
}

/**
 * The default budget.
 *
 * @category constants
 * @since 0.1.0
 */
export const defaultBudget: Budget = { maxRatio: 0.1, minRecords: 1000 }

/**
 * The run stopped because too many records became dead letters.
 *
 * @category errors
 * @since 0.1.0
 */
export class BudgetExceeded extends Schema.TaggedError<BudgetExceeded>("@data-mcp/core/DeadLetterBudgetExceeded")(
  "DeadLetterBudgetExceeded",
  { deadLetters: Schema.Number, recordsRead: Schema.Number, detail: Schema.String }
) {
  get retryable(): boolean {
    return false
  }

  override get message(): string {
    return `Dead-letter budget exceeded: ${this.deadLetters} of ${this.recordsRead} records (${this.detail}). Inspect the dead letters, fix the data or the pipeline, then re-run.`
  }
}

/**
 * Whether `deadLetters` of `recordsRead` is over the budget.
 *
 * @category utils
 * @since 0.1.0
 */
export const isOverBudget = (budget: Budget, deadLetters: number, recordsRead: number): string | undefined => {
  if (budget.maxCount !== undefined && deadLetters > budget.maxCount) return `more than ${budget.maxCount}`
  if (budget.maxRatio !== undefined && recordsRead >= (budget.minRecords ?? 0) && recordsRead > 0) {
    if (deadLetters / recordsRead > budget.maxRatio) return `more than ${budget.maxRatio * 100}% of records`
  }
  return undefined
}

/**
 * Encodes a record as lossless JSON for storage: `bigint`, `Timestamp`, `Uint8Array` and `Date` values become
 * one-key tagged objects (`{ "$bigint": "9007199254740993" }`) that `decodeRecord` turns back.
 *
 * @category utils
 * @since 0.1.0
 */
export const encodeRecord: (record: unknown) => Json = LosslessJson.encode

/**
 * Decodes a record stored by `encodeRecord`.
 *
 * @category utils
 * @since 0.1.0
 */
export const decodeRecord: (json: Json) => unknown = LosslessJson.decode
