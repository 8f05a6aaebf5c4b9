/**
 * The COPY text format engine: splitting a byte stream into rows and fields, undoing and applying COPY's
 * backslash escapes, and typing each field by its column's kind. Errors are `CopyFailure`s carrying the column
 * index and row number; the public module turns them into `CodecError`s.
 *
 * @since 0.1.0
 */
import {
  ARRAY,
  BOOL,
  BYTEA,
  decodeArray,
  decodeJson,
  decodeScalar,
  decodeTimestampIn,
  FLOAT,
  formatArray,
  formatScalar,
  INT,
  INT8,
  isNumericIn,
  JSON_KIND,
  Malformed,
  NUMERIC,
  parseInt8Range,
  parseIntRange,
  TEXT,
  TIMESTAMP,
  TIMESTAMPTZ
} from "./copyValues.ts"
import { JsonKeys } from "./jsonPlain.ts"
import { decodeKeepingText, printedText } from "./jsonText.ts"
import { type ObjectBuilder, objectBuilderFor } from "./objectBuilders.ts"

/** How one column is decoded and encoded. */
export interface ColumnPlan {
  readonly name: string
  readonly kind: number
  /** The element kind when `kind` is `ARRAY`. */
  readonly elementKind: number
}

/** A failure at a known column and row (1-based); `detail` never quotes the value. */
export class CopyFailure {
  readonly column: number
  readonly row: number
  readonly detail: string
  constructor(column: number, row: number, detail: string) {
    this.column = column
    this.row = row
    this.detail = detail
  }
}

const decodeTyped = (plan: ColumnPlan, s: string): unknown =>
  plan.kind === ARRAY ? decodeArray(s, plan.elementKind) : decodeScalar(plan.kind, s)

/** Undoes COPY text escapes in text[start, end). */
// Octal and hex escapes are bytes of the (UTF-8) server encoding,
// so consecutive ones are collected and decoded together.
export const unescapeCopy = (text: string, start: number, end: number): string => {
  let out = ""
  let from = start
  let i = start
  let bytes: Array<number> | undefined
  const flushBytes = () => {
    if (bytes !== undefined) {
      out += Buffer.from(bytes).toString("utf8")
      bytes = undefined
    }
  }
  while (i < end) {
    if (text.charCodeAt(i) !== 92) {
      i++
      continue
    }
    if (i > from) {
      flushBytes()
      out += text.slice(from, i)
    }
    const c = text.charCodeAt(i + 1)
    i += 2
    let byte = -1
    let ch = ""
    switch (c) {
      case 98:
        ch = "\b"
        break
      case 102:
        ch = "\f"
        break
      case 110:
        ch = "\n"
        break
      case 114:
        ch = "\r"
        break
      case 116:
        ch = "\t"
        break
      case 118:
        ch = "\v"
        break
      case 120: {
        const h1 = hexDigit(text.charCodeAt(i))
        if (h1 < 0 || i >= end) {
          ch = "x"
          break
        }
        byte = h1
        i++
        const h2 = i < end ? hexDigit(text.charCodeAt(i)) : -1
        if (h2 >= 0) {
          byte = byte * 16 + h2
          i++
        }
        break
      }
      default:
        if (c >= 48 && c <= 55) {
          byte = c - 48
          for (let k = 0; k < 2 && i < end; k++) {
            const o = text.charCodeAt(i)
            if (o < 48 || o > 55) break
            byte = byte * 8 + (o - 48)
            i++
          }
          byte &= 0xff
        } else {
          ch = text[i - 1] ?? ""
        }
    }
    if (byte >= 0) {
      if (bytes === undefined) bytes = []
      bytes.push(byte)
    } else {
      flushBytes()
      out += ch
    }
    from = i
  }
  flushBytes()
  return from < end ? out + text.slice(from, end) : out
}

const hexDigit = (c: number): number =>
  c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1

const EMPTY_RECORD: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>

/**
 * The end of a field holding escapes, from `start`: the first tab or newline not escaped by a backslash. A
 * backslash right before the end of a row is malformed.
 */
const escapedFieldEnd = (text: string, start: number): number => {
  let pos = start
  let c = text.charCodeAt(pos)
  while (c !== 9 && c !== 10 && pos < text.length) {
    if (c === 92) {
      if (text.charCodeAt(pos + 1) === 10) throw new Malformed("a backslash before the end of the row")
      pos++
    }
    c = text.charCodeAt(++pos)
  }
  return pos
}

/**
 * Decodes COPY text rows. Feed it chunks in order; it carries an incomplete row (and any split UTF-8 character:
 * rows end at a 0x0A byte, which never occurs inside a multi-byte character) to the next chunk.
 */
export class CopyTextDecoder {
  private readonly plans: ReadonlyArray<ColumnPlan>
  private readonly names: ReadonlyArray<string>
  private readonly safeKeys: boolean
  private pending: Array<Uint8Array> = []
  private pendingBytes = 0
  /** The first column index kept aside: columns from here on go to `aside`, not onto the record. */
  private readonly asideFrom: number
  /** The last decoded row's values of the columns kept aside. */
  readonly aside: Array<unknown>
  rows = 0

  /** Makes a row's record from its values at once (an object literal with the column names as constant keys). */
  private readonly build: ObjectBuilder | undefined
  /** A row's values, reused from row to row when `build` makes the records. */
  private readonly values: Array<unknown>
  /** The key memory of each JSON column (see `jsonPlain.ts`). */
  private readonly jsonKeys: ReadonlyArray<JsonKeys | undefined>

  constructor(plans: ReadonlyArray<ColumnPlan>, asideCount = 0) {
    this.plans = plans
    this.names = plans.map((p) => p.name)
    this.safeKeys = !this.names.includes("__proto__")
    this.asideFrom = plans.length - asideCount
    this.aside = new Array<unknown>(asideCount).fill(undefined)
    this.values = new Array<unknown>(this.asideFrom).fill(undefined)
    this.build = this.safeKeys && this.asideFrom > 0 ? objectBuilderFor(this.names.slice(0, this.asideFrom)) : undefined
    this.jsonKeys = plans.map((p) => (p.kind === JSON_KIND ? new JsonKeys() : undefined))
  }

  /** Bytes of an incomplete row held back for the next chunk. */
  get bufferedBytes(): number {
    return this.pendingBytes
  }

  push(chunk: Uint8Array, out: Array<Record<string, unknown>>): void {
    const nl = chunk.lastIndexOf(10)
    if (nl < 0) {
      if (chunk.length > 0) {
        this.pending.push(Uint8Array.prototype.slice.call(chunk))
        this.pendingBytes += chunk.length
      }
      return
    }
    const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
    let from = 0
    if (this.pending.length > 0) {
      // Only the row that straddles the chunks is joined (not the whole chunk): the rest decodes in place.
      from = bytes.indexOf(10) + 1
      this.pending.push(bytes.subarray(0, from))
      const joined = Buffer.concat(this.pending).toString("utf8")
      this.pending = []
      this.pendingBytes = 0
      this.parse(joined, out)
    }
    if (nl + 1 < chunk.length) {
      // Copy: the producer may reuse its buffer once we return.
      this.pending.push(Uint8Array.prototype.slice.call(chunk, nl + 1))
      this.pendingBytes = chunk.length - nl - 1
    }
    if (from <= nl) this.parse(bytes.toString("utf8", from, nl + 1), out)
  }

  /** Ends the input: a held-back partial row is an error (the stream was cut). */
  end(): void {
    if (this.pendingBytes > 0) {
      const row = this.rows + 1
      this.pending = []
      this.pendingBytes = 0
      throw new CopyFailure(0, row, "the input ended inside a row")
    }
  }

  // Fields are found with native searches (`indexOf` for the tab, the newline and the next backslash), not a
  // character loop: only a field holding a backslash (an escape, or `\N`) is looked at character by character.
  private parse(text: string, out: Array<Record<string, unknown>>): void {
    const plans = this.plans
    const names = this.names
    const build = this.build
    const values = this.values
    const asideFrom = this.asideFrom
    const n = plans.length
    const len = text.length
    const last = n - 1
    let pos = 0
    let column = 0
    // The next tab and the next backslash at or after the current field (`len` when there is none).
    let tab = -1
    let backslash = text.indexOf("\\")
    if (backslash < 0) backslash = len
    try {
      while (pos < len) {
        this.rows++
        const record: Record<string, unknown> = build === undefined ? {} : EMPTY_RECORD
        const rowEnd = text.indexOf("\n", pos)
        if (n === 0) {
          if (rowEnd !== pos) throw new Malformed("the row has more fields than columns")
          pos++
          out.push(record)
          continue
        }
        for (column = 0; column < n; column++) {
          const plan = plans[column]!
          const start = pos
          if (tab < start) {
            tab = text.indexOf("\t", start)
            if (tab < 0) tab = len
          }
          if (backslash < start) {
            backslash = text.indexOf("\\", start)
            if (backslash < 0) backslash = len
          }
          let end = column < last ? tab : rowEnd
          let value: unknown
          if (backslash < end) {
            // Escapes: the field is scanned character by character (an escaped tab does not end it).
            end = escapedFieldEnd(text, start)
            if (text.charCodeAt(end) !== (column < last ? 9 : 10))
              throw new Malformed(`the row has ${column < last ? "fewer" : "more"} fields than columns`)
            value =
              end - start === 2 && text.charCodeAt(start + 1) === 78
                ? null
                : decodeTyped(plan, unescapeCopy(text, start, end))
          } else {
            if (column < last ? end > rowEnd : tab < rowEnd)
              throw new Malformed(`the row has ${column < last ? "fewer" : "more"} fields than columns`)
            switch (plan.kind) {
              case TEXT:
                value = text.slice(start, end)
                break
              case NUMERIC:
                if (!isNumericIn(text, start, end)) throw new Malformed("expected a numeric")
                value = text.slice(start, end)
                break
              case INT:
                value = parseIntRange(text, start, end)
                break
              case INT8:
                value = parseInt8Range(text, start, end)
                break
              case BOOL: {
                const b = end - start === 1 ? text.charCodeAt(start) : 0
                if (b === 116) value = true
                else if (b === 102) value = false
                else throw new Malformed("expected a boolean (t or f)")
                break
              }
              case FLOAT:
                value = decodeScalar(FLOAT, text.slice(start, end))
                break
              case TIMESTAMPTZ:
              case TIMESTAMP:
                value = decodeTimestampIn(text, start, end, plan.kind === TIMESTAMPTZ, text.slice(start, end))
                break
              case JSON_KIND: {
                // No backslash in the field: the text is valid COPY as it is, and is kept for the encoder.
                value = decodeKeepingText(text, start, end, this.jsonKeys[column])
                if (value === undefined) value = decodeJson(text.slice(start, end))
                break
              }
              default:
                value = decodeTyped(plan, text.slice(start, end))
            }
          }
          if (column >= asideFrom) this.aside[column - asideFrom] = value
          else if (build !== undefined) values[column] = value
          else if (this.safeKeys) record[names[column]!] = value
          else
            Object.defineProperty(record, names[column]!, {
              value,
              enumerable: true,
              writable: true,
              configurable: true
            })
          pos = end + 1
        }
        out.push(build === undefined ? record : build(values, 0))
      }
    } catch (e) {
      if (e instanceof Malformed) throw new CopyFailure(column, this.rows, e.detail)
      throw e
    } finally {
      // The last row's values must not stay here: strings cut from `text` keep all of it alive, and a decoder can
      // outlive its rows in the old generation, where V8 counts what it references as live in every young
      // collection until a full one (measured: most chunk texts of a map pipeline were promoted, ~75 B per row).
      values.fill(undefined)
    }
  }
}

// The characters COPY text escapes (and NUL, refused below); a native search rules most strings out at once.
const NEEDS_ESCAPE = /[\\\t\n\r\0]/

// COPY text escaping: backslash, newline, carriage return and tab. NUL cannot be stored in PostgreSQL text.
const escapeCopy = (s: string): string => {
  if (!NEEDS_ESCAPE.test(s)) return s
  let i = 0
  const len = s.length
  for (; i < len; i++) {
    const c = s.charCodeAt(i)
    if (c === 92 || c === 9 || c === 10 || c === 13 || c === 0) break
  }
  if (i === len) return s
  let out = s.slice(0, i)
  let from = i
  for (; i < len; i++) {
    const c = s.charCodeAt(i)
    let rep: string
    if (c === 92) rep = "\\\\"
    else if (c === 9) rep = "\\t"
    else if (c === 10) rep = "\\n"
    else if (c === 13) rep = "\\r"
    else if (c === 0) throw new Malformed("text cannot contain U+0000 (NUL)")
    else continue
    out += s.slice(from, i) + rep
    from = i + 1
  }
  return out + s.slice(from)
}

// One column's text form, before the row is put together (escaped for COPY; `\N` for NULL).
const encodeField = (plan: ColumnPlan, v: unknown): string => {
  if (v === null || v === undefined) return "\\N"
  switch (plan.kind) {
    case INT:
    case INT8:
    case FLOAT:
    case NUMERIC:
    case BOOL:
      // Digits, signs, dots, letters: nothing to escape.
      return formatScalar(plan.kind, v)
    case BYTEA:
      // The hex form's one backslash, escaped for COPY.
      return `\\${formatScalar(BYTEA, v)}`
    case ARRAY:
      return escapeCopy(formatArray(v, plan.elementKind))
    case JSON_KIND:
      return printedText(v) ?? escapeJsonText(formatScalar(JSON_KIND, v))
    default:
      return escapeCopy(formatScalar(plan.kind, v))
  }
}

// JSON text as JSON.stringify writes it holds no tab, newline, carriage return or NUL (they are escaped inside
// strings), so only its backslashes need escaping for COPY.
const escapeJsonText = (s: string): string => (s.indexOf("\\") < 0 ? s : s.replaceAll("\\", "\\\\"))

type RowEncoder = (record: Readonly<Record<string, unknown>>, fail: (column: number, e: unknown) => never) => string

// A row encoder specialised for the columns: each field read with a constant key, so every property load is
// monomorphic, and the text columns escaped inline. Keys are embedded as JSON string literals (never raw text).
// Compiled encoders by column plan: a sink makes an encoder per batch, and a fresh function would both cost a
// compile and start cold. Bounded: the oldest plan goes first.
const compiledEncoders = new Map<string, RowEncoder | undefined>()

const rowEncoderFor = (plans: ReadonlyArray<ColumnPlan>): RowEncoder | undefined => {
  const key = JSON.stringify(plans.map((p) => [p.name, p.kind, p.elementKind]))
  if (compiledEncoders.has(key)) return compiledEncoders.get(key)
  const compiled = compileRowEncoder(plans)
  if (compiledEncoders.size >= 256) compiledEncoders.delete(compiledEncoders.keys().next().value!)
  compiledEncoders.set(key, compiled)
  return compiled
}

const compileRowEncoder = (plans: ReadonlyArray<ColumnPlan>): RowEncoder | undefined => {
  if (plans.length === 0) return undefined
  const lines: Array<string> = ['let out = ""', "let v", "let c = 0", "try {"]
  plans.forEach((plan, i) => {
    lines.push(`c = ${i}`, `v = r[${JSON.stringify(plan.name)}]`)
    // String literals of the generated code come from JSON.stringify: a tab, "\N" (NULL) and the key, escaped.
    const sep = JSON.stringify(i === 0 ? "" : "\t")
    if (plan.kind === TEXT)
      lines.push(
        `if (v === null || v === undefined) out += ${JSON.stringify(i === 0 ? "\\N" : "\t\\N")}`,
        `else if (typeof v === "string") out += ${sep} + esc(v)`,
        `else out += ${sep} + field(p[${i}], v)`
      )
    else lines.push(`out += ${sep} + field(p[${i}], v)`)
  })
  lines.push("} catch (e) { fail(c, e) }", `return out + ${JSON.stringify("\n")}`)
  try {
    const make = new Function("p", "field", "esc", `return (r, fail) => { ${lines.join("\n")} }`)
    // The plans are copied: the compiled function outlives the caller's array.
    return make(
      plans.map((p) => ({ ...p })),
      encodeField,
      escapeCopy
    ) as RowEncoder
  } catch {
    return undefined
  }
}

/** Encodes records to COPY text rows. */
export class CopyTextEncoder {
  private readonly plans: ReadonlyArray<ColumnPlan>
  private readonly compiled: RowEncoder | undefined
  rows = 0

  constructor(plans: ReadonlyArray<ColumnPlan>) {
    this.plans = plans
    this.compiled = rowEncoderFor(plans)
  }

  private readonly fail = (column: number, e: unknown): never => {
    if (e instanceof Malformed) throw new CopyFailure(column, this.rows, e.detail)
    throw e
  }

  encodeRow(record: Readonly<Record<string, unknown>>): string {
    if (this.compiled !== undefined) {
      this.rows++
      return this.compiled(record, this.fail)
    }
    return this.encodeRowSlowly(record)
  }

  private encodeRowSlowly(record: Readonly<Record<string, unknown>>): string {
    const plans = this.plans
    this.rows++
    let out = ""
    let column = 0
    try {
      for (; column < plans.length; column++) {
        const plan = plans[column]!
        const v = record[plan.name]
        if (column > 0) out += "\t"
        if (v === null || v === undefined) {
          out += "\\N"
          continue
        }
        switch (plan.kind) {
          case INT:
          case INT8:
          case FLOAT:
          case NUMERIC:
          case BOOL:
            // Digits, signs, dots, letters: nothing to escape.
            out += formatScalar(plan.kind, v)
            break
          case BYTEA:
            // The hex form's one backslash, escaped for COPY.
            out += `\\${formatScalar(BYTEA, v)}`
            break
          case ARRAY:
            out += escapeCopy(formatArray(v, plan.elementKind))
            break
          default:
            out += escapeCopy(formatScalar(plan.kind, v))
        }
      }
    } catch (e) {
      if (e instanceof Malformed) throw new CopyFailure(column, this.rows, e.detail)
      throw e
    }
    return `${out}\n`
  }
}
