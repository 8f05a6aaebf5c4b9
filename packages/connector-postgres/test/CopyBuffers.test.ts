// The sink's reusable COPY text pages: exact bytes, slices in flight never share memory, a page written again only
// once every slice of it is given back, and a bounded number of free pages.
import { assert, describe, it } from "@effect/vitest"
import * as CopyBuffers from "../src/internal/copyBuffers.ts"

const overlaps = (a: Uint8Array, b: Uint8Array) =>
  a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength

describe("CopyBuffers", () => {
  it("encodes text as UTF-8, exactly", () => {
    const buffers = CopyBuffers.make()
    const texts = ["", "1\tann\n", "ü🚀\t漢字\n".repeat(5000), "x".repeat(5 * 1024 * 1024), "é".repeat(300_000)]
    const chunks = texts.map((text) => buffers.encode(text))
    texts.forEach((text, i) => {
      assert.strictEqual(Buffer.from(chunks[i]!).toString("utf8"), text)
      assert.strictEqual(chunks[i]!.byteLength, Buffer.byteLength(text, "utf8"))
    })
  })

  it("copies bytes exactly, into the same pages as texts, and never onto a slice in flight", () => {
    const buffers = CopyBuffers.make()
    const source = Buffer.alloc(600 * 1024)
    for (let i = 0; i < source.length; i++) source[i] = i % 251
    const text = buffers.encode("text first\n")
    const small = buffers.copy(source.subarray(0, 1000))
    assert.strictEqual(small.buffer, text.buffer, "after the text, in its page")
    assert.isFalse(overlaps(small, text))
    const large = buffers.copy(source)
    assert.notStrictEqual(large.buffer, text.buffer, "over half a page: a buffer of its own")
    const more = Array.from({ length: 40 }, (_, i) => buffers.copy(source.subarray(i, i + 100_000)))
    // The scratch memory the bytes came from may be written again at once: every copy keeps its bytes.
    source.fill(0)
    assert.strictEqual(Buffer.from(text).toString(), "text first\n")
    for (let i = 0; i < 1000; i++) assert.strictEqual(small[i], i % 251)
    for (let i = 0; i < 600 * 1024; i += 997) assert.strictEqual(large[i], i % 251)
    more.forEach((chunk, k) => {
      assert.strictEqual(chunk.byteLength, 100_000)
      for (let i = 0; i < chunk.length; i += 101) assert.strictEqual(chunk[i], (i + k) % 251, `${k}@${i}`)
    })
    const all = [text, small, ...more]
    for (let i = 0; i < all.length; i++)
      for (let j = i + 1; j < all.length; j++) assert.isFalse(overlaps(all[i]!, all[j]!), `${i} and ${j}`)
  })

  it("fills a page with several texts, and never lets two slices in flight overlap", () => {
    const buffers = CopyBuffers.make()
    const text = "row\t".repeat(10_000)
    const chunks = Array.from({ length: 100 }, (_, i) => buffers.encode(`${i}${text}`))
    for (let i = 0; i < chunks.length; i++)
      for (let j = i + 1; j < chunks.length; j++) assert.isFalse(overlaps(chunks[i]!, chunks[j]!), `${i} and ${j}`)
    const pages = new Set(chunks.map((c) => c.buffer)).size
    // 100 texts of ~40 KB: ~4 MB, in pages of 1 MiB.
    assert.isAtMost(pages, 5)
    for (const [i, c] of chunks.entries()) assert.isTrue(Buffer.from(c).toString().startsWith(`${i}row\t`))
  })

  it("writes a page again only once every slice of it is given back, once", () => {
    const buffers = CopyBuffers.make()
    const big = "x".repeat(CopyBuffers.PAGE_SIZE / 2 - 1)
    const a = buffers.encode(big)
    const b = buffers.encode("bb\n")
    assert.strictEqual(a.buffer, b.buffer, "both in the first page")
    const c = buffers.encode(big)
    assert.notStrictEqual(c.buffer, a.buffer, "the first page is full: a second one")
    buffers.release([a, a, Buffer.from("not ours\n")])
    assert.strictEqual(buffers.free(), 0, "b is still out: the first page is not free")
    const d = buffers.encode(big)
    assert.notStrictEqual(d.buffer, a.buffer)
    assert.strictEqual(Buffer.from(b).toString(), "bb\n", "a slice still out is untouched")
    buffers.release([b, b])
    assert.strictEqual(buffers.free(), 1, "its last slice back: the first page is free, counted once")
    const e = buffers.encode(big)
    const f = buffers.encode(big)
    assert.strictEqual(f.buffer, a.buffer, "the freed page is reused")
    buffers.release([a, b])
    assert.strictEqual(Buffer.from(f).toString(), big, "stale slices of a reused page do not give it back")
    buffers.release([c, d, e, f])
  })

  it("keeps a bounded number of free pages", () => {
    const buffers = CopyBuffers.make()
    const big = "x".repeat(CopyBuffers.PAGE_SIZE / 2)
    const lent = Array.from({ length: 2 * CopyBuffers.KEEP_PAGES + 10 }, () => buffers.encode(big))
    assert.strictEqual(new Set(lent.map((c) => c.buffer)).size, lent.length / 2)
    buffers.release(lent)
    assert.strictEqual(buffers.free(), CopyBuffers.KEEP_PAGES)
  })
})
