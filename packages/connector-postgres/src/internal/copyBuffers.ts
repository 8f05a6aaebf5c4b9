// Buffers for COPY text a sink encodes ahead of its writes, reused once a write has sent them. Encoded batches live
// from the early stage until their write ends, long enough for V8 to promote their buffers, which then wait for a
// full collection while new ones are allocated: a map pipeline's external memory peaked at ~110 MiB. Reusing them
// keeps it to the buffers in flight. Sizes are powers of two from 64 KiB, so a freed buffer fits the next slice.
//
// Safety: a buffer is handed out again only after `release`, which a sink calls once the COPY that sent it has
// ended (PostgreSQL answered, so every byte left the socket) and the write succeeded; a failed write keeps its
// buffers (a retry sends them again) and they are simply collected.

/** The smallest pooled size; larger texts take the next power of two, up to `MAX_SIZE`. */
const MIN_SIZE = 64 * 1024
/** Texts above this are not pooled. */
const MAX_SIZE = 4 * 1024 * 1024
/** Free buffers kept per size. */
const KEEP = 16

export interface CopyBuffers {
  /** The text as UTF-8, in one buffer (a pooled one when the size allows). */
  readonly encode: (text: string) => Uint8Array
  /** Gives back the pooled buffers among `chunks` (others are ignored; each is given back at most once). */
  readonly release: (chunks: ReadonlyArray<Uint8Array>) => void
  /** Free buffers held, for tests. */
  readonly free: () => number
}

const sizeFor = (bytes: number): number => {
  let size = MIN_SIZE
  while (size < bytes) size *= 2
  return size
}

export const make = (): CopyBuffers => {
  const free = new Map<number, Array<Buffer>>()
  // Buffers handed out and not yet given back, by the chunk handed out (a stale chunk of a buffer lent again is
  // another object, so it cannot give that buffer back).
  const lent = new WeakMap<Uint8Array, Buffer>()
  return {
    encode: (text) => {
      const bytes = Buffer.byteLength(text, "utf8")
      if (bytes > MAX_SIZE) return Buffer.from(text, "utf8")
      const size = sizeFor(bytes)
      const buffer = free.get(size)?.pop() ?? Buffer.allocUnsafeSlow(size)
      const chunk = buffer.subarray(0, buffer.write(text, 0, "utf8"))
      lent.set(chunk, buffer)
      return chunk
    },
    release: (chunks) => {
      for (const chunk of chunks) {
        const buffer = lent.get(chunk)
        if (buffer === undefined) continue
        lent.delete(chunk)
        let list = free.get(buffer.length)
        if (list === undefined) {
          list = []
          free.set(buffer.length, list)
        }
        if (list.length < KEEP) list.push(buffer)
      }
    },
    free: () => {
      let n = 0
      for (const list of free.values()) n += list.length
      return n
    }
  }
}
