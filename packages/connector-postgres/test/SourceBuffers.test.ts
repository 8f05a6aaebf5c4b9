// The pages a source copies pass-through COPY output into: bytes kept exactly, views in flight never overwritten, a
// page reused only once it is full, every view lent from it given back and no read still cutting it, and stale or
// foreign views ignored.
import { assert, describe, it } from "@effect/vitest"
import * as SourceBuffers from "../src/internal/sourceBuffers.ts"

const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff)
const joined = (views: ReadonlyArray<Uint8Array>) => Buffer.concat(views.map((v) => Buffer.from(v)))

describe("SourceBuffers", () => {
  it("keeps the bytes appended, across page boundaries", () => {
    const input = bytes(SourceBuffers.PAGE_SIZE + 12_345, 1)
    const segments: Array<Uint8Array> = []
    SourceBuffers.append(input.subarray(0, 1000), segments)
    SourceBuffers.append(input.subarray(1000), segments)
    assert.isAtLeast(segments.length, 3)
    assert.isTrue(joined(segments).equals(Buffer.from(input)))
    for (const s of segments) SourceBuffers.lend(s)
    SourceBuffers.unpin(segments)
    SourceBuffers.release(segments)
    assert.isTrue(SourceBuffers.anyReleased(segments))
  })

  it("never writes over a view in flight; reuses a page once it is full, given back and unpinned", () => {
    // Fill pages with views that stay lent, then keep appending: nothing in flight changes.
    const held: Array<{ views: Array<Uint8Array>; copy: Buffer }> = []
    for (let i = 0; i < 6; i++) {
      const input = bytes(700_000, i)
      const views: Array<Uint8Array> = []
      SourceBuffers.append(input, views)
      for (const v of views) SourceBuffers.lend(v)
      SourceBuffers.unpin(views)
      held.push({ views, copy: Buffer.from(input) })
    }
    for (const h of held) assert.isTrue(joined(h.views).equals(h.copy))
    const freeBefore = SourceBuffers.freePages()
    // Give back all but the last: the full pages among them come back to the pool.
    for (const h of held.slice(0, -1)) SourceBuffers.release(h.views)
    assert.isAbove(SourceBuffers.freePages(), freeBefore)
    // A page still holding a lent view is not reused: the last views survive further appends.
    const last = held.at(-1)!
    for (let i = 0; i < 8; i++) {
      const views: Array<Uint8Array> = []
      SourceBuffers.append(bytes(500_000, 100 + i), views)
      for (const v of views) SourceBuffers.lend(v)
      SourceBuffers.unpin(views)
      SourceBuffers.release(views)
    }
    assert.isTrue(joined(last.views).equals(last.copy))
    SourceBuffers.release(last.views)
  })

  it("a pinned page is not reused even when its lent views are back", () => {
    const pinned: Array<Uint8Array> = []
    const input = bytes(SourceBuffers.PAGE_SIZE, 7)
    SourceBuffers.append(input, pinned)
    // Views cut from the segments, lent and given back while the read still holds its pin.
    const cut = pinned.map((s) => s.subarray(0, Math.min(10, s.length)))
    for (const v of cut) SourceBuffers.lend(v)
    SourceBuffers.release(cut)
    for (let i = 0; i < 4; i++) {
      const views: Array<Uint8Array> = []
      SourceBuffers.append(bytes(SourceBuffers.PAGE_SIZE, 50 + i), views)
      for (const v of views) SourceBuffers.lend(v)
      SourceBuffers.unpin(views)
      SourceBuffers.release(views)
    }
    assert.isTrue(joined(pinned).equals(Buffer.from(input)))
    SourceBuffers.unpin(pinned)
  })

  it("ignores foreign, unlent and doubly given-back views", () => {
    const foreign = new Uint8Array(10)
    SourceBuffers.lend(foreign)
    SourceBuffers.release([foreign])
    assert.isFalse(SourceBuffers.anyReleased([foreign]))
    const segments: Array<Uint8Array> = []
    SourceBuffers.append(bytes(100, 3), segments)
    const view = segments[0]!.subarray(0, 50)
    SourceBuffers.release([view])
    assert.isFalse(SourceBuffers.anyReleased([view]))
    SourceBuffers.lend(view)
    SourceBuffers.lend(view)
    SourceBuffers.unpin(segments)
    SourceBuffers.release([view])
    SourceBuffers.release([view])
    assert.isTrue(SourceBuffers.anyReleased([view]))
  })
})
