/**
 * A synthetic source of deterministic records — `{ id, name, email, amount, active, category, createdAt }` —
 * for demos, tests and benchmarks. Record `n` depends only on the seed and `n`, so the same seed always gives
 * the same data, a resumed read jumps straight to its offset, and memory stays constant whatever the count;
 * `count: Infinity` makes an unbounded source. The checkpoint is the offset (records delivered).
 *
 * @since 0.1.0
 */
import { Effect, Option, Schema, Stream } from "effect"
import * as Batch from "../../Batch.ts"
import * as Checkpoint from "../../Checkpoint.ts"
import * as Config from "../../Config.ts"
import * as Source from "../../Source.ts"
import * as Timestamp from "../../Timestamp.ts"
import { batchSizeOf, NonEmpty, PositiveInt, untilEnd } from "../internal/options.ts"

/**
 * A generated record.
 *
 * @category models
 * @since 0.1.0
 */
export interface Row {
  /** 1, 2, 3, … (the offset plus one). */
  readonly id: number
  readonly name: string
  readonly email: string
  /** A non-negative amount with at most two decimals. */
  readonly amount: number
  readonly active: boolean
  readonly category: string
  /** Increases with `id`: one second apart plus a random number of microseconds. */
  readonly createdAt: Timestamp.Timestamp
}

/**
 * The field names of a generated record, in order.
 *
 * @category constants
 * @since 0.1.0
 */
export const fields = ["id", "name", "email", "amount", "active", "category", "createdAt"] as const

/**
 * A field of a generated record.
 *
 * @category models
 * @since 0.1.0
 */
export type Field = (typeof fields)[number]

const DEFAULT_START = "2024-01-01T00:00:00Z"

/**
 * The options of `Generator.source`.
 *
 * @category schemas
 * @since 0.1.0
 */
export const SourceOptions = Schema.Struct({
  count: Schema.Number.check(
    Schema.makeFilter((n: number) =>
      n === Number.POSITIVE_INFINITY || (Number.isInteger(n) && n >= 0)
        ? undefined
        : "Expected a non-negative integer or Infinity"
    )
  ).annotate({ description: "How many records to generate; Infinity for an unbounded source." }),
  seed: Schema.optionalKey(
    Schema.Int.annotate({ description: "The PRNG seed: the same seed gives the same data (default 1)." })
  ),
  batchSize: Schema.optionalKey(
    PositiveInt.annotate({ description: "Records per batch (default: the runner's batch size hint, else 1000)." })
  ),
  fields: Schema.optionalKey(
    Schema.Array(Schema.Literals(fields))
      .check(Schema.isMinLength(1))
      .annotate({ description: "The fields to include (default all)." })
  ),
  startAt: Schema.optionalKey(
    Schema.String.check(
      Schema.makeFilter((s: string) =>
        Timestamp.parse(s)?.zoned === true ? undefined : "Expected an ISO 8601 timestamp with a zone"
      )
    ).annotate({ description: `The createdAt of the first record (default ${DEFAULT_START}).` })
  ),
  stream: Schema.optionalKey(NonEmpty.annotate({ description: 'The stream name of the batches (default "default").' })),
  name: Schema.optionalKey(
    NonEmpty.annotate({ description: 'The source name in errors and logs (default "generator").' })
  )
})

/**
 * The options of `Generator.source`.
 *
 * @category models
 * @since 0.1.0
 */
export type SourceOptions = typeof SourceOptions.Type

const FIRST = [
  "Ada",
  "Alan",
  "Barbara",
  "Claude",
  "Donald",
  "Edsger",
  "Frances",
  "Grace",
  "Hedy",
  "Ivan",
  "John",
  "Katherine",
  "Leslie",
  "Margaret",
  "Niklaus",
  "Radia"
] as const
const LAST = [
  "Lovelace",
  "Turing",
  "Liskov",
  "Shannon",
  "Knuth",
  "Dijkstra",
  "Allen",
  "Hopper",
  "Lamarr",
  "Sutherland",
  "Backus",
  "Johnson",
  "Lamport",
  "Hamilton",
  "Wirth",
  "Perlman"
] as const
const CATEGORIES = ["books", "games", "garden", "music", "tools", "toys"] as const

// A 32-bit finaliser (from MurmurHash3) to derive one well-mixed seed per record from (seed, offset).
const mix = (h: number): number => {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

// mulberry32: a small, fast PRNG; good enough for synthetic data, never for anything secret.
const prng = (seed: number) => {
  let state = seed >>> 0
  return (): number => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const pick = <T>(items: ReadonlyArray<T>, r: number): T => items[Math.floor(r * items.length)] as T

/** Generates record `offset` (0-based) for `seed`. */
const generate = (seed: number, offset: number, startMicros: bigint): Row => {
  const low = offset % 4294967296
  const high = Math.floor(offset / 4294967296)
  const random = prng(mix(mix(seed ^ 0x9e3779b9) ^ mix(low) ^ Math.imul(high, 0x27d4eb2d)))
  const id = offset + 1
  const first = pick(FIRST, random())
  const last = pick(LAST, random())
  return {
    id,
    name: `${first} ${last}`,
    email: `${first}.${last}.${id}@example.com`.toLowerCase(),
    amount: Math.floor(random() * 100_000) / 100,
    active: random() < 0.8,
    category: pick(CATEGORIES, random()),
    createdAt: Timestamp.fromEpochMicros(
      startMicros + BigInt(offset) * 1_000_000n + BigInt(Math.floor(random() * 1_000_000))
    )
  }
}

/**
 * A source of `count` deterministic synthetic records, checkpointed by offset.
 *
 * **Example** (Ten thousand records, the same on every run)
 *
 * ```ts
 * import { Generator } from "@data-mcp/core"
 *
 * const source = Generator.source({ count: 10_000, seed: 42, batchSize: 500 })
 * const unbounded = Generator.source({ count: Infinity, fields: ["id", "createdAt"] })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const source = <const F extends ReadonlyArray<Field> = typeof fields>(
  options: SourceOptions & { readonly fields?: F }
): Source.Source<Pick<Row, F[number]>, number> => {
  const config = Config.decodeSync("generator", SourceOptions, options)
  const count = config.count
  const seed = config.seed ?? 1
  const stream = config.stream ?? Batch.defaultStream
  const startMicros = (Timestamp.parse(config.startAt ?? DEFAULT_START) as Timestamp.Timestamp).micros
  const selected = config.fields
  const project =
    selected === undefined || selected.length === fields.length
      ? (row: Row) => row as Pick<Row, F[number]>
      : (row: Row) => {
          const out: Record<string, unknown> = {}
          for (const field of fields) if (selected.includes(field)) out[field] = row[field]
          return out as Pick<Row, F[number]>
        }

  const read = (from: number | undefined, context: Source.ReadContext) => {
    const size = batchSizeOf(config.batchSize, context)
    const end = typeof context.end === "number" ? context.end : undefined
    const batches = Stream.paginate(from ?? 0, (offset: number) =>
      Effect.sync(() => {
        const upTo = Math.min(count, offset + size)
        if (offset >= upTo) return [[], Option.none<number>()] as const
        const records: Array<Pick<Row, F[number]>> = []
        for (let i = offset; i < upTo; i++) records.push(project(generate(seed, i, startMicros)))
        const batch = Batch.make(records, { stream, checkpoint: upTo })
        return [[batch], upTo < count ? Option.some(upTo) : Option.none<number>()] as const
      })
    )
    return untilEnd(batches, end, (checkpoint) => checkpoint)
  }

  return Source.make<Pick<Row, F[number]>, number>({
    name: config.name ?? "generator",
    checkpointSchema: Checkpoint.offset,
    read,
    estimate: (from) =>
      Effect.succeed(Number.isFinite(count) ? { rows: Math.max(0, count - (from ?? 0)), to: count } : {})
  })
}
