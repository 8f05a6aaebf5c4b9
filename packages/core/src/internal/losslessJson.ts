// Lossless JSON for record values: bigint, Timestamp, Uint8Array and Date survive a round trip through JSON
// as one-key tagged objects ({ "$bigint": "..." }). Used for dead letters and the file run store.
import type { Json } from "../Checkpoint.ts"
import { fromISOString, Timestamp } from "../Timestamp.ts"

const TAGS = new Set(["$bigint", "$timestamp", "$bytes", "$date", "$undefined"])

export const encode = (value: unknown): Json => {
  if (value === null || typeof value === "string" || typeof value === "boolean") return value
  if (typeof value === "number") return Number.isFinite(value) ? value : { $number: String(value) }
  if (typeof value === "bigint") return { $bigint: value.toString() }
  if (value === undefined) return { $undefined: true }
  if (value instanceof Timestamp) return { $timestamp: value.toISOString() }
  if (value instanceof Date) return { $date: Number.isNaN(value.getTime()) ? "Invalid Date" : value.toISOString() }
  if (value instanceof Uint8Array) return { $bytes: Buffer.from(value).toString("base64") }
  if (Array.isArray(value)) return value.map(encode)
  if (typeof value === "object") {
    if ("toJSON" in value && typeof value.toJSON === "function") return encode(value.toJSON())
    const out: Record<string, Json> = {}
    for (const [k, v] of Object.entries(value)) out[k] = encode(v)
    return out
  }
  return String(value)
}

export const decode = (json: Json): unknown => {
  if (json === null || typeof json !== "object") return json
  if (Array.isArray(json)) return json.map(decode)
  const keys = Object.keys(json)
  if (keys.length === 1) {
    const k = keys[0]!
    const v = (json as Record<string, Json>)[k]
    if (TAGS.has(k) || k === "$number") {
      switch (k) {
        case "$bigint":
          return BigInt(v as string)
        case "$timestamp":
          return fromISOString(v as string)
        case "$bytes":
          return new Uint8Array(Buffer.from(v as string, "base64"))
        case "$date":
          return new Date(v as string)
        case "$undefined":
          return undefined
        case "$number":
          return Number(v)
      }
    }
  }
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(json)) out[k] = decode(v as Json)
  return out
}
