// Runs a Transform over batches. Consecutive synchronous steps are fused into one loop per batch (one call per
// step per record, no Effect per record); effectful steps run with their concurrency, in record order.
import { Cause, Effect, Exit } from "effect"
import * as Transform from "../Transform.ts"

export interface Rejection {
  readonly record: unknown
  readonly reason: string
}

export interface Processed {
  readonly records: Array<unknown>
  readonly rejected: Array<Rejection>
}

type Emit = (out: unknown) => void
type StepFn = (record: unknown, emit: Emit) => void

type Segment =
  | { readonly _tag: "Sync"; readonly steps: ReadonlyArray<Transform.SyncStep> }
  | { readonly _tag: "Effect"; readonly step: Transform.EffectStep }

export type Retry = <A, E>(effect: Effect.Effect<A, E>, operation: string) => Effect.Effect<A, E>

const reasonOf = (step: string, error: unknown): string => {
  if (error instanceof Transform.RecordRejected) return `${step}: ${error.reason}`
  if (error instanceof Error) return `${step} threw ${error.name}: ${error.message}`.slice(0, 500)
  return `${step} failed: ${String(error)}`.slice(0, 500)
}

const segmentsOf = (transform: Transform.Any): Array<Segment> => {
  const segments: Array<Segment> = []
  let sync: Array<Transform.SyncStep> = []
  for (const step of transform.steps) {
    if (step._tag === "Sync") sync.push(step)
    else {
      if (sync.length > 0) segments.push({ _tag: "Sync", steps: sync })
      sync = []
      segments.push({ _tag: "Effect", step })
    }
  }
  if (sync.length > 0) segments.push({ _tag: "Sync", steps: sync })
  return segments
}

// Fuses steps into one emit chain. `current` names the step running now (restored when a downstream step
// returns), so a dead-letter reason names the step that threw. A record that is rejected contributes no output:
// what it emitted before the failure is taken back, so a dead letter's replay cannot duplicate rows.
const runSync = (
  steps: ReadonlyArray<Transform.SyncStep>,
  runFns: ReadonlyArray<StepFn | undefined>,
  input: ReadonlyArray<unknown>,
  rejected: Array<Rejection>
): Array<unknown> => {
  const out: Array<unknown> = []
  let current = ""
  let emit: Emit = (r) => {
    out.push(r)
  }
  for (let i = steps.length - 1; i >= 0; i--) {
    const step = steps[i]!
    const fn = runFns[i] ?? step.make()
    const next = emit
    const name = step.name
    emit = (r) => {
      const outer = current
      current = name
      fn(r, next)
      current = outer
    }
  }
  for (let i = 0; i < input.length; i++) {
    const record = input[i]
    const mark = out.length
    try {
      emit(record)
    } catch (error) {
      out.length = mark
      rejected.push({ record, reason: reasonOf(current, error) })
    }
    current = ""
  }
  return out
}

const runEffect = Effect.fnUntraced(function* (
  step: Transform.EffectStep,
  input: ReadonlyArray<unknown>,
  rejected: Array<Rejection>,
  retry: Retry
) {
  // `suspend`: a function that throws while building its effect rejects its record, like any defect.
  const exits = yield* Effect.forEach(
    input,
    (record) =>
      Effect.exit(
        retry(
          Effect.suspend(() => step.f(record)),
          step.name
        )
      ),
    {
      concurrency: step.concurrency
    }
  )
  const out: Array<unknown> = []
  for (let i = 0; i < exits.length; i++) {
    const exit = exits[i]!
    if (Exit.isSuccess(exit)) {
      out.push(exit.value)
      continue
    }
    const error = Cause.findErrorOption(exit.cause)
    const rejects = error._tag === "Some" ? Transform.isRecordRejection(error.value) : Cause.hasDies(exit.cause)
    if (!rejects) return yield* Effect.failCause(exit.cause)
    const cause = error._tag === "Some" ? error.value : Cause.squash(exit.cause)
    rejected.push({ record: input[i], reason: reasonOf(step.name, cause) })
  }
  return out
})

/** A transform compiled for one run: run-scoped step state is created here, once. */
export const compile = (transform: Transform.Any, retry: Retry) => {
  const segments = segmentsOf(transform)
  const runFns = segments.map((segment) =>
    segment._tag === "Sync" ? segment.steps.map((step) => (step.scope === "batch" ? undefined : step.make())) : []
  )
  const isPassThrough = segments.length === 0
  const process = (input: ReadonlyArray<unknown>): Effect.Effect<Processed, unknown> => {
    if (isPassThrough) return Effect.succeed({ records: input as Array<unknown>, rejected: [] })
    const rejected: Array<Rejection> = []
    const only = segments[0]!
    if (segments.length === 1 && only._tag === "Sync") {
      return Effect.sync(() => ({ records: runSync(only.steps, runFns[0]!, input, rejected), rejected }))
    }
    return Effect.gen(function* () {
      let records: Array<unknown> = input as Array<unknown>
      for (let i = 0; i < segments.length; i++) {
        const segment = segments[i]!
        records =
          segment._tag === "Sync"
            ? runSync(segment.steps, runFns[i]!, records, rejected)
            : yield* runEffect(segment.step, records, rejected, retry)
      }
      return { records, rejected }
    })
  }
  return { process, concurrency: Transform.concurrency(transform) }
}
