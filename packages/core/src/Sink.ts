/**
 * A sink writes batches. It declares what it can promise — `transactional` (data and checkpoint commit in one
 * transaction: exactly-once) and `idempotent` (a replayed batch overwrites rather than duplicates) — and a
 * write disposition: `append`, `replace` (an atomic swap at the end of the run) or `merge` (upsert by key).
 * The runner reads capabilities, never a connector's name.
 *
 * @since 0.1.0
 */
import type { Effect, Option, Scope } from "effect"
import type { Batch, Encoded } from "./Batch.ts"
import type { Json } from "./Checkpoint.ts"
import type { ConnectorError } from "./ConnectorError.ts"
import type { Diff } from "./SchemaInference.ts"
import type { Lease, StateError } from "./StateStore.ts"

/**
 * The error a sink fails with.
 *
 * @category errors
 * @since 0.1.0
 */
export type SinkError = ConnectorError

/**
 * What a sink can promise.
 *
 * @category models
 * @since 0.1.0
 */
export interface Capabilities {
  /** Commits data and the checkpoint together, fenced by the run's token: exactly-once. */
  readonly transactional: boolean
  /** Writing the same batch twice leaves one copy: effectively-once. */
  readonly idempotent: boolean
  /** How many batches may be written at once (default 1; transactional sinks always write one at a time). */
  readonly maxConcurrentWrites?: number | undefined
  /** Encodings (`Batch.Encoded`) the writer loads as is, besides records: a source may then skip decoding. */
  readonly encodings?: ReadonlyArray<string> | undefined
  /**
   * The batch size the sink writes best, used when the pipeline sets no `batch` options: a bulk loader (COPY,
   * LOAD DATA) pays a fixed cost per write (a transaction, its checkpoint) and prefers large batches. Default
   * 5,000 rows / 8 MiB.
   */
  readonly batch?: { readonly rows?: number | undefined; readonly bytes?: number | undefined } | undefined
  /**
   * The sink sends records out of the organisation's systems (a third-party API, a webhook): pipelines writing to
   * it are hidden from agents by default (`mcp.exposure: "operator"`), as data leaving is not an agent's call.
   */
  readonly openWorld?: boolean | undefined
}

/**
 * Append every record.
 *
 * @category models
 * @since 0.1.0
 */
export interface Append {
  readonly type: "append"
}

/**
 * Replace the target's content with this run's records, atomically at the end of a successful run.
 *
 * @category models
 * @since 0.1.0
 */
export interface Replace {
  readonly type: "replace"
}

/**
 * Upsert by key. Staged rows are de-duplicated per key keeping the highest `versionBy`; an update applies only
 * if it is not older than the target row; `deleteWhen` names a boolean field that turns a record into a delete
 * (a soft delete when `softDelete` names the column to set).
 *
 * @category models
 * @since 0.1.0
 */
export interface Merge {
  readonly type: "merge"
  readonly key: ReadonlyArray<string>
  readonly strategy: "upsert" | "delete-insert"
  readonly versionBy?: string | undefined
  readonly deleteWhen?: string | undefined
  readonly softDelete?: string | undefined
}

/**
 * How a sink applies records to its target.
 *
 * @category models
 * @since 0.1.0
 */
export type Disposition = Append | Replace | Merge

/**
 * The `append` disposition.
 *
 * @category constructors
 * @since 0.1.0
 */
export const append: Append = { type: "append" }

/**
 * The `replace` disposition.
 *
 * @category constructors
 * @since 0.1.0
 */
export const replace: Replace = { type: "replace" }

/**
 * The `merge` disposition.
 *
 * **Example** (Upsert by id, newest `updated_at` wins)
 *
 * ```ts
 * import { Sink } from "@data-mcp/core"
 *
 * const disposition = Sink.merge({ key: ["id"], versionBy: "updated_at" })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const merge = (
  options: Omit<Merge, "type" | "strategy"> & { readonly strategy?: Merge["strategy"] }
): Merge => ({
  type: "merge",
  strategy: options.strategy ?? "upsert",
  ...options
})

/**
 * What the runner tells a sink when it opens it for a run.
 *
 * @category models
 * @since 0.1.0
 */
export interface OpenContext {
  readonly runId: string
  readonly pipeline: string
  readonly stateKey: string
  /** The run's lease: a transactional sink writes its checkpoint only while `lease.token` is current. */
  readonly lease: Lease
}

/**
 * What the runner passes with each batch.
 *
 * @category models
 * @since 0.1.0
 */
export interface WriteContext {
  /** The batch's position in the run (0, 1, 2, …). */
  readonly seq: number
  /** The checkpoint before this batch (`null`: the beginning). With `checkpointTo`, names the batch's range. */
  readonly checkpointFrom: Json | null
  /**
   * The checkpoint to commit with this batch (JSON). Transactional sinks store it with the data in the same
   * transaction, fenced by the lease; others ignore it. Absent when the batch does not end at a checkpoint.
   */
  readonly checkpointTo?: Json | undefined
}

/**
 * A change a sink made to the shape of its target while writing: a table created, columns added or widened.
 * The runner turns each into a `SchemaChanged` run event (with `target`) and a line in the run summary's notes.
 *
 * @category models
 * @since 0.1.0
 */
export interface SchemaChange {
  /** What changed, as the user names it (`public.orders`). */
  readonly target: string
  /** The target's schema version after the change, as the sink counts them (1: the sink created it). */
  readonly version: number
  /** The change, from the version before: columns added, columns widened (`from` → `to`). */
  readonly diff: Diff
}

/**
 * What a write did.
 *
 * @category models
 * @since 0.1.0
 */
export interface WriteResult {
  /** Records written. */
  readonly written: number
  /**
   * Records the sink refused one by one (they become dead letters), by index in the batch; `record` carries the
   * refused record itself when the batch came encoded (it has no `records` to index).
   */
  readonly rejected?:
    | ReadonlyArray<{ readonly index: number; readonly reason: string; readonly record?: unknown }>
    | undefined
  /** Changes this write (or, on the first write, opening the sink) made to the target's schema, in order. */
  readonly schemaChanges?: ReadonlyArray<SchemaChange> | undefined
}

/**
 * A sink opened for one run.
 *
 * @category models
 * @since 0.1.0
 */
export interface Writer<in A> {
  /**
   * Writes a batch. A transactional sink commits the records, `checkpointTo` and the pair (lease token, `seq`)
   * in one transaction, fenced: it fails with `StateError` `Fenced` if a higher token has written, and it skips
   * (reporting success) a write whose (token, seq) it has already committed — the retry of a write whose
   * acknowledgement was lost. That is what makes delivery exactly-once.
   */
  readonly write: (batch: Batch<A>, context: WriteContext) => Effect.Effect<WriteResult, SinkError | StateError>
  /**
   * Encodes records ahead of their `write`, with no I/O, into an encoding of `Capabilities.encodings`: the
   * runner calls it right after the transforms of each source batch, so records become compact bytes at once
   * (and are garbage young) while batches wait to be written; the encoded batches it then writes may be joined.
   * Returns `undefined` for records that must reach `write` as records (e.g. a table that has to change first).
   * Records it refuses one by one are in `rejected` (by index), and not in `encoded`.
   */
  readonly encode?:
    | ((
        records: ReadonlyArray<A>,
        stream: string
      ) =>
        | {
            readonly encoded: Encoded
            readonly rejected: ReadonlyArray<{ readonly index: number; readonly reason: string }>
          }
        | undefined)
    | undefined
  /** Transactional sinks: the checkpoint committed with the data, the authority when a run resumes. */
  readonly loadCheckpoint?: Effect.Effect<Option.Option<Json>, SinkError | StateError> | undefined
  /**
   * Called once after the last batch of a successful run (a `replace` swaps its staging target in here). A
   * transactional sink fails with `StateError` `Fenced`, publishing nothing, if a higher lease token has
   * written since (the run was taken over).
   */
  readonly finish?: Effect.Effect<void, SinkError | StateError> | undefined
}

/**
 * What a run would do to a sink's target, told from a sample of the records it would write — for previews and
 * plans; working it out writes nothing.
 *
 * @category models
 * @since 0.1.0
 */
export interface TargetPlan {
  /** The target as the user names it (`public.orders`, `out/orders.csv`). */
  readonly target: string
  /** Whether the target exists now (a run creates it when it does not and the sink may). */
  readonly exists: boolean
  /** Rows the target holds now, when the sink can tell cheaply (a database's statistics: approximate). */
  readonly rows?: number | undefined
  /**
   * The target's schema changes a run would make for records like the sample, by the sink's schema contract: a
   * table created (every column added), columns added or widened. Empty when the sample fits.
   */
  readonly changes: Diff
  /**
   * What the sink's contract refuses of the sample and what a run would then do: fail, drop the offending values,
   * or dead-letter the offending records. Absent when nothing is refused.
   */
  readonly refused?:
    | { readonly diff: Diff; readonly outcome: "fail" | "discardValue" | "discardRow"; readonly reason: string }
    | undefined
}

/**
 * A sink of records `A`.
 *
 * @category models
 * @since 0.1.0
 */
export interface Sink<in A> {
  /** A short name for errors, logs and metrics. */
  readonly name: string
  readonly capabilities: Capabilities
  readonly disposition: Disposition
  /**
   * Opens the sink for a run. Resources (connections, staging files) belong to the scope, which closes with the
   * run's exit: on failure or cancellation the sink rolls back what `finish` did not publish.
   */
  readonly open: (context: OpenContext) => Effect.Effect<Writer<A>, SinkError | StateError, Scope.Scope>
  /** Checks that the sink can be reached and written with its config. */
  readonly check?: (() => Effect.Effect<void, SinkError>) | undefined
  /**
   * Tells what a run would do to the target for records like `sample` (read-only: no DDL, no writes). Previews
   * show it as the plan's target effects and schema diff.
   */
  readonly plan?: ((sample: ReadonlyArray<A>) => Effect.Effect<TargetPlan, SinkError>) | undefined
}

/**
 * Any sink, for collections and registries.
 *
 * @category models
 * @since 0.1.0
 */
// biome-ignore lint/suspicious/noExplicitAny: a heterogeneous collection of sinks needs the widest types
export type Any = Sink<any>

/**
 * Makes a sink.
 *
 * **Example** (A sink that logs batch sizes)
 *
 * ```ts
 * import { Sink } from "@data-mcp/core"
 * import { Effect } from "effect"
 *
 * const counting = Sink.make<unknown>({
 *   name: "count",
 *   capabilities: { transactional: false, idempotent: false },
 *   disposition: Sink.append,
 *   open: () => Effect.succeed({ write: (batch) => Effect.succeed({ written: batch.records.length }) })
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = <A>(sink: Sink<A>): Sink<A> => sink
