// A stream of MysqlSource given as `{ table, incremental: Incremental.make(…) }` (core's description of an
// incremental read) becomes the source's own per-stream options: cursor → cursor, tieBreaker → key, onNull →
// onNull, as connector-postgres does. What this source cannot do per stream is refused when the source is made,
// with a ConfigError naming the field: `lag` and `lookback` (not built here), `order: "desc"` (it reads
// ascending), `initial` and `end` (a backfill's end is the run's `end` checkpoint, `Runner.start(…, { end })`).
import { Config, type Incremental } from "@data-mcp/core"
import type { StreamOptions } from "../MysqlSource.ts"

/** A table read incrementally as core's `Incremental` describes; the source's own cursor fields are not allowed. */
export interface IncrementalStreamOptions {
  /** The table: a name in the connection's database, or `[database, table]`. */
  readonly table: StreamOptions["table"]
  /** The incremental read (`Incremental.make({ cursor, tieBreaker, onNull })`). */
  readonly incremental: Incremental.Incremental
  /** The columns to read (default: all). */
  readonly columns?: ReadonlyArray<string> | undefined
  /** The stream's name (default `"database.table"`). */
  readonly name?: string | undefined
  readonly cursor?: never
  readonly key?: never
  readonly onNull?: never
}

const refuse = (index: number, field: string, detail: string) =>
  new Config.ConfigError({ component: "mysql source", path: `streams.${index}.${field}`, detail })

const OWN = ["cursor", "key", "onNull"] as const

/** The source's stream options for a stream given either way; throws a `ConfigError` for what it cannot read. */
export const toStreamOptions = (stream: StreamOptions | IncrementalStreamOptions, index: number): StreamOptions => {
  if (!("incremental" in stream) || stream.incremental === undefined) return stream as StreamOptions
  const own = OWN.find((field) => stream[field] !== undefined)
  if (own !== undefined) throw refuse(index, own, `give either incremental or ${own}, not both`)
  const inc = stream.incremental
  for (const [field, value] of [
    ["lag", inc.lag],
    ["lookback", inc.lookback]
  ] as const)
    if (value !== undefined)
      throw refuse(index, `incremental.${field}`, `the mysql source has no ${field} (yet): leave it out`)
  if (inc.order === "desc")
    throw refuse(index, "incremental.order", 'the mysql source reads in ascending (cursor, key) order: use "asc"')
  if (inc.initial !== undefined)
    throw refuse(
      index,
      "incremental.initial",
      "the mysql source has no start value per stream: the first run reads from the beginning"
    )
  if (inc.end !== undefined)
    throw refuse(
      index,
      "incremental.end",
      "the mysql source takes a backfill's end as the run's end checkpoint (Runner.start with { end }), not per stream"
    )
  return {
    table: stream.table,
    cursor: inc.cursor,
    key: inc.tieBreaker,
    onNull: inc.onNull,
    ...(stream.columns === undefined ? {} : { columns: stream.columns }),
    ...(stream.name === undefined ? {} : { name: stream.name })
  }
}
