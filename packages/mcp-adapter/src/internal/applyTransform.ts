// Applies a pipeline's transform to a handful of sample records for a preview: synchronous steps record by
// record, effectful steps one record at a time. A record a step rejects is reported with the step's name and
// never its value; nothing is written anywhere.
import { Transform } from "@data-mcp/core"
import { Cause, Effect, Exit } from "effect"

export interface Applied {
  readonly records: Array<unknown>
  readonly rejected: Array<{ readonly step: string; readonly reason: string }>
}

const reasonOf = (step: string, error: unknown): string =>
  error instanceof Transform.RecordRejected
    ? `${step}: ${error.reason}`
    : `${step} failed with ${typeof error === "object" && error !== null && "_tag" in error ? String(error._tag) : error instanceof Error ? error.name : "an error"}`

export const apply = (transform: Transform.Any, input: ReadonlyArray<unknown>): Effect.Effect<Applied> =>
  Effect.gen(function* () {
    const rejected: Array<{ step: string; reason: string }> = []
    let records: Array<unknown> = [...input]
    for (const step of transform.steps) {
      const next: Array<unknown> = []
      if (step._tag === "Sync") {
        const fn = step.make()
        for (const record of records) {
          const emitted: Array<unknown> = []
          try {
            fn(record, (out) => emitted.push(out))
            next.push(...emitted)
          } catch (error) {
            rejected.push({ step: step.name, reason: reasonOf(step.name, error) })
          }
        }
      } else {
        for (const record of records) {
          const exit = yield* Effect.exit(step.f(record))
          if (Exit.isSuccess(exit)) next.push(exit.value)
          else rejected.push({ step: step.name, reason: reasonOf(step.name, Cause.squash(exit.cause)) })
        }
      }
      records = next
    }
    return { records, rejected }
  })
