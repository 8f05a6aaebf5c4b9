// The checks `PostgresSource.make` runs on its stream options before anything connects: a query stream's query
// is an `sql` fragment holding one read statement and its name is set; a cursor comes with a key; `chunks` apply
// to a table snapshot (no cursor) and fit the pool; stream names are unique. A bad option throws a `ConfigError`
// naming the field.
import { Config } from "@data-mcp/core"
import * as PostgresConfig from "../PostgresConfig.ts"
import type * as PostgresSource from "../PostgresSource.ts"
import * as Sql from "../Sql.ts"
import * as SourceChunks from "./sourceChunks.ts"
import * as SourceQuery from "./sourceQuery.ts"

type AnyStream = PostgresSource.StreamOptions | PostgresSource.QueryStreamOptions

const isPositiveInt = (n: unknown): boolean => typeof n === "number" && Number.isInteger(n) && n > 0

/** How a stream is chunked: its `chunks` with the defaults, the defaults for a keyless table, else none. */
export const chunkingOf = (stream: AnyStream): SourceChunks.Chunking | undefined => {
  if ("query" in stream || stream.cursor !== undefined) return undefined
  if (stream.chunks === undefined && stream.key !== undefined) return undefined
  return {
    rows: stream.chunks?.rows ?? SourceChunks.defaults.rows,
    concurrency: stream.chunks?.concurrency ?? SourceChunks.defaults.concurrency
  }
}

/** The name a stream's checkpoint is kept under. */
export const streamName = (config: PostgresConfig.PostgresConfig, stream: AnyStream): string =>
  "query" in stream
    ? stream.name
    : typeof stream.table === "string"
      ? `${PostgresConfig.schemaOf(config)}.${stream.table}`
      : `${stream.table[0]}.${stream.table[1]}`

/** Throws a `ConfigError` naming the first bad option of the source's streams. */
export const check = (
  component: string,
  options: Omit<PostgresSource.PostgresSourceOptions, "streams"> & {
    readonly streams: ReadonlyArray<PostgresSource.StreamOptions | PostgresSource.QueryStreamOptions>
  }
): void => {
  const fail = (path: string, detail: string): never => {
    throw new Config.ConfigError({ component, path, detail })
  }
  const seen = new Set<string>()
  for (const [i, stream] of options.streams.entries()) {
    const at = `streams.${i}`
    if ("query" in stream) {
      if (!Sql.isFragment(stream.query))
        fail(`${at}.query`, "write the query with the sql tagged template (sql`select …`), which binds every value")
      const keyword = SourceQuery.firstKeyword(stream.query)
      if (!SourceQuery.READS.includes(keyword))
        fail(
          `${at}.query`,
          `a query stream is one read statement (${SourceQuery.READS.join(", ")}), not ${keyword === "" ? "an empty query" : `"${keyword}"`}`
        )
      if (typeof stream.name !== "string" || stream.name.length === 0)
        fail(`${at}.name`, "a query stream needs a name (its checkpoint key)")
      if ("chunks" in stream) fail(`${at}.chunks`, "chunks apply to table streams only")
    }
    if (stream.cursor !== undefined && stream.key === undefined)
      fail(`${at}.key`, "a stream with a cursor needs a key (it breaks ties between equal cursor values)")
    const chunks = "query" in stream ? undefined : stream.chunks
    if (chunks !== undefined) {
      if (stream.cursor !== undefined)
        fail(`${at}.chunks`, "chunks split a snapshot: a stream with a cursor is read incrementally, not chunked")
      if (chunks.rows !== undefined && !isPositiveInt(chunks.rows))
        fail(`${at}.chunks.rows`, "must be a whole number of rows above 0")
      if (chunks.concurrency !== undefined && !isPositiveInt(chunks.concurrency))
        fail(`${at}.chunks.concurrency`, "must be a whole number above 0")
    }
    const chunking = chunkingOf(stream)
    const poolSize = options.connection.poolSize ?? PostgresConfig.defaults.poolSize
    if (chunking !== undefined && chunking.concurrency > 1 && chunking.concurrency + 1 > poolSize)
      fail(
        `${at}.chunks.concurrency`,
        `${chunking.concurrency} chunks at once need ${chunking.concurrency + 1} connections: raise connection.poolSize (${poolSize}) or lower the concurrency`
      )
    const name = streamName(options.connection, stream)
    if (seen.has(name)) fail(at, `the stream ${JSON.stringify(name)} is read twice: give each stream its own name`)
    seen.add(name)
  }
}
