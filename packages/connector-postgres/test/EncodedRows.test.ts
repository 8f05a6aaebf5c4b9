// COPY text rows handed over undecoded: grouping, the last row's boundary fields, decoding, direct loading.
import { assert, describe, it } from "@effect/vitest"
import * as EncodedRows from "../src/internal/encodedRows.ts"
import * as PostgresCodec from "../src/PostgresCodec.ts"

const text = (rows: ReadonlyArray<string>) => rows.map((r) => `${r}\n`).join("")
const ROWS = ["1\tann", "2\tb\\tob", "3\t\\N", "4\tdee", "5\tünï"]
const bytes = Buffer.from(text(ROWS))

/** Cuts `buffer` at the given offsets (rows may span chunks). */
const chunked = (buffer: Buffer, cuts: ReadonlyArray<number>): Array<Uint8Array> => {
  const out: Array<Uint8Array> = []
  let from = 0
  for (const cut of [...cuts, buffer.length]) {
    out.push(buffer.subarray(from, cut))
    from = cut
  }
  return out
}

const every = (n: number) => Array.from({ length: n - 1 }, (_, i) => i + 1)

describe("EncodedRows", () => {
  it("groups rows exactly, cutting inside and across chunks, whatever the chunking", () => {
    for (const cuts of [[], [3], [6, 7, 20], every(bytes.length)]) {
      const chunks = chunked(bytes, cuts)
      assert.strictEqual(
        EncodedRows.groupRows(chunks, Number.POSITIVE_INFINITY).reduce((n, g) => n + g.rows, 0),
        5
      )
      for (const size of [1, 2, 3, 5, 8]) {
        const groups = EncodedRows.groupRows(chunks, size)
        assert.deepStrictEqual(
          groups.map((g) => g.rows),
          size >= 5 ? [5] : [...Array(Math.floor(5 / size)).fill(size), ...(5 % size === 0 ? [] : [5 % size])],
          `groups of ${size}, cuts ${cuts.length}`
        )
        // Each group is whole rows and together they are the input, in order.
        const texts = groups.map((g) => Buffer.concat(g.chunks).toString("utf8"))
        assert.isTrue(texts.every((t) => t.endsWith("\n")))
        assert.strictEqual(texts.join(""), bytes.toString("utf8"))
      }
    }
  })

  it("reads the last row's fields as printed (escapes undone, NULL as null), split anywhere", () => {
    for (const cuts of [[], [bytes.length - 3], every(bytes.length)]) {
      const chunks = chunked(bytes, cuts)
      assert.deepStrictEqual(EncodedRows.lastRowFields(chunks, 2, [0, 1]), ["5", "ünï"])
    }
    const upToThird = Buffer.from(text(ROWS.slice(0, 3)))
    assert.deepStrictEqual(EncodedRows.lastRowFields([upToThird], 2, [1, 0]), [null, "3"])
    const second = Buffer.from(text(ROWS.slice(0, 2)))
    assert.deepStrictEqual(EncodedRows.lastRowFields(chunked(second, [8, 9]), 2, [1]), ["b\tob"])
  })

  it("decodes encoded rows by their column OIDs; loads directly only into the same columns and types", () => {
    const encoded = {
      format: EncodedRows.COPY_TEXT,
      columns: [
        { name: "id", type: String(PostgresCodec.Oid.int8) },
        { name: "who", type: String(PostgresCodec.Oid.text) }
      ],
      rows: 5,
      chunks: chunked(bytes, [4, 11])
    }
    assert.deepStrictEqual(EncodedRows.decode(encoded), [
      { id: 1n, who: "ann" },
      { id: 2n, who: "b\tob" },
      { id: 3n, who: null },
      { id: 4n, who: "dee" },
      { id: 5n, who: "ünï" }
    ])
    const oid = (c: { readonly oid: number }) => c.oid
    const live = [
      { name: "who", oid: PostgresCodec.Oid.text },
      { name: "extra", oid: PostgresCodec.Oid.bool },
      { name: "id", oid: PostgresCodec.Oid.int8 }
    ]
    assert.deepStrictEqual(
      EncodedRows.directColumns(encoded, live, oid)?.map((c) => c.name),
      ["id", "who"],
      "in the encoded order"
    )
    const otherType = live.map((c) => (c.name === "id" ? { ...c, oid: PostgresCodec.Oid.text } : c))
    assert.isUndefined(EncodedRows.directColumns(encoded, otherType, oid))
    assert.isUndefined(EncodedRows.directColumns(encoded, live.slice(0, 2), oid), "a column missing")
    assert.isUndefined(EncodedRows.directColumns({ ...encoded, format: "other" }, live, oid))
  })
})
