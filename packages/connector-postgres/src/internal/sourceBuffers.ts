// Memory for the COPY output a source reads in pages (keyset pages, chunks), reused once its rows are done with:
// loaded by a PostgreSQL sink undecoded (pass-through) and committed, or decoded into records. The COPY reader hands
// on each socket read as a buffer of its own (up to 64 KiB); kept until its batch commits (or its page's last group
// is decoded), V8 promotes them and counts their bytes against the old generation until a full collection frees
// them: a pass-through pipeline ran a mark-compact per batch. Copied into pages reused from batch to batch, the
// pieces die young and the pages' memory is allocated once; the sink's writes are also page-sized instead of one
// socket write per piece.
//
// Bytes are appended one after another into pages of `PAGE_SIZE` bytes (one process-wide pool: reads of several
// streams interleave in a page). A page is written again only once it is full (sealed), every view handed on from
// it was given back (`release`: by the sink, after the COPY that sent it ended and its write committed; or by the
// source, once the rows were decoded, when no sink loads them undecoded), and no read is still cutting its bytes
// into views (`unpin`). A view never given back (a failed run, a batch decoded instead of loaded) keeps its page out
// of the pool: it is collected with the view.

/** The size of a page. */
export const PAGE_SIZE = 1024 * 1024
/** Free pages kept: a transactional sink commits one batch while the source reads ahead (~8.5 MiB per 50,000 rows). */
export const KEEP_PAGES = 32

interface Page {
  readonly buffer: Buffer
  used: number
  /** Views handed on and not given back. */
  lent: number
  /** Segments still being cut into views by a read. */
  pins: number
  /** Full: no more bytes go in. */
  sealed: boolean
}

const free: Array<Page> = []
let current: Page | undefined
const pageOf = new WeakMap<ArrayBufferLike, Page>()
const lentViews = new WeakSet<Uint8Array>()
const releasedViews = new WeakSet<Uint8Array>()

const newPage = (): Page => {
  const page = free.pop()
  if (page !== undefined) return page
  const fresh: Page = { buffer: Buffer.allocUnsafeSlow(PAGE_SIZE), used: 0, lent: 0, pins: 0, sealed: false }
  pageOf.set(fresh.buffer.buffer, fresh)
  return fresh
}

const settle = (page: Page): void => {
  if (!page.sealed || page.lent > 0 || page.pins > 0) return
  page.used = 0
  page.sealed = false
  if (free.length < KEEP_PAGES) free.push(page)
}

/**
 * Copies `bytes` into pages, pushing the segments they now occupy onto `into` (pinned: see `unpin`). The caller
 * may reuse `bytes` afterwards.
 */
export const append = (bytes: Uint8Array, into: Array<Uint8Array>): void => {
  let from = 0
  while (from < bytes.length) {
    if (current === undefined || current.used === PAGE_SIZE) {
      if (current !== undefined) {
        current.sealed = true
        settle(current)
      }
      current = newPage()
    }
    const page = current
    const n = Math.min(bytes.length - from, PAGE_SIZE - page.used)
    page.buffer.set(bytes.subarray(from, from + n), page.used)
    into.push(page.buffer.subarray(page.used, page.used + n))
    page.used += n
    page.pins++
    from += n
  }
}

/** Counts `view` (a view of a page) as handed on, until `release`. Views of other memory are ignored. */
export const lend = (view: Uint8Array): void => {
  const page = pageOf.get(view.buffer)
  if (page === undefined || lentViews.has(view)) return
  lentViews.add(view)
  page.lent++
}

/** Ends the pins of `segments` (from `append`) once every view cut from them has been lent. */
export const unpin = (segments: ReadonlyArray<Uint8Array>): void => {
  for (const segment of segments) {
    const page = pageOf.get(segment.buffer)
    if (page === undefined) continue
    page.pins--
    settle(page)
  }
}

/**
 * Gives back lent views among `views` (others are ignored; each at most once): called once their bytes have been
 * sent and committed.
 */
export const release = (views: ReadonlyArray<Uint8Array>): void => {
  for (const view of views) {
    if (!lentViews.has(view)) continue
    lentViews.delete(view)
    releasedViews.add(view)
    const page = pageOf.get(view.buffer)!
    page.lent--
    settle(page)
  }
}

/** Whether any of `views` was given back: its bytes may have been overwritten since. */
export const anyReleased = (views: ReadonlyArray<Uint8Array>): boolean => views.some((v) => releasedViews.has(v))

/** Free pages held, for tests. */
export const freePages = (): number => free.length
