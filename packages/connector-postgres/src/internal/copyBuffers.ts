// Memory for the COPY text (or COPY binary rows) a sink encodes ahead of its writes, reused once a write has sent
// it. Encoded batches live from the early stage until their write ends, long enough for V8 to promote their buffers,
// which then wait for a full collection while new ones are allocated: a map pipeline's external memory peaked at
// ~110 MiB. Reusing them keeps it to the bytes in flight.
//
// Texts are written one after another into pages of `PAGE_SIZE` bytes, each text a slice of its page, so a page holds
// several texts with little left over (a buffer per text, rounded up to a power of two, wasted ~40% on the early
// stage's ~75 KiB slices). A page counts the slices lent from it; it is written again only once every one of them is
// given back.
//
// Safety: a slice is given back by `release`, which a sink calls once the COPY that sent it has ended (PostgreSQL
// answered, so every byte left the socket) and the write succeeded; a failed write keeps its slices (a retry sends
// them again) and their page is simply collected once they are dropped.

/** The size of a page; a text longer than half of it gets a buffer of its own (not pooled). */
export const PAGE_SIZE = 1024 * 1024
/**
 * Free pages kept. A transactional sink has one batch in flight and the next being encoded ahead: at the default
 * 50,000 rows of ~150 B that is ~15 MiB, which comes back whole once its write ends.
 */
export const KEEP_PAGES = 16

export interface CopyBuffers {
  /** The text as UTF-8, in one slice (of a pooled page when the size allows). */
  readonly encode: (text: string) => Uint8Array
  /** A copy of `bytes` (COPY binary rows), in one slice (of a pooled page when the size allows). */
  readonly copy: (bytes: Uint8Array) => Uint8Array
  /** Gives back the pooled slices among `chunks` (others are ignored; each is given back at most once). */
  readonly release: (chunks: ReadonlyArray<Uint8Array>) => void
  /** Free pages held, for tests. */
  readonly free: () => number
}

interface Page {
  readonly buffer: Buffer
  /** Where the next text goes. */
  used: number
  /** Slices lent and not yet given back. */
  lent: number
}

export const make = (): CopyBuffers => {
  const free: Array<Page> = []
  // The page texts are written into; `undefined` before the first and after it filled up.
  let current: Page | undefined
  // The page of each slice lent and not yet given back (a stale slice of a page written again is another object,
  // so it cannot give the page back twice).
  const lent = new WeakMap<Uint8Array, Page>()

  const newPage = (): Page => free.pop() ?? { buffer: Buffer.allocUnsafeSlow(PAGE_SIZE), used: 0, lent: 0 }
  const keep = (page: Page): void => {
    page.used = 0
    if (free.length < KEEP_PAGES) free.push(page)
  }
  // Whether `text` fits in what is left of the current page. UTF-8 takes at most 3 bytes per UTF-16 code unit: the
  // exact length is measured only when that bound does not fit.
  const fits = (page: Page, text: string): boolean =>
    page.used + text.length * 3 <= PAGE_SIZE || page.used + Buffer.byteLength(text, "utf8") <= PAGE_SIZE

  // The page with room for `bytes` more: the current one, else a new one (the filled page leaves the writer; it is
  // freed by its last slice's release, or now if none is out).
  const pageFor = (bytes: number | string): Page => {
    if (
      current === undefined ||
      (typeof bytes === "string" ? !fits(current, bytes) : current.used + bytes > PAGE_SIZE)
    ) {
      if (current !== undefined && current.lent === 0) keep(current)
      current = newPage()
    }
    return current
  }
  const lend = (page: Page, written: number): Uint8Array => {
    const slice = page.buffer.subarray(page.used, page.used + written)
    page.used += written
    page.lent++
    lent.set(slice, page)
    return slice
  }

  return {
    encode: (text) => {
      if (text.length * 3 > PAGE_SIZE / 2 && Buffer.byteLength(text, "utf8") > PAGE_SIZE / 2)
        return Buffer.from(text, "utf8")
      const page = pageFor(text)
      return lend(page, page.buffer.write(text, page.used, "utf8"))
    },
    copy: (bytes) => {
      if (bytes.length > PAGE_SIZE / 2) return Buffer.from(bytes)
      const page = pageFor(bytes.length)
      page.buffer.set(bytes, page.used)
      return lend(page, bytes.length)
    },
    release: (chunks) => {
      for (const chunk of chunks) {
        const page = lent.get(chunk)
        if (page === undefined) continue
        lent.delete(chunk)
        if (--page.lent > 0) continue
        // Every slice is back: the writer's own page starts over, a filled one goes to the free list.
        if (page === current) page.used = 0
        else keep(page)
      }
    },
    free: () => free.length
  }
}
