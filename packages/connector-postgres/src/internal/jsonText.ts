/**
 * JSON values decoded from COPY text that remember the text they came from, so an encoder can write that text
 * back instead of serialising the value again — but only while the value is provably unchanged.
 *
 * JSON values are mutable, so the text alone would go stale. A decoded container carries, in a private field stamped
 * on it (invisible to keys, spreads, JSON, structured clone and deep equality), a snapshot of its whole tree in one
 * flat array: each container's identity, then an array's length and elements or an object's key count, keys and
 * values in enumeration order, nested containers in place. A value is unchanged when a walk over it meets exactly its
 * snapshot (identity comparisons only); any change — a key set, added or deleted, an element pushed, a nested
 * container replaced, a prototype with enumerable keys — makes the encoder serialise the value as before. The walk
 * costs less than `JSON.stringify`.
 *
 * Only text that needs no COPY escaping is remembered (the field held no backslash, so the JSON has no escapes,
 * tabs or newlines), and written back as is. PostgreSQL prints `json` as stored and `jsonb` canonically; either is
 * valid input for both types, and keeps numbers as stored (`1.50`). A value holding an integer beyond 2^53 is not
 * remembered (it decodes through the lossless parser).
 *
 * @since 0.1.0
 */

import { JsonKeys, NOT_PLAIN, PlainJsonReader, ROUNDED } from "./jsonPlain.ts"

/** A value's snapshot: `[text, …walk]` (see above). */
type Shape = Array<unknown>

// Stamps a private field on an object it did not construct: a base constructor that returns its argument makes
// `super(o)` yield `o`, and the subclass's field initialiser then adds the field to it.
const Identity = function (this: unknown, target: object) {
  return target
} as unknown as new (
  target: object
) => object

class Stamped extends Identity {
  readonly #shape: Shape
  private constructor(target: object, shape: Shape) {
    super(target)
    this.#shape = shape
  }

  static stamp(target: object, shape: Shape): void {
    new Stamped(target, shape)
  }

  static shapeOf(value: object): Shape | undefined {
    return #shape in value ? (value as Stamped).#shape : undefined
  }
}

const TWO_53 = 2 ** 53

const isContainer = (x: unknown): x is object => typeof x === "object" && x !== null

// The walk is written here from index 0 (`top` is the next slot), then copied out at its exact size (one allocation
// per decoded value). Slots past `top` keep old entries: emptying the array every time cost a native call and a new
// backing store per value. Slot 0 (the text, which keeps its chunk's whole text alive) is cleared after each value.
const scratch: Array<unknown> = []
let top = 0

/**
 * Appends the walk of a container to `scratch`. Returns `false` when it holds a number of magnitude 2^53 or more
 * (the native parse may have rounded it: the caller parses again).
 */
const walk = (value: object): boolean => {
  scratch[top++] = value
  if (Array.isArray(value)) {
    scratch[top++] = value.length
    for (let i = 0; i < value.length; i++) {
      const x: unknown = value[i]
      if (isContainer(x)) {
        if (!walk(x)) return false
      } else {
        if (typeof x === "number" && (x >= TWO_53 || x <= -TWO_53)) return false
        scratch[top++] = x
      }
    }
    return true
  }
  const countAt = top++
  let count = 0
  for (const key in value) {
    const x = (value as Record<string, unknown>)[key]
    scratch[top++] = key
    count++
    if (isContainer(x)) {
      if (!walk(x)) return false
    } else {
      if (typeof x === "number" && (x >= TWO_53 || x <= -TWO_53)) return false
      scratch[top++] = x
    }
  }
  scratch[countAt] = count
  return true
}

const reader = new PlainJsonReader()
const sharedKeys = new JsonKeys()

/**
 * Parses the JSON in `text[start, end)` (valid COPY text as it is: no backslash in it) and remembers its text on the
 * result. `keys` is the key memory of the column the text comes from (see `jsonPlain.ts`). Returns `undefined` when
 * that is not possible (malformed text, a number a double may not hold exactly, nesting too deep): the caller decodes
 * it the usual way. A scalar (string, number, boolean, null) is returned as is.
 */
export const decodeKeepingText = (text: string, start: number, end: number, keys: JsonKeys = sharedKeys): unknown => {
  const value = reader.read(text, start, end, keys)
  if (value === ROUNDED) return undefined
  if (value === NOT_PLAIN) return parseKeepingText(text.slice(start, end))
  if (!isContainer(value)) return value
  const walk = reader.walk
  walk[0] = text.slice(start, end)
  Stamped.stamp(value, walk.slice(0, reader.top))
  walk[0] = undefined
  // A very large value's walk is not kept around.
  if (walk.length > 4096) walk.length = 0
  return value
}

// What the reader does not read: the native parse, then the walk over its result.
const parseKeepingText = (text: string): unknown => {
  try {
    const value: unknown = JSON.parse(text)
    if (!isContainer(value)) {
      return typeof value === "number" && (value >= TWO_53 || value <= -TWO_53) ? undefined : value
    }
    scratch[0] = text
    top = 1
    if (!walk(value)) return undefined
    Stamped.stamp(value, scratch.slice(0, top))
    return value
  } catch {
    return undefined
  } finally {
    scratch[0] = undefined
    if (scratch.length > 4096) scratch.length = 0
  }
}

/** Walks `value` against `shape` from `at`; the index after it, or -1 at the first difference. */
const match = (value: object, shape: Shape, at: number): number => {
  let i = at
  if (shape[i++] !== value) return -1
  if (Array.isArray(value)) {
    if (shape[i++] !== value.length) return -1
    for (let k = 0; k < value.length; k++) {
      const x: unknown = value[k]
      if (isContainer(x)) {
        i = match(x, shape, i)
        if (i < 0) return -1
      } else if (shape[i++] !== x) return -1
    }
    return i
  }
  const count = shape[i++] as number
  let seen = 0
  for (const key in value) {
    if (++seen > count || shape[i++] !== key) return -1
    const x = (value as Record<string, unknown>)[key]
    if (isContainer(x)) {
      i = match(x, shape, i)
      if (i < 0) return -1
    } else if (shape[i++] !== x) return -1
  }
  return seen === count ? i : -1
}

/**
 * The text a JSON value was decoded from, ready for COPY, when the value was decoded by `decodeKeepingText` and is
 * unchanged since; else `undefined` (serialise it).
 */
export const printedText = (value: unknown): string | undefined => {
  if (!isContainer(value)) return undefined
  const shape = Stamped.shapeOf(value)
  if (shape === undefined) return undefined
  try {
    return match(value, shape, 1) === shape.length ? (shape[0] as string) : undefined
  } catch {
    // Nesting too deep to walk: serialise it.
    return undefined
  }
}
