/**
 * A batch is the unit of work between stages: records of one stream plus, optionally, the checkpoint reached
 * once every record of this batch (and of every batch before it) is durably written. An empty batch still
 * carries its checkpoint, so a source can move its position without producing records.
 *
 * @since 0.1.0
 */
import type { Checkpoint } from "./Checkpoint.ts"

/**
 * The default stream name of single-stream sources.
 *
 * @category constants
 * @since 0.1.0
 */
export const defaultStream = "default"

/**
 * Records of one stream and the checkpoint after them.
 *
 * @category models
 * @since 0.1.0
 */
export interface Batch<out A, out C = Checkpoint> {
  /** The stream (table, endpoint, topic) these records belong to. */
  readonly stream: string
  /** The records, in source order. */
  readonly records: ReadonlyArray<A>
  /** The source position after the last record of this batch; absent when this batch does not end at one. */
  readonly checkpoint?: C | undefined
  /** The size of the records in bytes, when the source knows it (else the runner estimates it). */
  readonly bytes?: number | undefined
}

/**
 * Makes a batch.
 *
 * **Example** (A batch that resumes after id 2)
 *
 * ```ts
 * import { Batch } from "@data-mcp/core"
 *
 * const batch = Batch.make([{ id: 1 }, { id: 2 }], { checkpoint: { id: 2 } })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = <A, C = Checkpoint>(
  records: ReadonlyArray<A>,
  options?: { readonly stream?: string; readonly checkpoint?: C | undefined; readonly bytes?: number | undefined }
): Batch<A, C> => ({
  stream: options?.stream ?? defaultStream,
  records,
  checkpoint: options?.checkpoint,
  bytes: options?.bytes
})

/**
 * Replaces the records of a batch, keeping its stream and checkpoint.
 *
 * @category combinators
 * @since 0.1.0
 */
export const withRecords = <A, B, C>(batch: Batch<A, C>, records: ReadonlyArray<B>): Batch<B, C> => ({
  stream: batch.stream,
  records,
  checkpoint: batch.checkpoint,
  bytes: undefined
})
