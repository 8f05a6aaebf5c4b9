/**
 * A dead letter is a record the pipeline could not process — it failed validation, a transform threw, the
 * sink refused it — kept with its reason so nothing is lost. Dead letters are durable before the checkpoint
 * that passes them, count against the run's budget, expire after a TTL and can be replayed through the
 * pipeline's current version. The store keeps them in the order they were appended; `layerMemory` and
 * `layerFile` share one implementation, so they behave the same.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Schema, Semaphore } from "effect"
import type { Json } from "./Checkpoint.ts"
import * as FileStore from "./internal/fileStore.ts"
import * as LosslessJson from "./internal/losslessJson.ts"
import type { RunSummary } from "./RunSummary.ts"
import { StateError } from "./StateStore.ts"

/**
 * Where in the pipeline the record failed.
 *
 * @category models
 * @since 0.1.0
 */
export type Stage = "source" | "transform" | "schema" | "sink"

/**
 * A record set aside, with why. `record` is the record in lossless JSON form (see `encodeRecord`).
 *
 * @category models
 * @since 0.1.0
 */
export interface DeadLetter {
  readonly id: string
  readonly pipeline: string
  readonly version: string
  readonly stateKey: string
  readonly runId: string
  readonly stream: string
  readonly stage: Stage
  /** Why the record failed. Never includes a secret. */
  readonly reason: string
  readonly record: Json
  readonly tenant?: string | undefined
  /** ISO 8601 time it was stored. */
  readonly at: string
}

/**
 * Which dead letters to list, oldest first.
 *
 * @category models
 * @since 0.1.0
 */
export interface DeadLetterQuery {
  readonly pipeline?: string | undefined
  readonly stateKey?: string | undefined
  readonly runId?: string | undefined
  readonly tenant?: string | undefined
  readonly limit?: number | undefined
  readonly cursor?: string | undefined
}

/**
 * What a dead-letter store does.
 *
 * @category models
 * @since 0.1.0
 */
export interface DeadLetterStoreShape {
  /** Stores dead letters; durable when the effect succeeds. */
  readonly append: (letters: ReadonlyArray<DeadLetter>) => Effect.Effect<void, StateError>
  /** Dead letters matching the query, oldest first, paginated. */
  readonly list: (
    query: DeadLetterQuery
  ) => Effect.Effect<
    { readonly letters: ReadonlyArray<DeadLetter>; readonly nextCursor?: string | undefined },
    StateError
  >
  /** How many match. */
  readonly count: (query: DeadLetterQuery) => Effect.Effect<number, StateError>
  /** Removes dead letters by id (after a replay). */
  readonly remove: (ids: ReadonlyArray<string>) => Effect.Effect<number, StateError>
  /** Removes those older than `ttlMs` before `now`, then the oldest past `maxCount`; returns how many went. */
  readonly purge: (options: {
    readonly ttlMs: number
    readonly maxCount: number
    readonly now: number
  }) => Effect.Effect<number, StateError>
}

/**
 * The dead-letter store service.
 *
 * @category services
 * @since 0.1.0
 */
export class DeadLetterStore extends Context.Service<DeadLetterStore, DeadLetterStoreShape>()(
  "@data-mcp/core/DeadLetterStore"
) {}

/**
 * The run's dead-letter budget: it fails once more than `maxCount` records, or more than `maxRatio` of the
 * records read (after at least `minRecords`), became dead letters. Default: `{ maxRatio: 0.1, minRecords: 1000 }`
 * — a pipeline dropping more than one record in ten is broken, not unlucky.
 *
 * @category models
 * @since 0.1.0
 */
export interface Budget {
  readonly maxCount?: number | undefined
  readonly maxRatio?: number | undefined
  readonly minRecords?: number | undefined
}

/**
 * The default budget.
 *
 * @category constants
 * @since 0.1.0
 */
export const defaultBudget: Budget = { maxRatio: 0.1, minRecords: 1000 }

/**
 * The run stopped because too many records became dead letters.
 *
 * @category errors
 * @since 0.1.0
 */
export class BudgetExceeded extends Schema.TaggedError<BudgetExceeded>("@data-mcp/core/DeadLetterBudgetExceeded")(
  "DeadLetterBudgetExceeded",
  { deadLetters: Schema.Number, recordsRead: Schema.Number, detail: Schema.String }
) {
  get retryable(): boolean {
    return false
  }

  override get message(): string {
    return `Dead-letter budget exceeded: ${this.deadLetters} of ${this.recordsRead} records (${this.detail}). Inspect the dead letters, fix the data or the pipeline, then re-run.`
  }
}

/**
 * Whether `deadLetters` of `recordsRead` is over the budget.
 *
 * @category utils
 * @since 0.1.0
 */
export const isOverBudget = (budget: Budget, deadLetters: number, recordsRead: number): string | undefined => {
  if (budget.maxCount !== undefined && deadLetters > budget.maxCount) return `more than ${budget.maxCount}`
  if (budget.maxRatio !== undefined && recordsRead >= (budget.minRecords ?? 0) && recordsRead > 0) {
    if (deadLetters / recordsRead > budget.maxRatio) return `more than ${budget.maxRatio * 100}% of records`
  }
  return undefined
}

/**
 * Encodes a record as lossless JSON for storage: `bigint`, `Timestamp`, `Uint8Array` and `Date` values become
 * one-key tagged objects (`{ "$bigint": "9007199254740993" }`) that `decodeRecord` turns back.
 *
 * @category utils
 * @since 0.1.0
 */
export const encodeRecord: (record: unknown) => Json = LosslessJson.encode

/**
 * Decodes a record stored by `encodeRecord`.
 *
 * @category utils
 * @since 0.1.0
 */
export const decodeRecord: (json: Json) => unknown = LosslessJson.decode

/**
 * Which dead letters `Runner.replayDeadLetters` replays, and as whom.
 *
 * @category models
 * @since 0.1.0
 */
export interface ReplayOptions {
  /** The pipeline's params: they choose the sink and the state key whose letters are replayed (default `{}`). */
  readonly params?: unknown
  /** Only these letters (they must be the pipeline's, under the state key); default: all of them. */
  readonly ids?: ReadonlyArray<string> | undefined
  /**
   * The state key whose letters are replayed, instead of the one of `params` (e.g. letters stored before a
   * `stateVersion` bump changed the key).
   */
  readonly stateKey?: string | undefined
  /** Params bound to the caller, as for `Runner.start` (part of the state key). */
  readonly bound?: Readonly<Record<string, Json>> | undefined
  /** The caller's tenant (part of the state key; recorded). */
  readonly tenant?: string | undefined
  /** Who asked for the replay (recorded with its runs). */
  readonly caller?: string | undefined
}

/**
 * What a replay did. Every selected letter is in exactly one of `succeeded`, `failedAgain`, `skipped` or
 * `pending`.
 *
 * @category models
 * @since 0.1.0
 */
export interface ReplayResult {
  readonly pipeline: string
  readonly version: string
  /** The state key whose letters were replayed. */
  readonly stateKey: string
  /** How many letters were selected. */
  readonly letters: number
  /** Letters whose records are now written: removed from the store. */
  readonly succeeded: number
  /** Letters whose records failed again: replaced by new letters with the new reason (ids `<id>~rN`). */
  readonly failedAgain: number
  /** Letters of stage `source` (raw input the source could not decode): not replayed, kept. */
  readonly skipped: number
  /** Letters not replayed because a replay run failed or was cancelled first: kept. */
  readonly pending: number
  /** Requested ids that are not dead letters of this pipeline and state key. */
  readonly notFound: ReadonlyArray<string>
  /** The replay runs (one for transform-stage letters, one for schema- and sink-stage letters), as recorded. */
  readonly runs: ReadonlyArray<RunSummary>
}

/**
 * A replay refused before anything ran: the pipeline's sink replaces its target (disposition `replace`).
 *
 * @category errors
 * @since 0.1.0
 */
export class ReplayError extends Schema.TaggedError<ReplayError>("@data-mcp/core/ReplayError")("ReplayError", {
  pipeline: Schema.String,
  detail: Schema.String
}) {
  get retryable(): boolean {
    return false
  }

  override get message(): string {
    return `Cannot replay the dead letters of ${this.pipeline}: ${this.detail}`
  }
}

// ---------------------------------------------------------------------------------------------------------------
// One implementation over a storage backend. An in-memory index holds what queries filter on, in append order
// (`seq`); the backend holds the letters themselves and makes them durable.
// ---------------------------------------------------------------------------------------------------------------

interface Entry {
  /** Append order, unique and increasing for the life of the store. */
  readonly seq: number
  readonly id: string
  readonly pipeline: string
  readonly stateKey: string
  readonly runId: string
  readonly tenant: string | undefined
  readonly atMs: number
}

interface Stored {
  readonly seq: number
  readonly letter: DeadLetter
}

interface Backend<E extends Entry> {
  /** Durably appends letters of one pipeline; returns their index entries. */
  readonly append: (pipeline: string, items: ReadonlyArray<Stored>) => Effect.Effect<ReadonlyArray<E>, StateError>
  /** The letters of these entries, in the same order. */
  readonly read: (entries: ReadonlyArray<E>) => Effect.Effect<ReadonlyArray<DeadLetter>, StateError>
  /** Durably keeps only `keep` (in order) of a pipeline's letters; returns their new entries. */
  readonly retain: (pipeline: string, keep: ReadonlyArray<E>) => Effect.Effect<ReadonlyArray<E>, StateError>
}

const entryOf = ({ seq, letter }: Stored): Entry => ({
  seq,
  id: letter.id,
  pipeline: letter.pipeline,
  stateKey: letter.stateKey,
  runId: letter.runId,
  tenant: letter.tenant,
  atMs: Date.parse(letter.at)
})

const matches = (query: DeadLetterQuery) => (entry: Entry) =>
  (query.pipeline === undefined || entry.pipeline === query.pipeline) &&
  (query.stateKey === undefined || entry.stateKey === query.stateKey) &&
  (query.runId === undefined || entry.runId === query.runId) &&
  (query.tenant === undefined || entry.tenant === query.tenant)

const encodeCursor = (seq: number): string => Buffer.from(`dl:${seq}`, "utf8").toString("base64url")

const decodeCursor = (cursor: string): number | undefined => {
  const match = /^dl:(\d+)$/.exec(Buffer.from(cursor, "base64url").toString("utf8"))
  return match === null ? undefined : Number(match[1])
}

const byPipeline = <E extends Entry>(entries: ReadonlyArray<E>): Map<string, Array<E>> => {
  const groups = new Map<string, Array<E>>()
  for (const entry of entries) {
    const group = groups.get(entry.pipeline)
    if (group === undefined) groups.set(entry.pipeline, [entry])
    else group.push(entry)
  }
  return groups
}

/** A page size: `limit` rounded down and at least 1; 50 if absent or not a number. */
const pageLimit = (limit: number | undefined): number =>
  limit === undefined || Number.isNaN(limit) ? 50 : Math.max(1, Math.floor(limit))

const make = <E extends Entry>(initial: ReadonlyArray<E>, backend: Backend<E>): DeadLetterStoreShape => {
  let entries: Array<E> = [...initial].sort((a, b) => a.seq - b.seq)
  const ids = new Set(entries.map((entry) => entry.id))
  let nextSeq = entries.reduce((max, entry) => Math.max(max, entry.seq), 0) + 1
  const exclusive = Semaphore.makeUnsafe(1).withPermit

  const removeEntries = (victims: ReadonlyArray<E>) =>
    Effect.gen(function* () {
      const gone = new Set(victims.map((entry) => entry.seq))
      for (const pipeline of byPipeline(victims).keys()) {
        const keep = entries.filter((entry) => entry.pipeline === pipeline && !gone.has(entry.seq))
        const renewed = new Map((yield* backend.retain(pipeline, keep)).map((entry) => [entry.seq, entry] as const))
        entries = entries.flatMap((entry) => {
          if (entry.pipeline !== pipeline) return [entry]
          if (gone.has(entry.seq)) {
            ids.delete(entry.id)
            return []
          }
          return [renewed.get(entry.seq) ?? entry]
        })
      }
      return victims.length
    })

  return {
    append: (letters) =>
      exclusive(
        Effect.gen(function* () {
          // An id already stored is skipped, so retrying a failed append never duplicates a letter.
          const fresh = new Map<string, Array<Stored>>()
          const seen = new Set<string>()
          for (const letter of letters) {
            if (ids.has(letter.id) || seen.has(letter.id)) continue
            seen.add(letter.id)
            const item = { seq: nextSeq++, letter: jsonCopy(letter) }
            const group = fresh.get(letter.pipeline)
            if (group === undefined) fresh.set(letter.pipeline, [item])
            else group.push(item)
          }
          for (const [pipeline, items] of fresh) {
            for (const entry of yield* backend.append(pipeline, items)) {
              // keep the index in seq order: new entries belong near the end
              let at = entries.length
              while (at > 0 && entries[at - 1]!.seq > entry.seq) at--
              entries.splice(at, 0, entry)
              ids.add(entry.id)
            }
          }
        })
      ),
    // Under the lock: `remove` and `purge` rewrite files, moving the letters a page is read from.
    list: (query) =>
      exclusive(
        Effect.gen(function* () {
          const limit = pageLimit(query.limit)
          let after = 0
          if (query.cursor !== undefined) {
            const seq = decodeCursor(query.cursor)
            if (seq === undefined) {
              return yield* new StateError({
                reason: "NotFound",
                key: query.cursor,
                detail:
                  "this cursor was not issued by this dead-letter store; pass back the nextCursor of a previous page"
              })
            }
            after = seq
          }
          const matching = entries.filter((entry) => entry.seq > after && matches(query)(entry))
          const page = matching.slice(0, limit)
          const letters = yield* backend.read(page)
          const last = page[page.length - 1]
          return matching.length > limit && last !== undefined
            ? { letters, nextCursor: encodeCursor(last.seq) }
            : { letters }
        })
      ),
    count: (query) => Effect.sync(() => entries.filter(matches(query)).length),
    remove: (removed) =>
      exclusive(
        Effect.suspend(() => {
          const wanted = new Set(removed)
          return removeEntries(entries.filter((entry) => wanted.has(entry.id)))
        })
      ),
    purge: ({ ttlMs, maxCount, now }) =>
      exclusive(
        Effect.suspend(() => {
          const cutoff = now - ttlMs
          const expired = entries.filter((entry) => entry.atMs < cutoff)
          const live = entries.filter((entry) => !(entry.atMs < cutoff))
          const overflow = live.slice(0, Math.max(0, live.length - Math.max(0, maxCount)))
          return removeEntries([...expired, ...overflow])
        })
      )
  }
}

/** A JSON round trip: the memory store keeps exactly what a file store would read back. */
const jsonCopy = <A>(value: A): A => JSON.parse(JSON.stringify(value)) as A

// ---------------------------------------------------------------------------------------------------------------
// Layers
// ---------------------------------------------------------------------------------------------------------------

/**
 * A dead-letter store in memory: for tests and processes whose dead letters may be lost on exit. Same order,
 * pagination and purge rules as `layerFile`.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerMemory: Layer.Layer<DeadLetterStore> = Layer.effect(
  DeadLetterStore,
  Effect.sync(() =>
    DeadLetterStore.of(
      make<Entry & Stored>([], {
        append: (_, items) => Effect.succeed(items.map((item) => ({ ...entryOf(item), letter: item.letter }))),
        read: (page) => Effect.succeed(page.map((entry) => entry.letter)),
        retain: (_, keep) => Effect.succeed(keep)
      })
    )
  )
)

interface FileEntry extends Entry {
  readonly offset: number
  readonly length: number
}

const StoredLine = Schema.Struct({
  seq: Schema.Int.check(Schema.isGreaterThan(0)),
  letter: Schema.Struct({
    id: Schema.String,
    pipeline: Schema.String,
    version: Schema.String,
    stateKey: Schema.String,
    runId: Schema.String,
    stream: Schema.String,
    stage: Schema.Literals(["source", "transform", "schema", "sink"]),
    reason: Schema.String,
    record: Schema.Json,
    at: Schema.String
  })
})

const fileBackend = (dir: string): Backend<FileEntry> => {
  const fileOf = (pipeline: string) => FileStore.join(dir, `${FileStore.safeName(pipeline)}.jsonl`)
  const located = (items: ReadonlyArray<Stored>, start: number) => {
    const lines = items.map((item) => JSON.stringify(item))
    let offset = start
    const entries = items.map((item, i): FileEntry => {
      const length = Buffer.byteLength(lines[i]!, "utf8") + 1
      const entry = { ...entryOf(item), offset, length }
      offset += length
      return entry
    })
    return { lines, entries }
  }
  const read = (page: ReadonlyArray<FileEntry>) =>
    Effect.gen(function* () {
      const letters = new Map<number, DeadLetter>()
      for (const [pipeline, group] of byPipeline(page)) {
        const file = fileOf(pipeline)
        const values = yield* FileStore.readRanges(file, group)
        for (const [i, value] of values.entries()) {
          const entry = group[i]!
          if (!Schema.is(StoredLine)(value) || value.seq !== entry.seq) {
            return yield* FileStore.corrupt(
              file,
              `bytes ${entry.offset}..${entry.offset + entry.length} changed under the store`
            )
          }
          letters.set(entry.seq, value.letter as DeadLetter)
        }
      }
      return page.map((entry) => letters.get(entry.seq)!)
    })
  return {
    append: (pipeline, items) =>
      Effect.suspend(() => {
        const { lines } = located(items, 0)
        return Effect.map(
          FileStore.appendLines(fileOf(pipeline), lines, { sync: true }),
          (start) => located(items, start).entries
        )
      }),
    read,
    retain: (pipeline, keep) =>
      keep.length === 0
        ? Effect.as(FileStore.removeFile(fileOf(pipeline)), [])
        : Effect.gen(function* () {
            const letters = yield* read(keep)
            const { lines, entries } = located(
              keep.map((entry, i) => ({ seq: entry.seq, letter: letters[i]! })),
              0
            )
            yield* FileStore.atomicWrite(fileOf(pipeline), `${lines.join("\n")}\n`)
            return entries
          })
  }
}

const loadEntries = (dir: string) =>
  Effect.flatMap(FileStore.listDir(dir), (names) =>
    Effect.forEach(
      names.filter((name) => name.endsWith(".jsonl")),
      (name) => {
        const file = FileStore.join(dir, name)
        return Effect.flatMap(FileStore.readLines(file), (lines) =>
          Effect.forEach(lines, (line, i) => {
            const value = line.value
            if (!Schema.is(StoredLine)(value)) {
              return Effect.fail(FileStore.corrupt(file, `line ${i + 1} is not a stored dead letter { seq, letter }`))
            }
            if (`${FileStore.safeName(value.letter.pipeline)}.jsonl` !== name) {
              return Effect.fail(
                FileStore.corrupt(file, `line ${i + 1} belongs to pipeline ${value.letter.pipeline}, another file`)
              )
            }
            return Effect.succeed<FileEntry>({
              ...entryOf({ seq: value.seq, letter: value.letter as DeadLetter }),
              offset: line.offset,
              length: line.length
            })
          })
        )
      },
      { concurrency: 8 }
    )
  ).pipe(Effect.map((files) => files.flat()))

/**
 * A dead-letter store in files under `directory` (the embedded default is `.data-mcp/`), with
 * `deadletters.lock` keeping any other process (or a second layer in this one) out.
 *
 * **Details**
 *
 * - `deadletters/<name>.jsonl`: one file per pipeline, one `{ seq, letter }` per line in append order;
 *   `<name>` is a readable prefix of the pipeline name plus its sha256.
 * - `append` fsyncs before it succeeds, so a dead letter is durable before the checkpoint that passes it. An
 *   id already stored is skipped, so a retried append never duplicates. A torn last line left by a crash
 *   (never acknowledged) is cut off at the next append.
 * - `remove` and `purge` rewrite the pipeline's file crash-safely (temp file, fsync, rename).
 * - Only an index (ids, pipeline, state key, run, tenant, time, file offsets) is held in memory; letters are
 *   read from disk per page. A corrupt file fails with `StateError` `Io` naming it; it is never reset.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerFile = (options: { readonly directory: string }): Layer.Layer<DeadLetterStore, StateError> =>
  Layer.effect(
    DeadLetterStore,
    Effect.gen(function* () {
      yield* FileStore.lock(options.directory, "deadletters")
      const dir = FileStore.join(options.directory, "deadletters")
      yield* FileStore.ensureDir(dir)
      yield* FileStore.sweepTemp(dir)
      const initial = yield* loadEntries(dir)
      return DeadLetterStore.of(make(initial, fileBackend(dir)))
    })
  )
