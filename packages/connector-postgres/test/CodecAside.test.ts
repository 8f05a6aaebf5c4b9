import { describe, expect, it } from "@effect/vitest"
import { CopyTextDecoder } from "../src/internal/copyText.ts"
import { INT8, TEXT } from "../src/internal/copyValues.ts"
import * as PostgresCodec from "../src/PostgresCodec.ts"

describe("PostgresCodec decoder: columns kept aside", () => {
  it("keeps trailing columns off the records and exposes the last row's values", () => {
    const decoder = PostgresCodec.makeDecoder(
      [
        { name: "id", oid: PostgresCodec.Oid.int8 },
        { name: "name", oid: PostgresCodec.Oid.text },
        { name: "cursor_text", oid: PostgresCodec.Oid.text },
        { name: "key_text", oid: PostgresCodec.Oid.text }
      ],
      { aside: 2 }
    )
    const rows = decoder.push("1\ta\t2026-01-01 00:00:00+00\t1\n2\tb\t2026-01-02 00:00:00+00\t2\n")
    decoder.end()
    expect(rows).toEqual([
      { id: 1n, name: "a" },
      { id: 2n, name: "b" }
    ])
    expect(decoder.aside).toEqual(["2026-01-02 00:00:00+00", "2"])
  })

  it("decodes every column onto the records without the option", () => {
    const rows = PostgresCodec.makeDecoder([{ name: "k", oid: PostgresCodec.Oid.text }]).push("x\n")
    expect(rows).toEqual([{ k: "x" }])
  })
})

describe("PostgresCodec decoder: what it holds after a chunk", () => {
  it("keeps no value of the rows it decoded (strings cut from a chunk keep all of it alive)", () => {
    const engine = new CopyTextDecoder([
      { name: "id", kind: INT8, elementKind: TEXT },
      { name: "name", kind: TEXT, elementKind: TEXT }
    ])
    const out: Array<Record<string, unknown>> = []
    engine.push(Buffer.from("1\tthe first row's name\n2\tthe second row's name\n"), out)
    expect(out).toEqual([
      { id: 1n, name: "the first row's name" },
      { id: 2n, name: "the second row's name" }
    ])
    // The values of the row being built live in a reused array: after the chunk, it holds none of them.
    expect((engine as unknown as { readonly values: ReadonlyArray<unknown> }).values).toEqual([undefined, undefined])
  })
})
