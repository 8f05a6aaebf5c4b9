/**
 * An incremental read takes only what is new since the last run: the records of a stream in the order of a
 * `cursor` field (an `updated_at`, a sequence), with a `tieBreaker` (the primary key) to order records whose
 * cursors are equal. The checkpoint is the tuple `(cursor, tieBreaker)` of the last record delivered, in the
 * source's exact encoding; a source reads `(c, pk) > ($c, $pk)` ordered by `(c, pk)`, up to an upper bound
 * fixed when the run starts (or `now() - lag`), so no record is lost or read twice at a boundary. This module
 * describes such a read (validated once, at construction) and the checkpoint tuple; sources translate it into
 * their own options.
 *
 * @since 0.1.0
 */
import { Duration, Effect, Option, Schema } from "effect"
import * as Config from "./Config.ts"
import * as Timestamp from "./Timestamp.ts"

const COMPONENT = "incremental"

/**
 * A cursor or tie-breaker value in the source's exact encoding: text exactly as the source prints it
 * (`"2026-01-02 03:04:05.000006+00"`, `"9007199254740993"`) or a JSON number.
 *
 * @category schemas
 * @since 0.1.0
 */
export const Value = Schema.Union([Schema.String, Schema.Finite])

/**
 * A cursor or tie-breaker value.
 *
 * @category models
 * @since 0.1.0
 */
export type Value = typeof Value.Type

const durationMs = (input: number | string): number | undefined => {
  const d = Duration.fromInput(input as Duration.Input)
  if (Option.isNone(d)) return undefined
  const ms = Duration.toMillis(d.value)
  return Number.isFinite(ms) && ms >= 0 ? ms : undefined
}

const DurationInput = Schema.Union([
  Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0)),
  Schema.String.check(
    Schema.makeFilter((s: string) =>
      durationMs(s) === undefined ? 'Expected a duration of at least 0 such as "5 minutes" or "500 millis"' : undefined
    )
  )
])

const Name = Schema.String.check(Schema.isNonEmpty())

/**
 * The options of `make`, as given.
 *
 * @category schemas
 * @since 0.1.0
 */
export const IncrementalOptions = Schema.Struct({
  cursor: Name.annotate({
    description: "The field that orders records by change: an updated_at timestamp, a sequence."
  }),
  tieBreaker: Name.annotate({
    description: "The field that orders records with equal cursors, unique per record: usually the primary key."
  }),
  initial: Schema.optionalKey(
    Value.annotate({
      description:
        "The cursor value the first run starts at (inclusive), in the source's encoding; default: the beginning."
    })
  ),
  end: Schema.optionalKey(
    Value.annotate({
      description:
        "The last cursor value to read (inclusive): a bounded backfill, which never moves the incremental state."
    })
  ),
  lag: Schema.optionalKey(
    DurationInput.annotate({
      description:
        'Keep the upper bound this far behind the clock (now() - lag), for late commits and clock skew: milliseconds or a duration such as "5 minutes".'
    })
  ),
  lookback: Schema.optionalKey(
    DurationInput.annotate({
      description:
        "Re-read this window behind the checkpoint on resume, for late records; the re-read records arrive again, so it needs a merge sink."
    })
  ),
  onNull: Schema.optionalKey(
    Schema.Literals(["skip", "include-first"]).annotate({
      description:
        'Records whose cursor is null: "skip" (default) never reads them; "include-first" reads them first, as if their cursor were below every value.'
    })
  ),
  order: Schema.optionalKey(
    Schema.Literals(["asc", "desc"]).annotate({
      description:
        'The order records are read and checkpointed in: "asc" (default, oldest first) or "desc" (for sources that deliver newest first).'
    })
  )
})

/**
 * The options of `make`, as given.
 *
 * @category models
 * @since 0.1.0
 */
export type IncrementalOptions = typeof IncrementalOptions.Encoded

/**
 * A validated incremental read. Build it with `make` (or `decode`); sources take it as an option.
 *
 * @category models
 * @since 0.1.0
 */
export interface Incremental {
  readonly _tag: "Incremental"
  readonly cursor: string
  readonly tieBreaker: string
  readonly initial: Value | undefined
  readonly end: Value | undefined
  /** The upper bound's distance behind the clock. */
  readonly lag: Duration.Duration | undefined
  /** The window re-read behind the checkpoint on resume. */
  readonly lookback: Duration.Duration | undefined
  readonly onNull: "skip" | "include-first"
  readonly order: "asc" | "desc"
}

/**
 * The checkpoint of an incremental read: the `(cursor, tieBreaker)` of the last record delivered, in the
 * source's exact encoding. A `null` cursor is a position among the records whose cursor is null
 * (`onNull: "include-first"`), which come before every valued one.
 *
 * @category schemas
 * @since 0.1.0
 */
export const Position = Schema.Struct({ cursor: Schema.NullOr(Value), tieBreaker: Value })

/**
 * A checkpoint tuple `(cursor, tieBreaker)`.
 *
 * @category models
 * @since 0.1.0
 */
export type Position = typeof Position.Type

// ---------------------------------------------------------------------------------------------------------------
// Comparing values and positions

const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)$/

/** Exact comparison of two decimal texts (no rounding, any length). */
const compareDecimals = (a: string, b: string): -1 | 0 | 1 => {
  const parse = (s: string) => {
    const negative = s.startsWith("-")
    const body = s.replace(/^[+-]/, "")
    const [whole = "", fraction = ""] = body.split(".")
    const w = whole.replace(/^0+/, "")
    const f = fraction.replace(/0+$/, "")
    return { negative: negative && (w !== "" || f !== ""), w, f }
  }
  const x = parse(a)
  const y = parse(b)
  if (x.negative !== y.negative) return x.negative ? -1 : 1
  const sign = x.negative ? -1 : 1
  let c: number
  if (x.w.length !== y.w.length) c = x.w.length < y.w.length ? -1 : 1
  else if (x.w !== y.w) c = x.w < y.w ? -1 : 1
  else {
    const n = Math.max(x.f.length, y.f.length)
    const [fx, fy] = [x.f.padEnd(n, "0"), y.f.padEnd(n, "0")]
    c = fx === fy ? 0 : fx < fy ? -1 : 1
  }
  return (c * sign) as -1 | 0 | 1
}

const decimalText = (v: Value): string | undefined => {
  if (typeof v === "number") {
    if (Number.isInteger(v)) return BigInt(v).toString()
    const text = String(v)
    return DECIMAL.test(text) ? text : undefined
  }
  return DECIMAL.test(v) ? v : undefined
}

/**
 * Compares two cursor (or tie-breaker) values in ascending order. `null` comes before every value (the
 * null-cursor section of `onNull: "include-first"`). Two numbers, or decimal texts (`"10"`, `"-2.50"`, and an
 * integral number against one), compare as exact numbers; two texts that both read as timestamps
 * (`Timestamp.parse`: ISO 8601 or SQL form, with or without an offset) compare as instants; any other pair
 * compares its texts by UTF-16 code units. The values of one cursor are expected to share one kind.
 *
 * @category utils
 * @since 0.1.0
 */
export const compareValues = (a: Value | null, b: Value | null): -1 | 0 | 1 => {
  if (a === null || b === null) return a === b ? 0 : a === null ? -1 : 1
  if (typeof a === "number" && typeof b === "number") return a === b ? 0 : a < b ? -1 : 1
  const [da, db] = [decimalText(a), decimalText(b)]
  if (da !== undefined && db !== undefined) return compareDecimals(da, db)
  if (typeof a === "number" || typeof b === "number") {
    const [na, nb] = [Number(a), Number(b)]
    if (Number.isFinite(na) && Number.isFinite(nb) && na !== nb) return na < nb ? -1 : 1
  }
  const [sa, sb] = [String(a), String(b)]
  const [ta, tb] = [Timestamp.parse(sa), Timestamp.parse(sb)]
  if (ta !== undefined && tb !== undefined) return Timestamp.compare(ta, tb)
  return sa === sb ? 0 : sa < sb ? -1 : 1
}

/**
 * Compares two positions in read order: by cursor, then by tie-breaker (`order: "desc"` reverses both).
 * Negative when `a` is read before `b`.
 *
 * **Example** (Equal cursors are ordered by the tie-breaker)
 *
 * ```ts
 * import { Incremental } from "@data-mcp/core"
 *
 * Incremental.compare({ cursor: "2026-01-02 10:00:00+00", tieBreaker: "7" }, { cursor: "2026-01-02 10:00:00+00", tieBreaker: "10" }) // -1
 * Incremental.compare({ cursor: null, tieBreaker: "99" }, { cursor: "1", tieBreaker: "1" }) // -1: nulls come first
 * ```
 *
 * @category utils
 * @since 0.1.0
 */
export const compare = (
  a: Position,
  b: Position,
  options?: { readonly order?: "asc" | "desc" | undefined }
): -1 | 0 | 1 => {
  const c = compareValues(a.cursor, b.cursor)
  const ordered = c !== 0 ? c : compareValues(a.tieBreaker, b.tieBreaker)
  return options?.order === "desc" && ordered !== 0 ? (-ordered as -1 | 1) : ordered
}

/**
 * Whether a record at `position` comes after the `checkpoint` in read order, i.e. a run resuming from the
 * checkpoint must read it: the `(c, pk) > ($c, $pk)` of DESIGN §3. Every record is after no checkpoint.
 *
 * **Example** (Resuming after a checkpoint)
 *
 * ```ts
 * import { Incremental } from "@data-mcp/core"
 *
 * const checkpoint = { cursor: 100, tieBreaker: 5 }
 * Incremental.isAfter({ cursor: 100, tieBreaker: 6 }, checkpoint) // true: same cursor, later key
 * Incremental.isAfter({ cursor: 100, tieBreaker: 5 }, checkpoint) // false: already delivered
 * ```
 *
 * @category utils
 * @since 0.1.0
 */
export const isAfter = (
  position: Position,
  checkpoint: Position | undefined,
  options?: { readonly order?: "asc" | "desc" | undefined }
): boolean => checkpoint === undefined || compare(position, checkpoint, options) > 0

// ---------------------------------------------------------------------------------------------------------------
// Constructors

const configError = (path: string, detail: string) => new Config.ConfigError({ component: COMPONENT, path, detail })

const build = (o: typeof IncrementalOptions.Type): Incremental | Config.ConfigError => {
  if (o.cursor === o.tieBreaker) return configError("tieBreaker", "Expected a field other than the cursor")
  if (o.initial !== undefined && o.end !== undefined && compareValues(o.initial, o.end) > 0)
    return configError("end", "Expected a cursor value not before initial")
  if (o.initial !== undefined && o.onNull === "include-first")
    return configError(
      "onNull",
      '"include-first" reads the null cursors, which come before every value, so it cannot start at initial'
    )
  const duration = (v: number | string | undefined) =>
    v === undefined ? undefined : Duration.millis(durationMs(v) as number)
  return {
    _tag: "Incremental",
    cursor: o.cursor,
    tieBreaker: o.tieBreaker,
    initial: o.initial,
    end: o.end,
    lag: duration(o.lag),
    lookback: duration(o.lookback),
    onNull: o.onNull ?? "skip",
    order: o.order ?? "asc"
  }
}

/**
 * Validates the options of an incremental read, failing with a `ConfigError` that names the field (unknown
 * keys, a negative `lag`, an unknown `onNull`, a `tieBreaker` equal to the `cursor`, an `end` before `initial`).
 *
 * @category constructors
 * @since 0.1.0
 */
export const decode = (input: unknown): Effect.Effect<Incremental, Config.ConfigError> =>
  Effect.flatMap(Config.decode(COMPONENT, IncrementalOptions, input), (o) => {
    const built = build(o)
    return built instanceof Config.ConfigError ? Effect.fail(built) : Effect.succeed(built)
  })

/**
 * Makes an incremental read, validated at once: a bad option throws a `ConfigError` naming the field.
 *
 * **Details**
 *
 * - `cursor` and `tieBreaker` name the fields; the checkpoint is their values' `Position`.
 * - `initial` / `end`: the first run's start (inclusive) and a backfill's last cursor value (inclusive).
 * - `lag`: the upper bound is `now() - lag`; `lookback`: a resumed run re-reads that window (merge sinks only).
 * - `onNull`: `"skip"` (default) or `"include-first"`; `order`: `"asc"` (default) or `"desc"`.
 * - Durations are milliseconds or duration text (`"5 minutes"`); they must not be negative.
 *
 * **Example** (Orders by `updated_at`, five minutes behind the clock)
 *
 * ```ts
 * import { Incremental } from "@data-mcp/core"
 *
 * const orders = Incremental.make({ cursor: "updated_at", tieBreaker: "id", lag: "5 minutes" })
 * orders.onNull // "skip"
 * // Incremental.make({ cursor: "updated_at", tieBreaker: "id", lag: -1 })
 * // throws ConfigError: Invalid incremental config at lag: Expected a value greater than or equal to 0
 * ```
 *
 * @see {@link Position} for the checkpoint tuple
 * @category constructors
 * @since 0.1.0
 */
export const make = (options: IncrementalOptions): Incremental => {
  const built = build(Config.decodeSync(COMPONENT, IncrementalOptions, options))
  if (built instanceof Config.ConfigError) throw built
  return built
}

/**
 * Whether a value is an `Incremental` made by `make` or `decode`.
 *
 * @category guards
 * @since 0.1.0
 */
export const isIncremental = (u: unknown): u is Incremental =>
  typeof u === "object" && u !== null && (u as { readonly _tag?: unknown })._tag === "Incremental"
