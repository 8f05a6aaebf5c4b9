// The `LOAD DATA LOCAL INFILE` path of the sink: rows already encoded by `MysqlCodec.encodeValue` (bigint, number,
// string, Buffer or null) written as the statement's default text format — tab-separated fields, one line per row,
// `\` escapes, `\N` for NULL — and streamed to the server from memory (mysql2's `infileStreamFactory`; no file is
// ever read). Binary values travel as hex and BIT values as decimal text, each through a user variable the
// statement converts back (`unhex`, `cast … as unsigned`), so no byte depends on the file's character set.
import { Readable } from "node:stream"
import * as MysqlCodec from "../MysqlCodec.ts"
import { type Fragment, sql } from "../Sql.ts"

/** The name the statement asks for; the stream factory hands over the rows whatever name the server echoes. */
export const FILE_NAME = "data-mcp-rows"

/** The `Batch.Encoded` format of rows already in this text (`Sink.Writer.encode`). */
export const FORMAT = "mysql/load-data-text"

/** How a column's values travel: as text, as hex (binary types) or as an unsigned integer (BIT). */
type Via = "text" | "hex" | "bits"

const BINARY = new Set(["binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob"])

const viaOf = (column: MysqlCodec.TargetColumn): Via =>
  BINARY.has(column.dataType) ? "hex" : column.dataType === "bit" ? "bits" : "text"

/**
 * `load data local infile 'data-mcp-rows' into table t character set utf8mb4 … (a, @dm_1) set b = unhex(@dm_1)`:
 * the format spelled out (the server's defaults, which MySQL 8 and MariaDB share), the character set explicit.
 */
export const statement = (
  target: { readonly database: string; readonly table: string },
  columns: ReadonlyArray<MysqlCodec.TargetColumn>
): Fragment => {
  const fields: Array<Fragment> = []
  const sets: Array<Fragment> = []
  columns.forEach((column, i) => {
    const via = viaOf(column)
    if (via === "text") {
      fields.push(sql.ident(column.name))
      return
    }
    const variable = sql`@${sql.ident(`dm_${i}`)}`
    fields.push(variable)
    sets.push(
      via === "hex"
        ? sql`${sql.ident(column.name)} = unhex(${variable})`
        : sql`${sql.ident(column.name)} = cast(${variable} as unsigned)`
    )
  })
  const set = sets.length === 0 ? sql.empty : sql` set ${sql.join(sets)}`
  return sql`load data local infile ${FILE_NAME} into table ${sql.ident([target.database, target.table])} character set utf8mb4 fields terminated by '\\t' escaped by '\\\\' lines terminated by '\\n' (${sql.join(fields)})${set}`
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: the format escapes NUL and Ctrl-Z
const SPECIAL = /[\\\t\n\r\0\u001a]/

const escapeChar = (c: string): string => {
  switch (c) {
    case "\\":
      return "\\\\"
    case "\t":
      return "\\t"
    case "\n":
      return "\\n"
    case "\r":
      return "\\r"
    case "\0":
      return "\\0"
    default:
      return "\\Z"
  }
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: the format escapes NUL and Ctrl-Z
const SPECIALS = /[\\\t\n\r\0\u001a]/g

/** A text value escaped for the format: `\`, tab, newline, CR, NUL and Ctrl-Z as their escapes. */
export const escapeText = (s: string): string => (SPECIAL.test(s) ? s.replace(SPECIALS, escapeChar) : s)

/** One field of a value `encodeValue` produced, in the format. */
export const field = (via: Via, v: unknown): string => {
  if (v === null || v === undefined) return "\\N"
  if (via === "hex") return Buffer.isBuffer(v) ? v.toString("hex") : Buffer.from(v as Uint8Array).toString("hex")
  if (typeof v === "string") return escapeText(v)
  // bigint, number (finite: the codec refuses others), and BIT's bigint.
  return String(v)
}

/** The rows as lines of the format. */
export const lines = (
  columns: ReadonlyArray<MysqlCodec.TargetColumn>,
  rows: ReadonlyArray<ReadonlyArray<unknown>>
): Iterable<string> => {
  const vias = columns.map(viaOf)
  const n = vias.length
  return {
    *[Symbol.iterator]() {
      for (const row of rows) {
        let line = field(vias[0]!, row[0])
        for (let c = 1; c < n; c++) line += `\t${field(vias[c]!, row[c])}`
        yield `${line}\n`
      }
    }
  }
}

/** Characters gathered before they are turned into one buffer. */
const GATHER = 256 * 1024

/**
 * The rows as a byte stream, produced as the connection reads it, in pieces of at most `pieceBytes` (each piece is
 * one packet: it must stay under `max_allowed_packet`).
 */
export const stream = (
  columns: ReadonlyArray<MysqlCodec.TargetColumn>,
  rows: ReadonlyArray<ReadonlyArray<unknown>>,
  pieceBytes: number
): Readable => {
  function* pieces(): Generator<Buffer> {
    let parts: Array<string> = []
    let size = 0
    const flush = function* (): Generator<Buffer> {
      const bytes = Buffer.from(parts.join(""), "utf8")
      parts = []
      size = 0
      for (let at = 0; at < bytes.length; at += pieceBytes) yield bytes.subarray(at, at + pieceBytes)
    }
    for (const line of lines(columns, rows)) {
      parts.push(line)
      size += line.length
      if (size >= GATHER) yield* flush()
    }
    if (size > 0) yield* flush()
  }
  return Readable.from(pieces(), { objectMode: false })
}

/** Encoded rows (whole lines, split anywhere between chunks) as a byte stream in pieces of at most `pieceBytes`. */
export const streamChunks = (chunks: ReadonlyArray<Uint8Array>, pieceBytes: number): Readable => {
  function* pieces(): Generator<Uint8Array> {
    for (const chunk of chunks)
      for (let at = 0; at < chunk.byteLength; at += pieceBytes) yield chunk.subarray(at, at + pieceBytes)
  }
  return Readable.from(pieces(), { objectMode: false })
}

/**
 * Records straight to lines, each value checked and encoded by `MysqlCodec.encodeValue` (no row arrays in
 * between): a record with a value its column refuses is left out and named in `rejected` (by index), as
 * `Rows.encode` does.
 */
export const encodeRecords = (
  columns: ReadonlyArray<MysqlCodec.TargetColumn>,
  records: ReadonlyArray<Record<string, unknown>>
): {
  readonly chunk: Buffer
  readonly rows: number
  readonly rejected: Array<{ readonly index: number; readonly reason: string }>
} => {
  const vias = columns.map(viaOf)
  const names = columns.map((c) => c.name)
  const n = columns.length
  const parts: Array<string> = []
  const rejected: Array<{ readonly index: number; readonly reason: string }> = []
  for (let i = 0; i < records.length; i++) {
    const record = records[i]!
    try {
      let line = field(vias[0]!, MysqlCodec.encodeValue(columns[0]!, record[names[0]!]))
      for (let c = 1; c < n; c++) line += `\t${field(vias[c]!, MysqlCodec.encodeValue(columns[c]!, record[names[c]!]))}`
      parts.push(`${line}\n`)
    } catch (e) {
      rejected.push({
        index: i,
        reason: e instanceof MysqlCodec.CodecError ? e.message : "the record could not be encoded"
      })
    }
  }
  return { chunk: Buffer.from(parts.join(""), "utf8"), rows: parts.length, rejected }
}

/** A column's type as an encoded batch names it: its `DATA_TYPE`, ` unsigned` where it is. */
export const typeName = (column: MysqlCodec.TargetColumn): string =>
  `${column.dataType}${column.unsigned === true ? " unsigned" : ""}`

const UNESCAPE = /\\(.)/gs

const unescapeChar = (_: string, c: string): string => {
  switch (c) {
    case "0":
      return "\0"
    case "b":
      return "\b"
    case "n":
      return "\n"
    case "r":
      return "\r"
    case "t":
      return "\t"
    case "Z":
      return "\u001a"
    default:
      return c
  }
}

/**
 * Encoded rows back as values an INSERT binds (the fallback when the server refuses a load): `null`, text as it
 * was, bytes from hex, BIT as `bigint`; the server converts the text to each column's type as LOAD DATA would.
 */
export const parse = (
  columns: ReadonlyArray<MysqlCodec.TargetColumn>,
  chunks: ReadonlyArray<Uint8Array>
): Array<Array<unknown>> => {
  const vias = columns.map(viaOf)
  const text = Buffer.concat(chunks.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength))).toString("utf8")
  const rows: Array<Array<unknown>> = []
  let start = 0
  while (start < text.length) {
    const end = text.indexOf("\n", start)
    const line = text.slice(start, end < 0 ? text.length : end)
    start = end < 0 ? text.length : end + 1
    const fields = line.split("\t")
    rows.push(
      fields.map((f, i) => {
        if (f === "\\N") return null
        if (vias[i] === "hex") return Buffer.from(f, "hex")
        if (vias[i] === "bits") return BigInt(f)
        return f.includes("\\") ? f.replace(UNESCAPE, unescapeChar) : f
      })
    )
  }
  return rows
}

/** Errors that mean the server or the client refuses `LOAD DATA LOCAL` (then the sink inserts instead). */
export const REFUSED_ERRNOS: ReadonlySet<number> = new Set([
  1148, // ER_NOT_ALLOWED_COMMAND: local_infile = 0 (MySQL 5.7, older MariaDB)
  3948, // ER_CLIENT_LOCAL_FILES_DISABLED: local_infile = 0 (MySQL 8)
  4166 // ER_LOAD_INFILE_CAPABILITY_DISABLED: local_infile = 0 (MariaDB 10.6+)
])

/** Whether a failed statement's native cause is one of `REFUSED_ERRNOS`. */
export const isRefusal = (cause: unknown): boolean => {
  const native = (cause as { readonly reason?: { readonly cause?: unknown } } | undefined)?.reason?.cause
  const errno = (native as { readonly errno?: unknown } | undefined)?.errno
  return typeof errno === "number" && REFUSED_ERRNOS.has(errno)
}
