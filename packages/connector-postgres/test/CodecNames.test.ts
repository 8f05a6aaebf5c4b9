// Column names reach generated code (the row encoder and the record builder) only as string literals: any name —
// quotes, backslashes, line separators, digits, `__proto__` — decodes and encodes like any other.
import { assert, describe, it } from "@effect/vitest"
import * as PostgresCodec from "../src/PostgresCodec.ts"

const NAMES = ['a"b', "c\\d", "e\u2028f", "0", "1e3", "constructor", "`$" + "{x}`", "ü 漢", "__proto__", "toString"]

describe("PostgresCodec column names", () => {
  for (const names of [NAMES.filter((n) => n !== "__proto__"), NAMES])
    it(`round-trips rows keyed by unusual names${names.includes("__proto__") ? " (with __proto__)" : ""}`, () => {
      const columns = names.map((name) => ({ name, oid: PostgresCodec.Oid.text }))
      const row: Record<string, unknown> = {}
      for (const [i, name] of names.entries())
        Object.defineProperty(row, name, { value: `v${i}\t"`, enumerable: true, writable: true, configurable: true })
      const text = PostgresCodec.makeEncoder(columns).encodeRow(row)
      assert.strictEqual(text, `${names.map((_, i) => `v${i}\\t"`).join("\t")}\n`)
      const [decoded] = PostgresCodec.decodeAll(columns, text)
      // Same keys (JavaScript lists integer-like keys such as "0" first, whatever the column order).
      assert.sameMembers(Object.keys(decoded!), names)
      for (const [i, name] of names.entries()) assert.strictEqual(decoded![name], `v${i}\t"`, name)
      assert.strictEqual(Object.getPrototypeOf(decoded), Object.prototype, "the prototype is never set by a name")
    })
})
