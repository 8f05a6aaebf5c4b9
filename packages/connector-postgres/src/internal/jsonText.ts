/**
 * JSON values decoded from COPY text that remember the text they came from, so an encoder can write that text
 * back instead of serialising the value again — but only while the value is provably unchanged.
 *
 * JSON values are mutable, so the text alone would go stale. Each object and array a decode makes carries, in a
 * private field stamped on it (invisible to keys, spreads, JSON, structured clone and deep equality), a snapshot of
 * its contents: an object's keys and values in enumeration order, an array's elements. A value is unchanged when
 * every container in its tree still holds exactly its snapshot (same keys in the same order, identical values,
 * same array lengths); a replaced nested container is not the stamped one, so it fails the check. Any change —
 * a key set, added or deleted, an element pushed, a prototype with enumerable keys — makes the encoder serialise
 * the value as before. Checking costs a walk with identity comparisons, cheaper than `JSON.stringify`.
 *
 * Only text that needs no COPY escaping is remembered (the field held no backslash, so the JSON has no escapes,
 * tabs or newlines), and written back as is. PostgreSQL prints `json` as stored and `jsonb` canonically; either is
 * valid input for both types, and keeps numbers exactly as stored (`1.50`, integers beyond 2^53).
 *
 * @since 0.1.0
 */

/** A container's snapshot: `[text, …contents]`; `text` only on the root of a decoded value. */
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

/**
 * Stamps every container of a freshly parsed value with its snapshot (`text` on the root). Returns `false` when the
 * value holds a number of magnitude 2^53 or more (the native parse may have rounded it: the caller parses again).
 */
const stampTree = (value: unknown, text: string | undefined): boolean => {
  if (typeof value === "number") return value < TWO_53 && value > -TWO_53
  if (typeof value !== "object" || value === null) return true
  if (Array.isArray(value)) {
    const shape: Shape = new Array(value.length + 1)
    shape[0] = text
    for (let i = 0; i < value.length; i++) {
      const x: unknown = value[i]
      if (!stampTree(x, undefined)) return false
      shape[i + 1] = x
    }
    Stamped.stamp(value, shape)
    return true
  }
  const shape: Shape = [text]
  for (const key in value) {
    const x = (value as Record<string, unknown>)[key]
    if (!stampTree(x, undefined)) return false
    shape.push(key, x)
  }
  Stamped.stamp(value, shape)
  return true
}

/**
 * Parses JSON `text` (valid COPY text as it is: no backslash in it) and remembers the text on the result. Returns
 * `undefined` when that is not possible (malformed text, a number the native parse may have rounded, nesting too
 * deep): the caller decodes it the usual way.
 */
export const decodeKeepingText = (text: string): unknown => {
  let value: unknown
  try {
    value = JSON.parse(text)
    return stampTree(value, text) ? value : undefined
  } catch {
    return undefined
  }
}

/** Whether a stamped container still holds exactly its snapshot, and so does every container in it. */
const unchanged = (value: object, shape: Shape): boolean => {
  if (Array.isArray(value)) {
    if (value.length !== shape.length - 1) return false
    for (let i = 0; i < value.length; i++) {
      const x: unknown = value[i]
      if (x !== shape[i + 1] || !unchangedInner(x)) return false
    }
    return true
  }
  let i = 1
  for (const key in value) {
    const x = (value as Record<string, unknown>)[key]
    if (key !== shape[i] || x !== shape[i + 1] || !unchangedInner(x)) return false
    i += 2
  }
  return i === shape.length
}

const unchangedInner = (x: unknown): boolean => {
  if (typeof x !== "object" || x === null) return true
  const shape = Stamped.shapeOf(x)
  return shape !== undefined && unchanged(x, shape)
}

/**
 * The text a JSON value was decoded from, ready for COPY, when the value is a container decoded by
 * `decodeKeepingText` and unchanged since; else `undefined` (serialise it).
 */
export const printedText = (value: unknown): string | undefined => {
  if (typeof value !== "object" || value === null) return undefined
  const shape = Stamped.shapeOf(value)
  if (shape === undefined) return undefined
  const text = shape[0]
  if (typeof text !== "string") return undefined
  return unchanged(value, shape) ? text : undefined
}
