// Streaming CSV parsing with exact byte positions. csv-parse reports, for each record, the byte offset just
// after its record delimiter (`info.bytes`); both `on_record` and `on_skip` run synchronously, in file order,
// while a chunk is parsed, so collecting their results in one array keeps records and malformed records in
// order. Nothing is pushed through the parser's readable side, so there is no second buffer to drain.
import { createReadStream } from "node:fs"
import { type CsvError, type Parser, parse } from "csv-parse"

/** How the file is written. */
export interface Syntax {
  readonly delimiter: string
  readonly quote: string
  readonly encoding: BufferEncoding
  readonly relaxQuotes: boolean
}

/** A parsed record, or a record csv-parse could not parse (strict quoting). */
export type RawEntry =
  | {
      readonly _tag: "Row"
      readonly fields: ReadonlyArray<string>
      readonly raw: string
      /** Absolute byte offset just after the record. */
      readonly end: number
    }
  | {
      readonly _tag: "Malformed"
      readonly code: string
      /** What was read of the record up to the error. */
      readonly raw: string
    }

// csv-parse's raw text carries stray record-delimiter characters at its ends (a CR of the previous
// delimiter, skipped empty lines); a record's own text never starts or ends with one outside quotes.
const cleanRaw = (raw: string): string => raw.replace(/^[\r\n]+|[\r\n]+$/g, "")

const makeParser = (syntax: Syntax, start: number, push: (entry: RawEntry) => void): Parser => {
  const parser = parse({
    delimiter: syntax.delimiter,
    quote: syntax.quote,
    encoding: syntax.encoding,
    bom: start === 0,
    columns: false,
    raw: true,
    relax_column_count: true,
    relax_quotes: syntax.relaxQuotes,
    skip_empty_lines: true,
    skip_records_with_error: true,
    // With `raw: true`, csv-parse hands `on_record` a `{ record, raw }` pair.
    on_record: (wrapped: unknown, context) => {
      const { record, raw } = wrapped as { readonly record: Array<string>; readonly raw: string }
      push({ _tag: "Row", fields: record, raw: cleanRaw(raw), end: start + context.bytes })
      return null
    },
    on_skip: (error: CsvError | undefined, raw: string | undefined) => {
      push({ _tag: "Malformed", code: error?.code ?? "CSV_INVALID", raw: cleanRaw(raw ?? "") })
      return undefined
    }
  })
  // Errors also reach the write/end callbacks below; this listener keeps them from being "unhandled".
  parser.on("error", () => undefined)
  return parser
}

const write = (parser: Parser, chunk: Buffer): Promise<void> =>
  new Promise((resolve, reject) => {
    parser.write(chunk, (error) => (error ? reject(error) : resolve()))
  })

const end = (parser: Parser): Promise<void> =>
  new Promise((resolve, reject) => {
    parser.once("error", reject)
    parser.once("finish", () => resolve())
    parser.end()
  })

/**
 * Parses `path` from byte `start`, yielding the entries of each chunk read. `consumed` counts the bytes read,
 * so `start + consumed.bytes` is the end of what was parsed once the generator is done.
 */
export async function* entries(
  path: string,
  start: number,
  syntax: Syntax,
  consumed: { bytes: number }
): AsyncGenerator<ReadonlyArray<RawEntry>> {
  let pending: Array<RawEntry> = []
  const parser = makeParser(syntax, start, (entry) => pending.push(entry))
  const input = createReadStream(path, { start, highWaterMark: 64 * 1024 })
  try {
    for await (const chunk of input as AsyncIterable<Buffer>) {
      consumed.bytes += chunk.length
      await write(parser, chunk)
      if (pending.length > 0) {
        const out = pending
        pending = []
        yield out
      }
    }
    await end(parser)
    if (pending.length > 0) yield pending
  } finally {
    input.destroy()
    parser.destroy()
  }
}

/** Reads the first entry of a file (its header, or why it is malformed); undefined for an empty file. */
export const readFirst = async (path: string, syntax: Syntax): Promise<RawEntry | undefined> => {
  const consumed = { bytes: 0 }
  for await (const chunk of entries(path, 0, syntax, consumed)) {
    if (chunk[0] !== undefined) return chunk[0]
  }
  return undefined
}
