// Schema changes a sink reports in its write results (`WriteResult.schemaChanges`): each becomes a line in the
// run summary's notes and a `SchemaChanged` event with its `target`, like the contract's own snapshots (DESIGN §5).
import { Effect } from "effect"
import * as DeadLetter from "../DeadLetter.ts"
import type * as RunEvent from "../RunEvent.ts"
import * as SchemaInference from "../SchemaInference.ts"
import type * as Sink from "../Sink.ts"

/** What reporting needs of the run. */
export interface Reporter {
  readonly runId: string
  readonly stats: { readonly notes: Array<string> }
  readonly emit: (event: RunEvent.RunEvent) => Effect.Effect<void>
  readonly now: () => string
}

/** The summary line of one change: `postgres changed public.orders to version 2: + added: email (text)`. */
export const noteOf = (sink: string, change: Sink.SchemaChange): string => {
  const diff = SchemaInference.formatDiff(change.diff).replaceAll("\n", "; ")
  return `sink ${sink} changed ${change.target} to version ${change.version}: ${diff}`
}

/** Notes and emits the schema changes of one written batch of `stream`. */
export const report = (
  run: Reporter,
  sink: string,
  stream: string,
  changes: ReadonlyArray<Sink.SchemaChange>
): Effect.Effect<void> =>
  Effect.forEach(
    changes,
    (change) =>
      Effect.suspend(() => {
        run.stats.notes.push(noteOf(sink, change))
        return run.emit({
          _tag: "SchemaChanged",
          runId: run.runId,
          at: run.now(),
          stream,
          version: change.version,
          diff: DeadLetter.encodeRecord(change.diff),
          target: change.target
        })
      }),
    { discard: true }
  )
