/**
 * A JSON reader for text with no backslash (so no string escapes): PostgreSQL's json and jsonb fields that COPY
 * prints as they are. It gives the value `JSON.parse` gives, and writes the value's walk (the snapshot described in
 * `jsonText.ts`) while it reads, where `JSON.parse` needs a second pass over the result for it.
 *
 * It is faster than `JSON.parse` followed by that walk on the small, repetitive documents jsonb columns hold,
 * because it does not look keys up: a `JsonKeys` remembers the key sequences its column's objects had, so a key
 * already seen in that place is recognised where it lies in the text, and an object whose whole key sequence was
 * seen before is made by one object literal with those keys (`objectBuilders.ts`, as the COPY decoder makes its
 * records).
 *
 * It reads only what PostgreSQL prints (valid JSON: its json type checks input, and jsonb output escapes every
 * control character). Anything else it does not handle — a key that is an array index or `__proto__` (JavaScript
 * orders or treats them specially), nesting deeper than 256, text that is not JSON — makes it stop with `NOT_PLAIN`
 * and the caller falls back to `JSON.parse`. A number of magnitude 2^53 or more makes it stop with `ROUNDED`: the
 * caller decodes that text losslessly.
 *
 * @since 0.1.0
 */

import { type ObjectBuilder, objectBuilderFor } from "./objectBuilders.ts"

/** The text is outside what this reader reads: parse it with `JSON.parse`. */
export const NOT_PLAIN: unique symbol = Symbol("NOT_PLAIN")
/** The text holds a number a double may not hold exactly: decode it losslessly. */
export const ROUNDED: unique symbol = Symbol("ROUNDED")

type Stop = typeof NOT_PLAIN | typeof ROUNDED

const TWO_53 = 2 ** 53
const MAX_DEPTH = 256
// Bounds on what a column's key memory holds, whatever its documents' keys: children per key, keys in all, and the
// size of an object made by a built literal. Past them, keys are cut from the text and objects are assigned to.
const MAX_CHILDREN = 16
const MAX_NODES = 4096
const MAX_BUILT_KEYS = 32
// An object literal is built for a key sequence once it has been read this many times.
const BUILD_AFTER = 4

/** One key in a remembered key sequence: the keys seen after it, and the literal that makes objects ending here. */
class KeyNode {
  readonly parent: KeyNode | undefined
  readonly key: string
  readonly depth: number
  readonly keys: Array<string> = []
  readonly next: Array<KeyNode> = []
  uses = 0
  build: ObjectBuilder | undefined = undefined

  constructor(parent: KeyNode | undefined, key: string) {
    this.parent = parent
    this.key = key
    this.depth = parent === undefined ? 0 : parent.depth + 1
  }
}

// The key as the engine's unique copy of that string, so property stores with it need no string-table lookup.
const internalised = (key: string): string => Object.keys({ [key]: 0 })[0]!

const buildFor = (node: KeyNode): ObjectBuilder => {
  const keys: Array<string> = []
  for (let n: KeyNode | undefined = node; n !== undefined && n.depth > 0; n = n.parent) keys.push(n.key)
  // `__proto__` and index keys never get here (see `newKey`).
  return objectBuilderFor(keys.reverse())
}

/**
 * What one column's JSON objects looked like: the key sequences seen, shared by the reads of that column's values.
 * Bounded in size; a column whose documents have ever-new keys is read correctly, only without the speed-up.
 */
export class JsonKeys {
  readonly root = new KeyNode(undefined, "")
  nodes = 0
}

/**
 * Reads JSON from `text[start, end)`, which holds no backslash. Returns the value, with its walk in `walk[1, top)`
 * (`top` is set on the reader), or a `Stop`.
 */
export class PlainJsonReader {
  /** The walk of the last value read, from index 1 up to `top` (index 0 is the caller's). */
  readonly walk: Array<unknown> = []
  top = 1
  private text = ""
  private pos = 0
  private end = 0
  private keyMemory: JsonKeys = new JsonKeys()
  // Values and keys of the containers being read, innermost last.
  private readonly values: Array<unknown> = []
  private valuesTop = 0
  private readonly keys: Array<string> = []
  private keysTop = 0

  read(text: string, start: number, end: number, keys: JsonKeys): unknown | Stop {
    this.text = text
    this.pos = start
    this.end = end
    this.keyMemory = keys
    this.top = 1
    this.valuesTop = 0
    this.keysTop = 0
    const value = this.value(0)
    const result = value === NOT_PLAIN || value === ROUNDED || this.space() === -1 ? value : NOT_PLAIN
    // The text is the caller's whole chunk: not kept. Slots past the tops keep old entries (overwritten by the next
    // read, cheaper than clearing), except after a very large value.
    this.text = ""
    if (this.values.length > 4096) this.values.length = 0
    if (this.keys.length > 4096) this.keys.length = 0
    return result
  }

  /** Skips whitespace; the character code at the position, or -1 at the end. */
  private space(): number {
    const text = this.text
    const end = this.end
    let pos = this.pos
    let c = text.charCodeAt(pos)
    while (pos < end && (c === 32 || c === 10 || c === 13 || c === 9)) c = text.charCodeAt(++pos)
    this.pos = pos
    return pos < end ? c : -1
  }

  private value(depth: number): unknown | Stop {
    const c = this.space()
    const text = this.text
    const pos = this.pos
    switch (c) {
      case 34: {
        const close = text.indexOf('"', pos + 1)
        if (close < 0 || close >= this.end) return NOT_PLAIN
        this.pos = close + 1
        return text.slice(pos + 1, close)
      }
      case 123:
        return depth < MAX_DEPTH ? this.object(depth) : NOT_PLAIN
      case 91:
        return depth < MAX_DEPTH ? this.array(depth) : NOT_PLAIN
      case 116:
        return this.word("true", true)
      case 102:
        return this.word("false", false)
      case 110:
        return this.word("null", null)
      default:
        return this.number(c)
    }
  }

  private word<A>(word: string, value: A): A | Stop {
    if (this.pos + word.length > this.end || !this.text.startsWith(word, this.pos)) return NOT_PLAIN
    this.pos += word.length
    return value
  }

  // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?; integers of up to 15 digits are summed, others parsed natively.
  // Past the end, a character reads as -1.
  private number(first: number): number | Stop {
    const text = this.text
    const end = this.end
    const start = this.pos
    let pos = start
    let c = first
    if (c === 45) c = ++pos < end ? text.charCodeAt(pos) : -1
    if (c === 48) c = ++pos < end ? text.charCodeAt(pos) : -1
    else if (c >= 49 && c <= 57) {
      const digits = pos
      let n = 0
      do {
        n = n * 10 + (c - 48)
        c = ++pos < end ? text.charCodeAt(pos) : -1
      } while (c >= 48 && c <= 57)
      if (c !== 46 && c !== 101 && c !== 69 && pos - digits <= 15) {
        this.pos = pos
        return first === 45 ? -n : n
      }
    } else return NOT_PLAIN
    if (c === 46) {
      c = ++pos < end ? text.charCodeAt(pos) : -1
      if (!(c >= 48 && c <= 57)) return NOT_PLAIN
      do c = ++pos < end ? text.charCodeAt(pos) : -1
      while (c >= 48 && c <= 57)
    }
    if (c === 101 || c === 69) {
      c = ++pos < end ? text.charCodeAt(pos) : -1
      if (c === 43 || c === 45) c = ++pos < end ? text.charCodeAt(pos) : -1
      if (!(c >= 48 && c <= 57)) return NOT_PLAIN
      do c = ++pos < end ? text.charCodeAt(pos) : -1
      while (c >= 48 && c <= 57)
    }
    this.pos = pos
    const x = Number(text.slice(start, pos))
    return x >= TWO_53 || x <= -TWO_53 ? ROUNDED : x
  }

  private array(depth: number): Array<unknown> | Stop {
    const walk = this.walk
    const at = this.top
    this.top += 2
    const from = this.valuesTop
    this.pos++
    let c = this.space()
    if (c !== 93) {
      for (;;) {
        const v = this.value(depth + 1)
        if (v === NOT_PLAIN || v === ROUNDED) return v
        this.values[this.valuesTop++] = v
        if (typeof v !== "object" || v === null) walk[this.top++] = v
        c = this.space()
        this.pos++
        if (c === 44) continue
        if (c === 93) break
        return NOT_PLAIN
      }
    } else this.pos++
    const array = this.values.slice(from, this.valuesTop)
    this.valuesTop = from
    walk[at] = array
    walk[at + 1] = array.length
    return array
  }

  private object(depth: number): object | Stop {
    const walk = this.walk
    const text = this.text
    const memory = this.keyMemory
    const at = this.top
    this.top += 2
    const from = this.valuesTop
    const keysFrom = this.keysTop
    // The key sequence read so far, while it is one remembered (else undefined).
    let node: KeyNode | undefined = memory.root
    this.pos++
    let c = this.space()
    if (c !== 125) {
      for (;;) {
        if (c !== 34) return NOT_PLAIN
        const keyStart = this.pos + 1
        let key: string | undefined
        let close = -1
        if (node !== undefined) {
          // A remembered key is recognised in place: its text, then the closing quote (keys hold no quote).
          const known = node.keys
          let i = 0
          for (; i < known.length; i++) {
            const k = known[i]!
            const after = keyStart + k.length
            if (after < this.end && text.charCodeAt(after) === 34 && text.startsWith(k, keyStart)) {
              close = after
              break
            }
          }
          if (close >= 0) {
            key = known[i]!
            node = node.next[i]
          } else {
            close = text.indexOf('"', keyStart)
            if (close < 0 || close >= this.end) return NOT_PLAIN
            key = this.newKey(keyStart, close)
            if (key === undefined) return NOT_PLAIN
            if (known.length < MAX_CHILDREN && memory.nodes < MAX_NODES) {
              key = internalised(key)
              const child: KeyNode = new KeyNode(node, key)
              node.keys.push(key)
              node.next.push(child)
              memory.nodes++
              node = child
            } else node = undefined
          }
        } else {
          close = text.indexOf('"', keyStart)
          if (close < 0 || close >= this.end) return NOT_PLAIN
          key = this.newKey(keyStart, close)
          if (key === undefined) return NOT_PLAIN
        }
        this.pos = close + 1
        if (this.space() !== 58) return NOT_PLAIN
        this.pos++
        walk[this.top++] = key
        const v = this.value(depth + 1)
        if (v === NOT_PLAIN || v === ROUNDED) return v
        this.keys[this.keysTop++] = key
        this.values[this.valuesTop++] = v
        if (typeof v !== "object" || v === null) walk[this.top++] = v
        c = this.space()
        this.pos++
        if (c === 44) {
          c = this.space()
          continue
        }
        if (c === 125) break
        return NOT_PLAIN
      }
    } else this.pos++
    const count = this.valuesTop - from
    let object: Record<string, unknown>
    if (node !== undefined && node.build !== undefined) object = node.build(this.values, from)
    else {
      object = {}
      for (let i = 0; i < count; i++) object[this.keys[keysFrom + i]!] = this.values[from + i]
      if (node !== undefined && count > 0 && count <= MAX_BUILT_KEYS && ++node.uses >= BUILD_AFTER)
        node.build = buildFor(node)
    }
    this.valuesTop = from
    this.keysTop = keysFrom
    walk[at] = object
    walk[at + 1] = count
    return object
  }

  /** A key not remembered, cut from the text; `undefined` for the keys this reader does not handle. */
  private newKey(start: number, close: number): string | undefined {
    const first = this.text.charCodeAt(start)
    if (first >= 48 && first <= 57) return undefined
    const key = this.text.slice(start, close)
    return key === "__proto__" ? undefined : key
  }
}
