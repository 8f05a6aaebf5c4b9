/**
 * A record a source could not parse (a malformed CSV row, a JSONL line that is not JSON). A source cannot
 * dead-letter by itself, so it emits the raw text in this wrapper, in source order and under the same
 * checkpoints as the records around it; the runner turns it into a dead letter at stage `source` before any
 * transform runs. Nothing is dropped silently, and the read goes on. These are `Source.invalidRecord` and
 * `Source.isInvalidRecord` (one marker, which the runner recognises), re-exported for the connectors.
 *
 * @since 0.1.0
 */
import * as Source from "../../Source.ts"

/**
 * A record a source could not parse: why (never quoting the record's values) and its raw text.
 *
 * @category models
 * @since 0.1.0
 */
export type InvalidRecord = Source.InvalidRecord

/**
 * Makes an invalid record.
 *
 * **Example** (A JSONL line that is not JSON)
 *
 * ```ts
 * import { Source } from "@data-mcp/core"
 *
 * const bad = Source.invalidRecord("record 3 at byte 120 is not valid JSON", "{oops")
 * Source.isInvalidRecord(bad) // true
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const invalidRecord: (reason: string, raw: string) => InvalidRecord = Source.invalidRecord

/**
 * Whether a value is an invalid record.
 *
 * @category guards
 * @since 0.1.0
 */
export const isInvalidRecord: (u: unknown) => u is InvalidRecord = Source.isInvalidRecord

/**
 * The records of a source without its invalid records: what transforms see once the runner has
 * dead-lettered them.
 *
 * @category models
 * @since 0.1.0
 */
export type Valid<A> = Source.Valid<A>
