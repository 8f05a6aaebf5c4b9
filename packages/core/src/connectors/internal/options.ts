// Option schemas and read helpers shared by the built-in connectors.
import * as nodePath from "node:path"
import { Schema, Stream } from "effect"
import type * as Batch from "../../Batch.ts"
import type * as Source from "../../Source.ts"

/** The default number of records per batch when neither the options nor the runner say. */
export const DEFAULT_BATCH_SIZE = 1000

/** A positive integer option. */
export const PositiveInt = Schema.Int.check(Schema.isGreaterThan(0))

/** A non-empty string option. */
export const NonEmpty = Schema.String.check(Schema.isMinLength(1))

/** The records per batch: the connector option, else the runner's hint, else 1000. */
export const batchSizeOf = (option: number | undefined, context: Source.ReadContext): number => {
  if (option !== undefined) return option
  const hint = context.batchRows
  return Number.isInteger(hint) && hint > 0 ? hint : DEFAULT_BATCH_SIZE
}

/** A file's base name without its extension: the default stream name of a file source. */
export const streamNameOf = (path: string): string => {
  const base = nodePath.basename(path)
  const ext = nodePath.extname(base)
  const name = ext.length > 0 && ext.length < base.length ? base.slice(0, -ext.length) : base
  return name.length > 0 ? name : "default"
}

/**
 * Stops a stream once a batch reaches `end` (a bounded backfill), given how to read a position out of a
 * checkpoint. The batch that reaches or passes `end` is the last one.
 */
export const untilEnd = <A, C, E, R>(
  stream: Stream.Stream<Batch.Batch<A, C>, E, R>,
  end: number | undefined,
  position: (checkpoint: C) => number
): Stream.Stream<Batch.Batch<A, C>, E, R> =>
  end === undefined
    ? stream
    : Stream.takeUntil(stream, (batch) => batch.checkpoint !== undefined && position(batch.checkpoint) >= end)
