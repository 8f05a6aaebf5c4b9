// The sink's reusable COPY text buffers: exact bytes, reuse only after release, never twice.
import { assert, describe, it } from "@effect/vitest"
import * as CopyBuffers from "../src/internal/copyBuffers.ts"

describe("CopyBuffers", () => {
  it("encodes text as UTF-8, exactly", () => {
    const buffers = CopyBuffers.make()
    for (const text of ["", "1\tann\n", "ü🚀\t漢字\n".repeat(5000), "x".repeat(5 * 1024 * 1024)]) {
      const chunk = buffers.encode(text)
      assert.strictEqual(Buffer.from(chunk).toString("utf8"), text)
      assert.strictEqual(chunk.byteLength, Buffer.byteLength(text, "utf8"))
    }
  })

  it("reuses a buffer only once it is released, and a released buffer only once", () => {
    const buffers = CopyBuffers.make()
    const a = buffers.encode("a\n")
    const b = buffers.encode("b\n")
    assert.notStrictEqual(a.buffer, b.buffer, "two buffers in flight never share memory")
    assert.strictEqual(buffers.free(), 0)
    buffers.release([a, a, Buffer.from("not ours\n")])
    assert.strictEqual(buffers.free(), 1, "a buffer given back twice, or a foreign one, is not kept twice")
    const c = buffers.encode("c\n")
    assert.strictEqual(c.buffer, a.buffer, "the released buffer is reused")
    assert.strictEqual(Buffer.from(c).toString(), "c\n")
    assert.strictEqual(Buffer.from(b).toString(), "b\n", "a buffer still lent is untouched")
    buffers.release([a])
    assert.strictEqual(buffers.free(), 0, "a stale chunk of a buffer lent again does not give it back")
  })

  it("keeps a bounded number of free buffers", () => {
    const buffers = CopyBuffers.make()
    const lent = Array.from({ length: 40 }, () => buffers.encode("row\n"))
    buffers.release(lent)
    assert.isAtMost(buffers.free(), 16)
  })
})
