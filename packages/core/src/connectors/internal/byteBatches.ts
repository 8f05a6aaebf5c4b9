// Batching for sources that resume from a byte offset (CSV, JSONL). Entries arrive in file order, each
// with the absolute byte offset just after it when that is known; a batch is only cut after an entry whose
// end is known, so every checkpoint is an offset where a resumed read starts exactly at the next record.
import { Schema } from "effect"
import * as Batch from "../../Batch.ts"
import type * as Checkpoint from "../../Checkpoint.ts"

/** A record (or invalid record) and the byte offset right after it, when known. */
export interface Entry<A> {
  readonly value: A
  readonly end: number | undefined
}

/** A byte-offset checkpoint: where to resume and how many records (valid or not) were delivered before it. */
export interface ByteCheckpoint {
  readonly bytes: number
  readonly records: number
}

/** The schema of a byte-offset checkpoint (CSV and JSONL sources). */
export const ByteCheckpointSchema: Checkpoint.CheckpointSchema<ByteCheckpoint> = Schema.Struct({
  bytes: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
  records: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))
}) as unknown as Checkpoint.CheckpointSchema<ByteCheckpoint>

/** Chunks of entries, then the offset just after the last byte read. */
export interface Chunks<A> {
  readonly chunks: AsyncIterable<ReadonlyArray<Entry<A>>>
  /** The absolute offset after everything read; valid once `chunks` is exhausted. */
  readonly endOffset: () => number
}

/** Groups entries into batches of `batchSize`, each carrying the checkpoint after its last record. */
export async function* toBatches<A>(
  input: Chunks<A>,
  options: { readonly stream: string; readonly batchSize: number; readonly from: ByteCheckpoint }
): AsyncGenerator<Batch.Batch<A, ByteCheckpoint>> {
  let records = options.from.records
  let buffer: Array<A> = []
  for await (const chunk of input.chunks) {
    for (const entry of chunk) {
      buffer.push(entry.value)
      records++
      if (entry.end !== undefined && buffer.length >= options.batchSize) {
        const batch = Batch.make(buffer, { stream: options.stream, checkpoint: { bytes: entry.end, records } })
        buffer = []
        yield batch
      }
    }
  }
  if (buffer.length > 0) {
    yield Batch.make(buffer, { stream: options.stream, checkpoint: { bytes: input.endOffset(), records } })
  }
}

/** A re-iterable async iterable: every iteration starts afresh (a Stream may be run more than once). */
export const reiterable = <A>(make: () => AsyncIterator<A>): AsyncIterable<A> => ({
  [Symbol.asyncIterator]: make
})
