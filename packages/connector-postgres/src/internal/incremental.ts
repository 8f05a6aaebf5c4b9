// A stream of PostgresSource given as `{ table, incremental: Incremental.make(…) }` (core's description of an
// incremental read) becomes the source's own per-stream options: cursor → cursor, tieBreaker → key, lag and
// lookback → milliseconds, onNull → onNull. What the source cannot do per stream is refused when the source is
// made, with a ConfigError naming the field: `order: "desc"` (it reads ascending), `initial` and `end` (a
// backfill's end is the run's `end` checkpoint, `Runner.start(…, { end })`).
import { Config, type Incremental } from "@data-mcp/core"
import { Duration } from "effect"
import type { StreamOptions } from "../PostgresSource.ts"

/**
 * A stream read incrementally as core's `Incremental` describes: the table, the columns to read, and the
 * read. The source's own incremental fields are not allowed beside it.
 */
export interface IncrementalStreamOptions {
  /** The table: a name in the connection's schema, or `[schema, table]`. */
  readonly table: StreamOptions["table"]
  /** The incremental read (`Incremental.make({ cursor, tieBreaker, lag, lookback, onNull })`). */
  readonly incremental: Incremental.Incremental
  /** The columns to read (default: all). */
  readonly columns?: ReadonlyArray<string> | undefined
  readonly cursor?: never
  readonly key?: never
  readonly lag?: never
  readonly lookback?: never
  readonly onNull?: never
}

const refuse = (index: number, field: string, detail: string) =>
  new Config.ConfigError({ component: "postgres source", path: `streams.${index}.${field}`, detail })

const OWN = ["cursor", "key", "lag", "lookback", "onNull"] as const

/** The source's stream options for a stream given either way; throws a `ConfigError` for what it cannot read. */
export const toStreamOptions = (stream: StreamOptions | IncrementalStreamOptions, index: number): StreamOptions => {
  if (!("incremental" in stream) || stream.incremental === undefined) return stream as StreamOptions
  const own = OWN.find((field) => stream[field] !== undefined)
  if (own !== undefined) throw refuse(index, own, `give either incremental or ${own}, not both`)
  const inc = stream.incremental
  if (inc.order === "desc")
    throw refuse(index, "incremental.order", 'the postgres source reads in ascending (cursor, key) order: use "asc"')
  if (inc.initial !== undefined)
    throw refuse(
      index,
      "incremental.initial",
      "the postgres source has no start value per stream: the first run reads from the beginning"
    )
  if (inc.end !== undefined)
    throw refuse(
      index,
      "incremental.end",
      "the postgres source takes a backfill's end as the run's end checkpoint (Runner.start with { end }), not per stream"
    )
  return {
    table: stream.table,
    cursor: inc.cursor,
    key: inc.tieBreaker,
    ...(stream.columns === undefined ? {} : { columns: stream.columns }),
    ...(inc.lag === undefined ? {} : { lag: Duration.toMillis(inc.lag) }),
    ...(inc.lookback === undefined ? {} : { lookback: Duration.toMillis(inc.lookback) }),
    onNull: inc.onNull
  }
}
