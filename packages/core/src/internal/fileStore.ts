// Crash-safe file primitives shared by the file layers of StateStore, RunStore and DeadLetterStore:
//
// - `atomicWrite`: temp file in the same directory → fsync → rename over the target → fsync the directory, so a
//   reader (or a restart after a crash) sees the old content or the new, never a mix; no temp file is left.
// - `appendLines`: JSONL appends, fsynced when asked; a torn last line left by a crash is cut off first.
// - `readJson` / `readLines`: strict reads; a corrupt file fails with `StateError` (reason `Io`) naming its path.
// - `lock`: the `<directory>/<store>.lock` file that keeps a second process, or a second layer in this
//   process, from writing the same directory.
//
// Every node:fs call is wrapped with `Effect.tryPromise`, its failure a `StateError` whose key is the path.
//
// The layout of a state directory (`.data-mcp/` in the embedded default); <name> = `safeName(key)`:
//
//   state.lock                 pid of the process whose StateStore layer uses the directory
//   state/<name>.json          one state key: { key, token, holder, checkpoint }           (atomicWrite)
//   runs.lock                  pid of the process whose RunStore layer uses the directory
//   runs/<name>.json           one run record, named by run id                             (atomicWrite)
//   events/<name>.jsonl        a run's events, one per line; fsynced at a terminal event   (appendLines)
//   deadletters.lock           pid of the process whose DeadLetterStore layer uses the directory
//   deadletters/<name>.jsonl   a pipeline's dead letters, { seq, letter } per line; fsynced (appendLines)
//
// (StateError comes from internal/stateModel.ts, so this module and StateStore.ts do not import each other.)
import { createHash } from "node:crypto"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { Effect, Result, type Scope } from "effect"
import { StateError } from "./stateModel.ts"

const messageOf = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause))

/** The errno code (`ENOENT`, `EEXIST`, …) of a Node error, if any. */
export const codeOf = (cause: unknown): string | undefined =>
  typeof cause === "object" && cause !== null && "code" in cause && typeof cause.code === "string"
    ? cause.code
    : undefined

/** Runs a node:fs promise; a rejection becomes `StateError` `Io` keyed by `file`. */
export const io = <A>(file: string, operation: string, f: () => Promise<A>): Effect.Effect<A, StateError> =>
  Effect.tryPromise({
    try: f,
    catch: (cause) =>
      new StateError({
        reason: "Io",
        key: file,
        detail: `${operation} ${file} failed: ${messageOf(cause)}`,
        cause
      })
  })

const ignoring =
  (...codes: ReadonlyArray<string>) =>
  <A>(effect: Effect.Effect<A, StateError>): Effect.Effect<A | undefined, StateError> =>
    Effect.catchIf(
      effect,
      (error) => codes.includes(codeOf(error.cause) ?? ""),
      () => Effect.succeed(undefined)
    )

/** A corrupt file: never silently reset, so the error says how to recover. */
export const corrupt = (file: string, what: string, cause?: unknown): StateError =>
  new StateError({
    reason: "Io",
    key: file,
    detail: `${file} is corrupt (${what}). data-mcp never resets state silently: restore the file from a backup, or move it aside if you accept losing what it held.`,
    ...(cause === undefined ? {} : { cause })
  })

/** `path.join`, kept here so node:path stays out of the public modules. */
export const join = (...parts: ReadonlyArray<string>): string => path.join(...parts)

/**
 * A file name for any key: a readable prefix (unsafe characters replaced, cut to 48) plus the key's sha256, so
 * distinct keys never share a file, even on case-insensitive file systems.
 */
export const safeName = (key: string): string => {
  const readable = key
    .replace(/[^A-Za-z0-9._-]+/g, "_")
    .replace(/^[._]+/, "")
    .slice(0, 48)
  const hash = createHash("sha256").update(key, "utf8").digest("hex")
  return readable.length > 0 ? `${readable}-${hash}` : hash
}

/** Creates a directory (and its parents) if missing. */
export const ensureDir = (dir: string): Effect.Effect<void, StateError> =>
  Effect.asVoid(io(dir, "mkdir", () => fs.mkdir(dir, { recursive: true })))

/** The names in a directory (none if it does not exist). */
export const listDir = (dir: string): Effect.Effect<ReadonlyArray<string>, StateError> =>
  io(dir, "readdir", () => fs.readdir(dir)).pipe(
    ignoring("ENOENT"),
    Effect.map((names) => names ?? [])
  )

/** Removes a file; a missing file is fine. */
export const removeFile = (file: string): Effect.Effect<void, StateError> =>
  Effect.asVoid(io(file, "unlink", () => fs.unlink(file)).pipe(ignoring("ENOENT")))

const isTemp = (name: string): boolean => name.startsWith(".") && name.endsWith(".tmp")

/** Removes temp files a crash left in `dir` (only safe while holding the directory's lock). */
export const sweepTemp = (dir: string): Effect.Effect<void, StateError> =>
  Effect.flatMap(listDir(dir), (names) =>
    Effect.forEach(names.filter(isTemp), (name) => removeFile(path.join(dir, name)), { discard: true })
  )

/** fsyncs a directory so a rename or a new file in it survives a power cut (a no-op where unsupported). */
export const syncDir = (dir: string): Effect.Effect<void, StateError> =>
  Effect.acquireUseRelease(
    io(dir, "open", () => fs.open(dir, "r")),
    (handle) => io(dir, "fsync", () => handle.sync()),
    (handle) => Effect.ignore(io(dir, "close", () => handle.close()))
  ).pipe(ignoring("EISDIR", "EPERM", "EINVAL", "EBADF", "EACCES"), Effect.asVoid)

let tempCounter = 0

/**
 * Replaces `file` with `data` crash-safely: write a temp file beside it, fsync, rename over the target, fsync
 * the directory. Uninterruptible, so an interrupted write leaves the old content and no temp file.
 */
export const atomicWrite = (file: string, data: string): Effect.Effect<void, StateError> =>
  Effect.suspend(() => {
    const dir = path.dirname(file)
    const temp = path.join(dir, `.${path.basename(file)}.${process.pid}.${++tempCounter}.tmp`)
    return Effect.acquireUseRelease(
      io(temp, "create", () => fs.open(temp, "wx")),
      (handle) =>
        io(temp, "write", () => handle.writeFile(data, "utf8")).pipe(
          Effect.andThen(io(temp, "fsync", () => handle.sync()))
        ),
      (handle) => Effect.ignore(io(temp, "close", () => handle.close()))
    ).pipe(
      Effect.andThen(io(file, "rename", () => fs.rename(temp, file))),
      Effect.onError(() => Effect.ignore(removeFile(temp))),
      Effect.andThen(syncDir(dir))
    )
  }).pipe(Effect.uninterruptible)

/** The whole file as UTF-8, or `undefined` if it does not exist. */
export const readText = (file: string): Effect.Effect<string | undefined, StateError> =>
  io(file, "read", () => fs.readFile(file, "utf8")).pipe(ignoring("ENOENT"))

/** Parses a JSON file: `undefined` if it does not exist; `StateError` `Io` naming the path if it is corrupt. */
export const readJson = (file: string): Effect.Effect<unknown, StateError> =>
  Effect.flatMap(readText(file), (text) =>
    text === undefined
      ? Effect.succeed(undefined)
      : Effect.try({ try: (): unknown => JSON.parse(text), catch: (cause) => corrupt(file, messageOf(cause), cause) })
  )

/** One parsed line of a JSONL file, with where its bytes are. */
export interface Line {
  readonly value: unknown
  readonly offset: number
  readonly length: number
}

/**
 * Parses a JSONL file (no file: no lines). An unterminated last line is a write a crash cut short (it was
 * never acknowledged) and is skipped; any other bad line fails with `StateError` `Io` naming path and line.
 */
export const readLines = (file: string): Effect.Effect<ReadonlyArray<Line>, StateError> =>
  io(file, "read", () => fs.readFile(file)).pipe(
    ignoring("ENOENT"),
    Effect.flatMap((buffer) => Effect.fromResult(parseLines(file, buffer ?? Buffer.alloc(0))))
  )

const parseJson = (text: string): Result.Result<unknown, unknown> => {
  try {
    return Result.succeed(JSON.parse(text))
  } catch (cause) {
    return Result.fail(cause)
  }
}

const parseLines = (file: string, buffer: Buffer): Result.Result<Array<Line>, StateError> => {
  const lines: Array<Line> = []
  let offset = 0
  let number = 0
  while (offset < buffer.length) {
    const end = buffer.indexOf(0x0a, offset)
    if (end === -1) break // torn tail
    number++
    const text = buffer.toString("utf8", offset, end)
    if (text.trim().length > 0) {
      const parsed = parseJson(text)
      if (Result.isFailure(parsed))
        return Result.fail(corrupt(file, `line ${number}: ${messageOf(parsed.failure)}`, parsed.failure))
      lines.push({ value: parsed.success, offset, length: end + 1 - offset })
    }
    offset = end + 1
  }
  return Result.succeed(lines)
}

/** Reads `length` bytes at `offset` of an open file. */
const readAt = (file: string, handle: fs.FileHandle, offset: number, length: number) =>
  io(file, "read", () => handle.read(Buffer.alloc(length), 0, length, offset)).pipe(
    Effect.map(({ buffer, bytesRead }) => buffer.subarray(0, bytesRead))
  )

/** Where the line holding byte `size - 1` starts: just after the last newline before it (0 if none). */
const lastLineStart = (file: string, handle: fs.FileHandle, size: number): Effect.Effect<number, StateError> =>
  Effect.gen(function* () {
    let end = size
    while (end > 0) {
      const start = Math.max(0, end - 65_536)
      const chunk = yield* readAt(file, handle, start, end - start)
      const at = chunk.lastIndexOf(0x0a)
      if (at !== -1) return start + at + 1
      end = start
    }
    return 0
  })

/**
 * Appends JSON lines to `file` (created if missing) and returns the byte offset the first one starts at. A
 * torn last line left by a crash is cut off first. With `sync`, the data (and a new file's directory entry)
 * is on disk when the effect succeeds.
 */
export const appendLines = (
  file: string,
  lines: ReadonlyArray<string>,
  options: { readonly sync: boolean }
): Effect.Effect<number, StateError> =>
  Effect.acquireUseRelease(
    io(file, "open", () => fs.open(file, "a+")),
    (handle) =>
      Effect.gen(function* () {
        const { size } = yield* io(file, "stat", () => handle.stat())
        let start = size
        if (size > 0) {
          const last = yield* readAt(file, handle, size - 1, 1)
          if (last[0] !== 0x0a) {
            start = yield* lastLineStart(file, handle, size)
            yield* Effect.logWarning(`${file}: cutting off a torn last line (${size - start} bytes) left by a crash`)
            yield* io(file, "truncate", () => handle.truncate(start))
          }
        }
        if (lines.length > 0) yield* io(file, "append", () => handle.writeFile(`${lines.join("\n")}\n`, "utf8"))
        if (options.sync) {
          yield* io(file, "fsync", () => handle.sync())
          if (size === 0) yield* syncDir(path.dirname(file))
        }
        return start
      }),
    (handle) => Effect.ignore(io(file, "close", () => handle.close()))
  ).pipe(Effect.uninterruptible)

/** Reads byte ranges of a file (e.g. the lines `readLines` located); a missing file fails. */
export const readRanges = (
  file: string,
  ranges: ReadonlyArray<{ readonly offset: number; readonly length: number }>
): Effect.Effect<ReadonlyArray<unknown>, StateError> =>
  Effect.acquireUseRelease(
    io(file, "open", () => fs.open(file, "r")),
    (handle) =>
      Effect.forEach(ranges, ({ offset, length }) =>
        Effect.flatMap(readAt(file, handle, offset, length), (bytes) =>
          Effect.try({
            try: (): unknown => JSON.parse(bytes.toString("utf8")),
            catch: (cause) => corrupt(file, `bytes ${offset}..${offset + length}: ${messageOf(cause)}`, cause)
          })
        )
      ),
    (handle) => Effect.ignore(io(file, "close", () => handle.close()))
  )

// ---------------------------------------------------------------------------------------------------------------
// The lock file
// ---------------------------------------------------------------------------------------------------------------

/** Lock files held by layers of this process (absolute paths). */
const heldLocks = new Set<string>()

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (cause) {
    return codeOf(cause) === "EPERM" // exists, owned by someone else
  }
}

const createLock = (file: string): Effect.Effect<boolean, StateError> =>
  Effect.acquireUseRelease(
    io(file, "create", () => fs.open(file, "wx")),
    (handle) =>
      io(file, "write", () => handle.writeFile(`${process.pid}\n`, "utf8")).pipe(
        Effect.andThen(io(file, "fsync", () => handle.sync()))
      ),
    (handle) => Effect.ignore(io(file, "close", () => handle.close()))
  ).pipe(
    Effect.as(true),
    Effect.catchIf(
      (error) => codeOf(error.cause) === "EEXIST",
      () => Effect.succeed(false)
    )
  )

/** The pid in a lock file; `undefined` if it vanished, `null` if it holds no valid pid. */
const lockHolder = (file: string) =>
  Effect.map(readText(file), (text) => {
    if (text === undefined) return undefined
    const pid = Number(text.trim())
    return Number.isSafeInteger(pid) && pid > 0 ? pid : null
  })

const lockAge = (file: string) =>
  io(file, "stat", () => fs.stat(file)).pipe(
    ignoring("ENOENT"),
    Effect.map((stat) => (stat === undefined ? Number.POSITIVE_INFINITY : Date.now() - stat.mtimeMs))
  )

const acquireLock = (directory: string, store: string, file: string): Effect.Effect<void, StateError> =>
  Effect.gen(function* () {
    if (heldLocks.has(file)) {
      return yield* new StateError({
        reason: "Locked",
        key: directory,
        detail: `this process already has the ${store} store in ${directory} open (${file} is held by another layer). Build the layer once and share it.`
      })
    }
    heldLocks.add(file)
    yield* ensureDir(directory)
    for (let attempt = 0; attempt < 5; attempt++) {
      if (yield* createLock(file)) return
      const pid = yield* lockHolder(file)
      if (pid === undefined) continue // released meanwhile: try again
      if (pid === null && (yield* lockAge(file)) < 10_000) {
        return yield* new StateError({
          reason: "Locked",
          key: directory,
          detail: `${file} is being created by another process. If no other data-mcp process uses ${directory}, delete ${file} and start again.`
        })
      }
      if (pid !== null && pid !== process.pid && isAlive(pid)) {
        return yield* new StateError({
          reason: "Locked",
          key: directory,
          detail: `the ${store} store in ${directory} is in use by process ${pid} (lock file ${file}). Stop that process or give this one another directory; if process ${pid} is not data-mcp, delete ${file}.`
        })
      }
      yield* Effect.logWarning(`taking over ${file}: process ${pid ?? "(unknown)"} that held it is gone`)
      yield* removeFile(file)
    }
    return yield* new StateError({
      reason: "Locked",
      key: directory,
      detail: `could not take ${file}: other processes keep creating it. Make sure only one data-mcp process uses ${directory}.`
    })
  }).pipe(Effect.onError(() => Effect.sync(() => heldLocks.delete(file))))

const releaseLock = (file: string): Effect.Effect<void> =>
  Effect.flatMap(lockHolder(file), (pid) => (pid === process.pid ? removeFile(file) : Effect.void)).pipe(
    Effect.ignore,
    Effect.ensuring(Effect.sync(() => heldLocks.delete(file)))
  )

/**
 * Holds `<directory>/<store>.lock` for the current scope: created with `wx` holding this pid; refused with
 * `StateError` `Locked` if a live process (or another layer of this one) holds it; a dead holder's lock is
 * taken over. Released (unlinked) when the scope closes.
 */
export const lock = (directory: string, store: string): Effect.Effect<void, StateError, Scope.Scope> =>
  Effect.suspend(() => {
    const dir = path.resolve(directory)
    const file = path.join(dir, `${store}.lock`)
    return Effect.acquireRelease(acquireLock(dir, store, file), () => releaseLock(file))
  })
