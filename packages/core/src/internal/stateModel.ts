// The state model (errors, leases, the store shape), apart from StateStore.ts so that the store's
// implementations under internal/ can use it without importing the public module (no import cycles).
// StateStore.ts re-exports everything here unchanged.
import { type Effect, Schema } from "effect"
import type { Json } from "../Checkpoint.ts"

/**
 * Why a state operation failed.
 *
 * - `LeaseHeld`: another live run holds the lease (`holderRunId` names it).
 * - `Fenced`: this run's lease was taken over; it must stop without writing.
 * - `InvalidCheckpoint`: the stored checkpoint fails the source's schema (never silently reset).
 * - `Locked`: another process holds the store's lock.
 * - `Io`: the storage failed.
 * - `NotFound`: no such key, run or entry (or a pagination cursor this store did not issue).
 * - `Conflict`: a run or entry with that id already exists.
 *
 * @category models
 * @since 0.1.0
 */
export type StateErrorReason = "LeaseHeld" | "Fenced" | "InvalidCheckpoint" | "Locked" | "Io" | "NotFound" | "Conflict"

/**
 * A state store, run store or dead-letter store operation failed.
 *
 * @category errors
 * @since 0.1.0
 */
export class StateError extends Schema.TaggedError<StateError>("@data-mcp/core/StateError")("StateError", {
  reason: Schema.Literals(["LeaseHeld", "Fenced", "InvalidCheckpoint", "Locked", "Io", "NotFound", "Conflict"]),
  /** The state key, run id or path concerned. */
  key: Schema.String,
  /** What happened and what to do about it. */
  detail: Schema.String,
  /** For `LeaseHeld`: the run that holds the lease. */
  holderRunId: Schema.optionalKey(Schema.String),
  cause: Schema.optionalKey(Schema.Defect())
}) {
  /** Storage hiccups are retryable; fencing, conflicts and bad checkpoints are not. */
  get retryable(): boolean {
    return this.reason === "Io"
  }

  override get message(): string {
    return `State ${this.reason} for ${this.key}: ${this.detail}`
  }
}

/**
 * A run's hold on a state key. `token` increases with every acquisition of the key.
 *
 * @category models
 * @since 0.1.0
 */
export interface Lease {
  readonly key: string
  readonly runId: string
  readonly token: number
  /** Epoch milliseconds after which another run may take the lease over. */
  readonly expiresAt: number
}

/**
 * What a state store does.
 *
 * @category models
 * @since 0.1.0
 */
export interface StateStoreShape {
  /**
   * Takes the lease on `key` for `runId`, with a token greater than any before. Fails with `LeaseHeld` while
   * another run's lease has not expired.
   */
  readonly acquire: (
    key: string,
    options: { readonly runId: string; readonly ttlMs: number }
  ) => Effect.Effect<Lease, StateError>
  /** Extends the lease; fails with `Fenced` if its token is no longer the current one. */
  readonly renew: (lease: Lease, ttlMs: number) => Effect.Effect<Lease, StateError>
  /** Gives the lease up (a no-op if it was already taken over). */
  readonly release: (lease: Lease) => Effect.Effect<void, StateError>
  /** The stored checkpoint of `key`, as JSON, or `undefined` if none. */
  readonly load: (key: string) => Effect.Effect<Json | undefined, StateError>
  /** Saves a checkpoint if `lease.token` is still current; fails with `Fenced` otherwise. Durable on success. */
  readonly save: (lease: Lease, checkpoint: Json) => Effect.Effect<void, StateError>
  /**
   * Sets (or, with `undefined`, clears) a key's checkpoint outside any run: an operator action. A live lease on
   * the key is fenced, so its run cannot overwrite the override.
   */
  readonly set: (key: string, checkpoint: Json | undefined) => Effect.Effect<void, StateError>
  /** Lists the keys that have state. */
  readonly keys: Effect.Effect<ReadonlyArray<string>, StateError>
}
