/**
 * A checkpoint is a source's position, as JSON: where the next read resumes. It is opaque to the runner,
 * validated by the source's `checkpointSchema` when it is loaded, and always holds the source's exact
 * encoding (cursor values are never converted to `Date` or `number` on the way through). A multi-stream or
 * partitioned source keeps a map from stream or partition to position.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * A JSON value: what a checkpoint is made of.
 *
 * @category models
 * @since 0.1.0
 */
export type Json = Schema.Json

/**
 * A source position, serialisable as JSON.
 *
 * @category models
 * @since 0.1.0
 */
export type Checkpoint = Json

/**
 * The schema a source uses to validate a stored checkpoint and to turn it into its own position type. Its
 * encoded side must be JSON.
 *
 * @category models
 * @since 0.1.0
 */
export type CheckpointSchema<C> = Schema.Codec<C, Json>

/**
 * A checkpoint schema that accepts any JSON value: for sources whose position needs no validation.
 *
 * @category schemas
 * @since 0.1.0
 */
export const any: CheckpointSchema<Json> = Schema.Json

/**
 * The checkpoint of a stream-by-stream source: stream name → position.
 *
 * **Example** (Two tables)
 *
 * ```ts
 * import { Checkpoint } from "@data-mcp/core"
 * import { Schema } from "effect"
 *
 * const schema = Checkpoint.perStream(Schema.Struct({ id: Schema.Number }))
 * // { "public.users": { id: 42 }, "public.orders": { id: 7 } }
 * ```
 *
 * @category schemas
 * @since 0.1.0
 */
export const perStream = <C>(position: Schema.Codec<C, Json>): Schema.Codec<Readonly<Record<string, C>>, Json> =>
  Schema.Record(Schema.String, position) as unknown as Schema.Codec<Readonly<Record<string, C>>, Json>

/**
 * The checkpoint of an offset-based source: a non-negative integer count of records already delivered.
 *
 * @category schemas
 * @since 0.1.0
 */
export const offset: CheckpointSchema<number> = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))
