/**
 * Conversions between record values and `@bufbuild/cel` values.
 *
 * Records go in lazily: a plain object becomes a CEL map through `RecordMap`, an adapter that converts a field
 * only when the expression reads it, so `record.amount > 10.0` costs one property read, not a copy of the record.
 * Only plain data is ever exposed: own, enumerable data properties of plain objects (getters are never called,
 * inherited members such as `constructor` or `__proto__` are never seen), arrays, and a few known classes.
 *
 * @internal
 */
import {
  type CelInput,
  type CelList,
  type CelMap,
  type CelValue,
  celList,
  celMap,
  isCelList,
  isCelMap,
  isCelType,
  isCelUint
} from "@bufbuild/cel"
import { Timestamp } from "../Timestamp.ts"

const hasOwn = Object.prototype.hasOwnProperty
const getOwnPropertyDescriptor = Object.getOwnPropertyDescriptor
const getPrototypeOf = Object.getPrototypeOf
const ObjectPrototype = Object.prototype
const ArrayPrototype = Array.prototype
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)
const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER)
const MICROS_PER_SECOND = 1_000_000n

/** Whether a value is a plain object: a `{}` literal, `JSON.parse` output or `Object.create(null)`. */
export const isPlainObject = (u: unknown): u is Readonly<Record<string, unknown>> => {
  if (typeof u !== "object" || u === null) return false
  const proto: unknown = getPrototypeOf(u)
  return proto === ObjectPrototype || proto === null
}

/**
 * Reads an own, enumerable data property without running any code: no getter, no inherited member.
 * Returns `undefined` when there is no such property.
 */
const readOwn = (obj: object, key: string): unknown => {
  if (!hasOwn.call(obj, key)) return undefined
  const desc = getOwnPropertyDescriptor(obj, key)
  if (desc === undefined || desc.enumerable !== true || !("value" in desc)) return undefined
  return desc.value
}

/** The own, enumerable, data-valued string keys of an object. */
const ownDataKeys = (obj: object): Array<string> => {
  const keys: Array<string> = []
  for (const key of Object.keys(obj)) {
    const desc = getOwnPropertyDescriptor(obj, key)
    if (desc !== undefined && "value" in desc) keys.push(key)
  }
  return keys
}

/**
 * A read-only map view of a plain object, handed to `celMap`. Fields are converted on access. Only string keys
 * exist; a lookup with any other key type finds nothing.
 */
class RecordMap implements ReadonlyMap<string, CelInput> {
  readonly #obj: object
  constructor(obj: object) {
    this.#obj = obj
  }
  get size(): number {
    return ownDataKeys(this.#obj).length
  }
  get(key: string): CelInput | undefined {
    if (typeof key !== "string") return undefined
    const raw = readOwn(this.#obj, key)
    return raw === undefined ? undefined : toCel(raw)
  }
  has(key: string): boolean {
    return typeof key === "string" && readOwn(this.#obj, key) !== undefined
  }
  keys(): MapIterator<string> {
    return ownDataKeys(this.#obj)[Symbol.iterator]()
  }
  *entries(): MapIterator<[string, CelInput]> {
    for (const key of ownDataKeys(this.#obj)) {
      const value = this.get(key)
      if (value !== undefined) yield [key, value]
    }
  }
  *values(): MapIterator<CelInput> {
    for (const [, value] of this.entries()) yield value
  }
  forEach(callback: (value: CelInput, key: string, map: ReadonlyMap<string, CelInput>) => void): void {
    for (const [key, value] of this.entries()) callback(value, key, this)
  }
  [Symbol.iterator](): MapIterator<[string, CelInput]> {
    return this.entries()
  }
}

/** Wraps a plain object as a CEL map without copying it. */
export const recordToCel = (obj: object): CelMap => celMap(new RecordMap(obj))

const arrayToCel = (arr: ReadonlyArray<unknown>): CelList => {
  const out: Array<CelInput> = new Array(arr.length)
  for (let i = 0; i < arr.length; i++) {
    const raw = readOwn(arr, String(i))
    out[i] = raw === undefined ? null : toCel(raw)
  }
  return celList(out)
}

const mapToCel = (map: ReadonlyMap<unknown, unknown>): CelMap => {
  const out = new Map<string | bigint | boolean, CelInput>()
  for (const [key, value] of map) {
    let k: string | bigint | boolean | undefined
    if (typeof key === "string" || typeof key === "boolean") k = key
    else if (typeof key === "bigint") k = key
    else if (typeof key === "number" && Number.isSafeInteger(key)) k = BigInt(key)
    if (k !== undefined) out.set(k, toCel(value))
  }
  return celMap(out)
}

/** A `google.protobuf.Timestamp` message as a plain object; `@bufbuild/cel` reflects it into a CEL timestamp. */
const timestampMessage = (micros: bigint): CelInput => {
  let seconds = micros / MICROS_PER_SECOND
  let rest = micros % MICROS_PER_SECOND
  if (rest < 0n) {
    seconds -= 1n
    rest += MICROS_PER_SECOND
  }
  return { $typeName: "google.protobuf.Timestamp", seconds, nanos: Number(rest) * 1000 }
}

/**
 * Converts one record value to a CEL input. Numbers are doubles, bigints ints, `Timestamp` and valid `Date`
 * values timestamps, `Uint8Array` bytes, arrays lists, plain objects and `Map`s maps. Anything else (class
 * instances, functions, symbols, `undefined`, an invalid `Date`) becomes `null`.
 */
export const toCel = (u: unknown): CelInput => {
  switch (typeof u) {
    case "string":
    case "number":
    case "boolean":
      return u
    case "bigint":
      return u
    case "object": {
      if (u === null) return null
      if (isPlainObject(u)) return celMap(new RecordMap(u))
      if (Array.isArray(u)) return getPrototypeOf(u) === ArrayPrototype ? arrayToCel(u) : null
      if (u instanceof Uint8Array) return u
      if (u instanceof Timestamp) return timestampMessage(u.micros)
      if (u instanceof Date) {
        const ms = u.getTime()
        return Number.isFinite(ms) ? timestampMessage(BigInt(ms) * 1000n) : null
      }
      if (u instanceof Map) return mapToCel(u)
      return null
    }
    default:
      return null
  }
}

const bigintToJs = (b: bigint): number | bigint => (b >= MIN_SAFE && b <= MAX_SAFE ? Number(b) : b)

/** Thrown by `fromCel` for a result that has no plain JS form. */
export class UnsupportedResult extends Error {}

interface ReflectLike {
  readonly desc: { readonly typeName: string }
  readonly message: { readonly seconds?: unknown; readonly nanos?: unknown }
}

const isReflectLike = (u: object): u is ReflectLike => {
  const desc: unknown = (u as { desc?: unknown }).desc
  const message: unknown = (u as { message?: unknown }).message
  return (
    typeof desc === "object" &&
    desc !== null &&
    typeof (desc as { typeName?: unknown }).typeName === "string" &&
    typeof message === "object" &&
    message !== null
  )
}

const durationString = (seconds: bigint, nanos: number): string => {
  if (nanos === 0) return `${seconds}s`
  const negative = seconds < 0n || nanos < 0
  const s = seconds < 0n ? -seconds : seconds
  const n = Math.abs(nanos).toString().padStart(9, "0").replace(/0+$/, "")
  return `${negative ? "-" : ""}${s}.${n}s`
}

const setKey = (out: Record<string, unknown>, key: string, value: unknown): void => {
  // defineProperty, so a "__proto__" key is an ordinary own property and never a prototype change.
  Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true })
}

/**
 * Converts a CEL result to a plain JS value: ints and uints to `number` when safe (else `bigint`), lists to
 * arrays, maps to plain objects, timestamps to `Timestamp`, durations to their protobuf JSON string (`"90s"`),
 * types to their name. Throws `UnsupportedResult` for anything else (a protobuf message).
 */
export const fromCel = (v: CelValue): unknown => {
  switch (typeof v) {
    case "string":
    case "number":
    case "boolean":
      return v
    case "bigint":
      return bigintToJs(v)
    default:
      break
  }
  if (v === null || v instanceof Uint8Array) return v
  if (isCelList(v)) {
    const out: Array<unknown> = []
    for (const item of v) out.push(fromCel(item))
    return out
  }
  if (isCelMap(v)) {
    const out: Record<string, unknown> = {}
    for (const [key, value] of v) {
      const k = typeof key === "object" ? String(bigintToJs(key.value)) : String(key)
      setKey(out, k, fromCel(value))
    }
    return out
  }
  if (isCelUint(v)) return bigintToJs(v.value)
  if (isCelType(v)) return v.name
  const obj: object = v
  if (isReflectLike(obj)) {
    const seconds = obj.message.seconds
    const nanos = obj.message.nanos
    if (typeof seconds === "bigint" && typeof nanos === "number") {
      if (obj.desc.typeName === "google.protobuf.Timestamp") {
        return new Timestamp(seconds * MICROS_PER_SECOND + BigInt(Math.trunc(nanos / 1000)), true)
      }
      if (obj.desc.typeName === "google.protobuf.Duration") return durationString(seconds, nanos)
    }
    throw new UnsupportedResult(`unsupported result type ${obj.desc.typeName}`)
  }
  throw new UnsupportedResult("unsupported result type")
}
