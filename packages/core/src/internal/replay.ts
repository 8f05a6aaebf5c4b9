// Dead-letter replay (Runner.replayDeadLetters): the selected letters become the source of a run of the pipeline's
// current version, one letter per batch, under the state key `<stateKey>/replay`. The run loop calls back after
// each durable checkpoint (the letters up to it are removed) and names the dead letters a replayed record makes
// again after the letter it came from, so a repeated replay never stores one twice.
import { Effect, Stream } from "effect"
import * as Batch from "../Batch.ts"
import type { Json } from "../Checkpoint.ts"
import type { ConfigError } from "../Config.ts"
import * as DeadLetter from "../DeadLetter.ts"
import * as Pipeline from "../Pipeline.ts"
import type { RunSummary } from "../RunSummary.ts"
import * as Source from "../Source.ts"
import type { StateError } from "../StateStore.ts"
import * as Transform from "../Transform.ts"

/** What the runner lets a replay change about a run. */
export interface Hooks {
  readonly stateKey: (baseKey: string) => string
  readonly deadLetterId: (checkpoint: unknown, index: number) => string
  readonly deadLetterStateKey: string
  readonly onCheckpoint: (checkpoint: unknown) => Effect.Effect<void, unknown>
  /** The first note of the run's summary. */
  readonly note: string
}

interface Handle {
  readonly result: Effect.Effect<RunSummary, unknown>
  readonly cancel: Effect.Effect<RunSummary>
}

type Start<E> = (
  pipeline: Pipeline.Any,
  params: unknown,
  options: {
    readonly caller?: string | undefined
    readonly tenant?: string | undefined
    readonly bound?: Readonly<Record<string, Json>> | undefined
  },
  hooks: Hooks
) => Effect.Effect<Handle, E>

/** `a` → `a~r1`, `a~r1` → `a~r2`. */
export const nextId = (id: string): string => {
  const match = /^(.*)~r(\d+)$/.exec(id)
  return match === null ? `${id}~r1` : `${match[1]}~r${Number(match[2]) + 1}`
}

const listAll = (store: DeadLetter.DeadLetterStoreShape, query: DeadLetter.DeadLetterQuery) =>
  Effect.gen(function* () {
    const letters: Array<DeadLetter.DeadLetter> = []
    let cursor: string | undefined
    do {
      const page = yield* store.list({ ...query, limit: 500, cursor })
      letters.push(...page.letters)
      cursor = page.nextCursor
    } while (cursor !== undefined)
    return letters
  })

// One letter per batch, checkpointed by how many letters are done (the run loop's checkpoints are cumulative).
const sourceOf = (letters: ReadonlyArray<DeadLetter.DeadLetter>): Source.Source<unknown, number> =>
  Source.make<unknown, number>({
    name: "dead-letters",
    read: () =>
      Stream.fromIterable(
        letters.map((letter, i) =>
          Batch.make([DeadLetter.decodeRecord(letter.record)], { stream: letter.stream, checkpoint: i + 1 })
        )
      )
  })

export const replay = <E>(
  pipeline: Pipeline.Any,
  options: DeadLetter.ReplayOptions,
  deps: { readonly deadLetters: DeadLetter.DeadLetterStoreShape; readonly start: Start<E> }
): Effect.Effect<DeadLetter.ReplayResult, E | DeadLetter.ReplayError | ConfigError | StateError> =>
  Effect.gen(function* () {
    const rawParams = options.params ?? {}
    const params = yield* Pipeline.decodeParams(pipeline, rawParams)
    const sink = Pipeline.sinkOf(pipeline, params)
    if (sink.disposition.type === "replace") {
      return yield* new DeadLetter.ReplayError({
        pipeline: pipeline.name,
        detail:
          "its sink replaces its target on every run, so a replay would leave only the replayed records there. Replay into an append or merge sink, or re-run the pipeline."
      })
    }
    const bound = { ...(options.bound ?? {}), ...(options.tenant === undefined ? {} : { tenant: options.tenant }) }
    const stateKey = options.stateKey ?? Pipeline.stateKey(pipeline, params, bound)
    const all = yield* listAll(deps.deadLetters, { pipeline: pipeline.name, stateKey, tenant: options.tenant })
    const wanted = options.ids === undefined ? undefined : new Set(options.ids)
    const selected = wanted === undefined ? all : all.filter((letter) => wanted.has(letter.id))
    const found = new Set(selected.map((letter) => letter.id))
    const notFound = options.ids === undefined ? [] : [...new Set(options.ids)].filter((id) => !found.has(id))
    const groups = [
      { direct: false, letters: selected.filter((letter) => letter.stage === "transform") },
      { direct: true, letters: selected.filter((letter) => letter.stage === "schema" || letter.stage === "sink") }
    ]
    const skipped = selected.filter((letter) => letter.stage === "source").length
    const runs: Array<RunSummary> = []
    let succeeded = 0
    let failedAgain = 0
    let pending = 0
    let stopped = false
    for (const group of groups) {
      const letters = group.letters
      if (letters.length === 0) continue
      if (stopped) {
        pending += letters.length
        continue
      }
      let removed = 0
      const failed = new Set<number>()
      const hooks: Hooks = {
        stateKey: () => `${stateKey}/replay`,
        deadLetterStateKey: stateKey,
        deadLetterId: (checkpoint, index) => {
          const at = (checkpoint as number) - 1
          failed.add(at)
          const id = nextId(letters[at]!.id)
          return index === 0 ? id : `${id}.${index}`
        },
        onCheckpoint: (checkpoint) =>
          Effect.suspend(() => {
            const upTo = checkpoint as number
            const ids = letters.slice(removed, upTo).map((letter) => letter.id)
            return Effect.map(deps.deadLetters.remove(ids), () => {
              removed = Math.max(removed, upTo)
            })
          }),
        note: `replay of ${letters.length} dead letter(s) of stage ${group.direct ? "schema/sink (transforms skipped)" : "transform"} through ${pipeline.name}@${pipeline.version}`
      }
      const replayed: Pipeline.Any = {
        ...pipeline,
        source: sourceOf(letters),
        transforms: group.direct ? Transform.identity<unknown>() : pipeline.transforms,
        options: {
          ...pipeline.options,
          batch: { ...pipeline.options.batch, rows: 1, maxWaitMs: 0 },
          concurrency: 1,
          deadLetterBudget: {},
          schedule: undefined
        }
      }
      const handle = yield* deps.start(
        replayed,
        rawParams,
        { caller: options.caller, tenant: options.tenant, bound: options.bound },
        hooks
      )
      // The caller interrupted (Ctrl-C): the replay run stops safely too, as a cancelled run.
      const summary = yield* handle.result.pipe(
        Effect.catchCause(() => handle.cancel),
        Effect.onInterrupt(() => handle.cancel)
      )
      runs.push(summary)
      for (let i = 0; i < removed; i++) {
        if (failed.has(i)) failedAgain++
        else succeeded++
      }
      pending += letters.length - removed
      if (summary.status !== "succeeded") stopped = true
    }
    return {
      pipeline: pipeline.name,
      version: pipeline.version,
      stateKey,
      letters: selected.length,
      succeeded,
      failedAgain,
      skipped,
      pending,
      notFound,
      runs
    }
  })
