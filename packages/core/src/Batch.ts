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
 * Rows a source hands over in an encoding a sink can load as is (e.g. PostgreSQL's COPY text), instead of as
 * records. A source sends them only when the runner asks for that encoding (see `Source.ReadContext.encodings`):
 * when nothing between source and sink needs the records. Make such batches with `makeEncoded`.
 *
 * @category models
 * @since 0.1.0
 */
export interface Encoded {
  /** The encoding's name, e.g. `"postgres/copy-text"`; a sink lists those it loads in `Capabilities.encodings`. */
  readonly format: string
  /** The columns of each row, in order, with the type of each as the encoding names it (e.g. a type OID). */
  readonly columns: ReadonlyArray<{ readonly name: string; readonly type: string }>
  /** The number of rows. */
  readonly rows: number
  /** The encoded rows, in order, split anywhere between chunks. */
  readonly chunks: ReadonlyArray<Uint8Array>
}

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
  /** The rows in an encoded form too (see `makeEncoded`), when the runner asked for one. */
  readonly encoded?: Encoded | undefined
}

// Batches made by `makeEncoded` and not copied since: a copy (a spread, `withRecords`) may carry changed records
// next to the original `encoded`, so only the original object's encoded rows are trusted.
const pristine = new WeakSet<object>()

/**
 * Makes a batch of encoded rows. Its `records` decode on first access (`decode`, once), so code that wraps a
 * source and reads `records` still sees every row; but only this very object counts as encoded (see
 * `encodedOf`): a copied or rebuilt batch is taken by its records.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeEncoded = <A, C = Checkpoint>(
  encoded: Encoded,
  options: {
    readonly decode: () => ReadonlyArray<A>
    readonly stream?: string
    readonly checkpoint?: C | undefined
    readonly bytes?: number | undefined
  }
): Batch<A, C> => {
  let records: ReadonlyArray<A> | undefined
  const decode = options.decode
  const batch: Batch<A, C> = {
    stream: options.stream ?? defaultStream,
    get records() {
      if (records === undefined) records = decode()
      return records
    },
    checkpoint: options.checkpoint,
    bytes: options.bytes,
    encoded
  }
  pristine.add(batch)
  return batch
}

/**
 * The encoded rows of a batch made by `makeEncoded` and not copied since; else `undefined`.
 *
 * @category getters
 * @since 0.1.0
 */
export const encodedOf = (batch: Batch<unknown, unknown>): Encoded | undefined =>
  batch.encoded !== undefined && pristine.has(batch) ? batch.encoded : undefined

/**
 * The number of rows a batch holds: its encoded rows (without decoding them), else its records.
 *
 * @category getters
 * @since 0.1.0
 */
export const size = (batch: Batch<unknown, unknown>): number => {
  const encoded = encodedOf(batch)
  return encoded === undefined ? batch.records.length : encoded.rows
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
