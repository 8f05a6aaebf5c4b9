// Splits a file into lines at the byte level, from a byte offset, without loading the file: each line keeps
// its absolute start and the offset just after its newline (or the end of the file for a last line without
// one). "\n" never occurs inside a multi-byte UTF-8 sequence, so splitting bytes before decoding is safe.
import { createReadStream } from "node:fs"

/** A non-blank line of text and where it sits in the file. */
export interface Line {
  readonly text: string
  /** Absolute byte offset of the line's first byte. */
  readonly start: number
  /** Absolute byte offset just after the line's newline. */
  readonly end: number
}

const NEWLINE = 0x0a
const BOM = Buffer.from([0xef, 0xbb, 0xbf])

const decode = (bytes: Buffer, atFileStart: boolean): string => {
  let body = bytes
  if (atFileStart && body.subarray(0, 3).equals(BOM)) body = body.subarray(3)
  let length = body.length
  if (length > 0 && body[length - 1] === 0x0d) length-- // CRLF
  return body.toString("utf8", 0, length)
}

const isBlank = (text: string): boolean => text.trim().length === 0

/**
 * Reads `path` from byte `start`, yielding the non-blank lines of each chunk read. `consumed` counts the bytes
 * read, so `start + consumed.bytes` is the end of what was read once the generator is done.
 */
export async function* lines(
  path: string,
  start: number,
  consumed: { bytes: number }
): AsyncGenerator<ReadonlyArray<Line>> {
  const input = createReadStream(path, { start, highWaterMark: 64 * 1024 })
  // Bytes of a line that started in an earlier chunk.
  let carry: Array<Buffer> = []
  let carryStart = start
  let position = start
  try {
    for await (const chunk of input as AsyncIterable<Buffer>) {
      consumed.bytes += chunk.length
      const out: Array<Line> = []
      let from = 0
      let newline = chunk.indexOf(NEWLINE, from)
      while (newline !== -1) {
        const piece = chunk.subarray(from, newline)
        const bytes = carry.length === 0 ? piece : Buffer.concat([...carry, piece])
        const lineStart = carry.length === 0 ? position + from : carryStart
        const end = position + newline + 1
        const text = decode(bytes, lineStart === 0)
        if (!isBlank(text)) out.push({ text, start: lineStart, end })
        carry = []
        from = newline + 1
        newline = chunk.indexOf(NEWLINE, from)
      }
      if (from < chunk.length) {
        if (carry.length === 0) carryStart = position + from
        carry.push(chunk.subarray(from))
      }
      position += chunk.length
      if (out.length > 0) yield out
    }
    if (carry.length > 0) {
      const text = decode(Buffer.concat(carry), carryStart === 0)
      if (!isBlank(text)) yield [{ text, start: carryStart, end: position }]
    }
  } finally {
    input.destroy()
  }
}
