// An append-only file with group commit: lines written while a flush is under way wait for the next one, which
// appends them all with one write and one fdatasync; each write resolves only after the fdatasync that covers
// it. A failed write or sync rejects every line of that flush and closes the file; the next write opens it
// again. Each open first ends a torn last line (a crash, a failed flush), so it never merges into the next.
import * as fsp from "node:fs/promises"
import * as nodePath from "node:path"

export interface AppendFile {
  readonly append: (line: string) => Promise<void>
  readonly close: () => Promise<void>
}

interface Pending {
  readonly line: string
  readonly resolve: () => void
  readonly reject: (cause: unknown) => void
}

const endsWithNewline = async (handle: fsp.FileHandle): Promise<boolean> => {
  const { size } = await handle.stat()
  if (size === 0) return true
  const last = Buffer.alloc(1)
  // `a` opens write-only on some systems; a file we cannot read back is assumed whole.
  const { bytesRead } = await handle.read(last, 0, 1, size - 1).catch(() => ({ bytesRead: 0 }))
  return bytesRead === 0 || last[0] === 0x0a
}

const syncDirectory = async (dir: string): Promise<void> => {
  const handle = await fsp.open(dir, "r")
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

export const make = (path: string, options: { readonly sync: boolean }): AppendFile => {
  let handle: fsp.FileHandle | undefined
  // A crash (of this process or an earlier one) can leave a torn last line: checked at every open.
  let torn = true
  let queue: Array<Pending> = []
  let flushing: Promise<void> | undefined
  let closed = false

  const open = async (): Promise<fsp.FileHandle> => {
    if (handle !== undefined) return handle
    const created = await fsp.stat(path).then(
      () => false,
      () => true
    )
    // `a+`: O_APPEND | O_CREAT, never truncates; readable so a torn last line can be seen after a failure.
    const opened = await fsp.open(path, "a+", 0o600).catch(() => fsp.open(path, "a", 0o600))
    try {
      // A new file's directory entry is made durable too, or a crash could lose the whole file.
      if (created && options.sync) await syncDirectory(nodePath.dirname(path))
      if (torn && !(await endsWithNewline(opened))) await opened.appendFile("\n")
    } catch (cause) {
      await opened.close().catch(() => undefined)
      throw cause
    }
    torn = false
    handle = opened
    return opened
  }

  const drop = async () => {
    const h = handle
    handle = undefined
    torn = true
    await h?.close().catch(() => undefined)
  }

  const flush = async (): Promise<void> => {
    while (queue.length > 0) {
      const batch = queue
      queue = []
      try {
        const h = await open()
        await h.appendFile(batch.map((p) => p.line).join(""))
        if (options.sync) await h.datasync()
        for (const p of batch) p.resolve()
      } catch (cause) {
        await drop()
        for (const p of batch) p.reject(cause)
      }
    }
  }

  const kick = () => {
    if (flushing !== undefined) return
    flushing = flush().finally(() => {
      flushing = undefined
      if (queue.length > 0) kick()
    })
  }

  return {
    append: (line) => {
      if (closed) return Promise.reject(new Error("closed"))
      return new Promise<void>((resolve, reject) => {
        queue.push({ line, resolve, reject })
        kick()
      })
    },
    close: async () => {
      closed = true
      while (flushing !== undefined) await flushing
      const h = handle
      handle = undefined
      await h?.close()
    }
  }
}
