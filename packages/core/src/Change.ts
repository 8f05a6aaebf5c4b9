/**
 * A change record describes one insert, update or delete at a source position (change data capture).
 * `merge` sinks apply changes; `append` sinks write them as rows with an `_dm_op` column.
 *
 * @since 0.1.0
 */
import type { Checkpoint } from "./Checkpoint.ts"

/**
 * The kind of change.
 *
 * @category models
 * @since 0.1.0
 */
export type Operation = "insert" | "update" | "delete"

/**
 * One change of one row.
 *
 * @category models
 * @since 0.1.0
 */
export interface Change<A> {
  readonly op: Operation
  /** The row's key (primary key columns and values). */
  readonly key: Readonly<Record<string, unknown>>
  /** The row after the change (absent for a delete). */
  readonly after?: A | undefined
  /** The row before the change, when the source has it. */
  readonly before?: A | undefined
  /** The source position of this change (an LSN, a binlog position, an offset). */
  readonly position: Checkpoint
}

/**
 * Whether a value is a change record.
 *
 * @category guards
 * @since 0.1.0
 */
export const isChange = (u: unknown): u is Change<unknown> =>
  typeof u === "object" &&
  u !== null &&
  "op" in u &&
  "key" in u &&
  "position" in u &&
  (u.op === "insert" || u.op === "update" || u.op === "delete")

/**
 * The row an `append` sink writes for a change: the after (or before, for a delete) image plus `_dm_op`.
 *
 * @category combinators
 * @since 0.1.0
 */
export const toAppendRow = <A extends object>(change: Change<A>): A & { readonly _dm_op: Operation } =>
  ({ ...(change.after ?? change.before ?? change.key), _dm_op: change.op }) as A & { readonly _dm_op: Operation }
