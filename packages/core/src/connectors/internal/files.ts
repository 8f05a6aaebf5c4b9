// File plumbing shared by the CSV, JSONL and Parquet connectors: classifying `node:fs` errors into
// `ConnectorError` reasons, durable appends (write everything, fsync, roll a failed write back), and
// `replace` staging (a temp file in the target's directory, renamed over the target by `publish`, removed if
// the scope closes before that).
import { randomBytes } from "node:crypto"
import * as fsp from "node:fs/promises"
import * as nodePath from "node:path"
import type { Scope } from "effect"
import { Effect, Semaphore } from "effect"
import * as ConnectorError from "../../ConnectorError.ts"

const TRANSIENT = new Set(["EMFILE", "ENFILE", "EAGAIN", "EBUSY", "EINTR", "ETIMEDOUT"])
const DENIED = new Set(["EACCES", "EPERM", "EROFS"])
const FULL = new Set(["ENOSPC", "EDQUOT", "EFBIG"])

const codeOf = (cause: unknown): string | undefined =>
  typeof cause === "object" && cause !== null && "code" in cause && typeof cause.code === "string"
    ? cause.code
    : undefined

/** Maps a `node:fs` error to a reason. `what` names the file (a config value, never a record value). */
export const classify = (cause: unknown, what: string): ConnectorError.Reason => {
  const code = codeOf(cause)
  if (code === "ENOENT" || code === "ENOTDIR")
    return new ConnectorError.NotFound({ detail: `${what} does not exist`, cause })
  if (code !== undefined && DENIED.has(code))
    return new ConnectorError.Unknown({ detail: `permission denied on ${what} (${code})`, cause })
  if (code !== undefined && FULL.has(code))
    return new ConnectorError.Unknown({ detail: `no space left for ${what} (${code})`, cause })
  if (code !== undefined && TRANSIENT.has(code))
    return new ConnectorError.Unknown({ detail: `${what} is busy (${code})`, cause, transient: true })
  if (code === "EISDIR") return new ConnectorError.Unknown({ detail: `${what} is a directory`, cause })
  return new ConnectorError.Unknown({ detail: `${what}: ${code ?? "I/O failed"}`, cause })
}

/** Runs a promise-returning file operation, failing with a classified `ConnectorError`. */
export const tryFs = <A>(
  connector: string,
  operation: string,
  what: string,
  f: () => Promise<A>
): Effect.Effect<A, ConnectorError.ConnectorError> =>
  Effect.tryPromise({ try: f, catch: (cause) => ConnectorError.make(connector, operation, classify(cause, what)) })

/** A failure of the connector that is not an I/O error (a bad checkpoint, a header mismatch). */
export const fail = (connector: string, operation: string, detail: string, cause?: unknown) =>
  Effect.fail(
    ConnectorError.make(
      connector,
      operation,
      cause === undefined ? new ConnectorError.Unknown({ detail }) : new ConnectorError.Unknown({ detail, cause })
    )
  )

/** fsyncs a directory so that a created or renamed entry in it is durable (a no-op where unsupported). */
export const syncDirectory = async (dir: string): Promise<void> => {
  let handle: fsp.FileHandle | undefined
  try {
    handle = await fsp.open(dir, "r")
    await handle.sync()
  } catch (cause) {
    const code = codeOf(cause)
    // Some platforms and file systems cannot open or fsync a directory: durability is then the OS's.
    if (code !== "EISDIR" && code !== "EINVAL" && code !== "EPERM" && code !== "EACCES" && code !== "ENOTSUP")
      throw cause
  } finally {
    await handle?.close().catch(() => undefined)
  }
}

/** Reads a file's size, or `undefined` if it does not exist. */
export const sizeOrUndefined = async (path: string): Promise<number | undefined> => {
  try {
    const stats = await fsp.stat(path)
    if (stats.isDirectory()) throw Object.assign(new Error(`${path} is a directory`), { code: "EISDIR" })
    return stats.size
  } catch (cause) {
    if (codeOf(cause) === "ENOENT") return undefined
    throw cause
  }
}

/** Reads the last byte of a non-empty file. */
export const lastByte = async (path: string, size: number): Promise<number | undefined> => {
  if (size === 0) return undefined
  const handle = await fsp.open(path, "r")
  try {
    const buffer = Buffer.alloc(1)
    await handle.read(buffer, 0, 1, size - 1)
    return buffer[0]
  } finally {
    await handle.close()
  }
}

/** Writes the whole buffer at `position` (or at the end in append mode when `position` is null). */
const writeAll = async (handle: fsp.FileHandle, bytes: Uint8Array, position: number | null): Promise<void> => {
  let offset = 0
  while (offset < bytes.length) {
    const { bytesWritten } = await handle.write(
      bytes,
      offset,
      bytes.length - offset,
      position === null ? null : position + offset
    )
    offset += bytesWritten
  }
}

/** An output file opened for one run. */
export interface OutputFile {
  /** The path written to: the target (append) or the staging file (replace). */
  readonly path: string
  /** Bytes in the file so far. */
  readonly size: () => number
  /** Whether the file held data before this run (append mode only). */
  readonly existed: boolean
  /** Appends bytes, flushes and fsyncs them; on failure the file is truncated back, so nothing partial stays. */
  readonly append: (bytes: Uint8Array) => Effect.Effect<void, ConnectorError.ConnectorError>
  /** Replace mode: fsync, rename the staging file over the target, fsync the directory. Append mode: no-op. */
  readonly publish: Effect.Effect<void, ConnectorError.ConnectorError>
}

/** A staging path next to the target, unique per run and attempt. */
export const stagingPath = (target: string, runId: string): string => {
  const dir = nodePath.dirname(target)
  const base = nodePath.basename(target)
  const tag = runId.replace(/[^A-Za-z0-9_-]/g, "").slice(0, 32)
  return nodePath.join(dir, `.${base}.${tag}-${randomBytes(6).toString("hex")}.tmp`)
}

/**
 * Opens the output of a file sink in the current scope. Append mode opens (creating if needed) the target;
 * replace mode creates a staging file that `publish` renames over the target and that the scope removes if
 * it closes before `publish` succeeded.
 */
export const openOutput = (options: {
  readonly connector: string
  readonly path: string
  readonly disposition: "append" | "replace"
  readonly runId: string
}): Effect.Effect<OutputFile, ConnectorError.ConnectorError, Scope.Scope> =>
  Effect.gen(function* () {
    const { connector, disposition } = options
    const target = nodePath.resolve(options.path)
    const dir = nodePath.dirname(target)
    const lock = yield* Semaphore.make(1)
    const what = `file ${options.path}`

    if (disposition === "append") {
      const before = yield* tryFs(connector, "open", what, () => sizeOrUndefined(target))
      const handle = yield* Effect.acquireRelease(
        tryFs(connector, "open", what, () => fsp.open(target, "a")),
        (h) => Effect.promise(() => h.close().catch(() => undefined))
      )
      if (before === undefined) yield* tryFs(connector, "open", `directory of ${what}`, () => syncDirectory(dir))
      let size = (yield* tryFs(connector, "open", what, () => handle.stat())).size
      const append = (bytes: Uint8Array) =>
        tryFs(connector, "write", what, async () => {
          try {
            await writeAll(handle, bytes, null)
            await handle.sync()
            size += bytes.length
          } catch (cause) {
            await handle.truncate(size).catch(() => undefined)
            throw cause
          }
        }).pipe(Effect.uninterruptible, lock.withPermits(1))
      return {
        path: target,
        size: () => size,
        existed: size > 0,
        append,
        publish: Effect.void
      } satisfies OutputFile
    }

    const staging = stagingPath(target, options.runId)
    let published = false
    const handle = yield* Effect.acquireRelease(
      tryFs(connector, "open", `directory of ${what}`, () => fsp.open(staging, "wx")),
      (h) =>
        Effect.promise(async () => {
          await h.close().catch(() => undefined)
          if (!published) await fsp.unlink(staging).catch(() => undefined)
        })
    )
    let size = 0
    const append = (bytes: Uint8Array) =>
      tryFs(connector, "write", what, async () => {
        try {
          await writeAll(handle, bytes, size)
          size += bytes.length
        } catch (cause) {
          await handle.truncate(size).catch(() => undefined)
          throw cause
        }
      }).pipe(Effect.uninterruptible, lock.withPermits(1))
    // Staged bytes are not durable state until published, so they are fsynced once, before the rename.
    const publish = tryFs(connector, "finish", what, async () => {
      if (published) return
      await handle.sync()
      await fsp.rename(staging, target)
      published = true
      await syncDirectory(dir)
    }).pipe(Effect.uninterruptible, lock.withPermits(1))
    return { path: staging, size: () => size, existed: false, append, publish } satisfies OutputFile
  })

/** `fs.createReadStream` options for reading from a byte offset. */
export const readFrom = (start: number): { readonly start: number; readonly highWaterMark: number } => ({
  start,
  highWaterMark: 64 * 1024
})
