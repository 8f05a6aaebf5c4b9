// The checks `MysqlSource.make` runs on its stream options before anything connects: `chunks` apply to a table
// snapshot (no cursor, no query) and fit the pool; `onNull: "include-first"` needs a cursor; stream names are
// unique. A bad option throws a `ConfigError` naming the field.
import { Config } from "@data-mcp/core"
import * as MysqlConfig from "../MysqlConfig.ts"
import type * as MysqlSource from "../MysqlSource.ts"
import * as SourceChunks from "./sourceChunks.ts"

/** How a stream is chunked: its `chunks` with the defaults, or none. */
export const chunkingOf = (stream: MysqlSource.StreamOptions): SourceChunks.Chunking | undefined =>
  stream.chunks === undefined || stream.query !== undefined || stream.cursor !== undefined
    ? undefined
    : {
        rows: stream.chunks.rows ?? SourceChunks.defaults.rows,
        concurrency: stream.chunks.concurrency ?? SourceChunks.defaults.concurrency
      }

const isPositiveInt = (n: unknown): boolean => typeof n === "number" && Number.isInteger(n) && n > 0

/** Throws a `ConfigError` naming the first bad option of the source's streams. */
export const check = (
  component: string,
  options: Omit<MysqlSource.MysqlSourceOptions, "streams"> & {
    readonly streams: ReadonlyArray<MysqlSource.StreamOptions>
  }
): void => {
  const fail = (path: string, detail: string): never => {
    throw new Config.ConfigError({ component, path, detail })
  }
  const seen = new Set<string>()
  for (const [i, stream] of options.streams.entries()) {
    const at = `streams.${i}`
    if (stream.onNull !== undefined && stream.onNull !== "skip" && stream.onNull !== "include-first")
      fail(`${at}.onNull`, 'must be "skip" or "include-first"')
    if (stream.onNull === "include-first" && stream.cursor === undefined)
      fail(`${at}.onNull`, '"include-first" reads the rows whose cursor is NULL first: it needs a cursor')
    const chunks = stream.chunks
    if (chunks !== undefined) {
      if (stream.query !== undefined) fail(`${at}.chunks`, "chunks apply to table streams only")
      if (stream.cursor !== undefined)
        fail(`${at}.chunks`, "chunks split a snapshot: a stream with a cursor is read incrementally, not chunked")
      if (chunks.rows !== undefined && !isPositiveInt(chunks.rows))
        fail(`${at}.chunks.rows`, "must be a whole number of rows above 0")
      if (chunks.concurrency !== undefined && !isPositiveInt(chunks.concurrency))
        fail(`${at}.chunks.concurrency`, "must be a whole number above 0")
      const chunking = chunkingOf(stream)
      const poolSize = options.connection.poolSize ?? MysqlConfig.defaults.poolSize
      if (chunking !== undefined && chunking.concurrency > 1 && chunking.concurrency + 1 > poolSize)
        fail(
          `${at}.chunks.concurrency`,
          `${chunking.concurrency} chunks at once need ${chunking.concurrency + 1} connections: raise connection.poolSize (${poolSize}) or lower the concurrency`
        )
    }
    const name =
      stream.query !== undefined
        ? stream.name
        : (stream.name ??
          (typeof stream.table === "string"
            ? `${options.connection.database}.${stream.table}`
            : stream.table === undefined
              ? undefined
              : `${stream.table[0]}.${stream.table[1]}`))
    if (name !== undefined) {
      if (seen.has(name)) fail(at, `the stream ${JSON.stringify(name)} is read twice: give each stream its own name`)
      seen.add(name)
    }
  }
}
