import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { JsonKeys, NOT_PLAIN, PlainJsonReader, ROUNDED } from "../src/internal/jsonPlain.ts"
import * as JsonText from "../src/internal/jsonText.ts"

// Two JSON values are the same when they have the same types, the same scalars (by `Object.is`, so -0 is not 0), the
// same own keys in the same order and the same prototypes: what `JSON.parse` would have given, exactly.
const sameJson = (a: unknown, b: unknown, path = "$"): void => {
  if (typeof a !== "object" || a === null || typeof b !== "object" || b === null) {
    assert.isTrue(Object.is(a, b), `${path}: ${String(a)} vs ${String(b)}`)
    return
  }
  assert.strictEqual(Object.getPrototypeOf(a), Object.getPrototypeOf(b), `${path}: prototype`)
  assert.deepStrictEqual(Reflect.ownKeys(a), Reflect.ownKeys(b), `${path}: keys`)
  for (const key of Object.keys(a)) {
    sameJson((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key], `${path}.${key}`)
  }
}

// JSON text spaced three ways: compact, as PostgreSQL prints jsonb, and with extra spaces around every token.
const spacings = [
  (t: string) => t,
  (t: string) => JSON.stringify(JSON.parse(t), null, 1).replace(/\n */g, " "),
  (t: string) => ` ${t.replace(/([,:[\]{}])/g, " $1 ")} `
]

const reads = (text: string, keys = new JsonKeys(), times = 6): Array<unknown> => {
  const reader = new PlainJsonReader()
  // Inside a longer text, as the COPY decoder reads it (the field between a tab and a newline).
  const line = `7\t${text}\n`
  return Array.from({ length: times }, () => reader.read(line, 2, line.length - 1, keys))
}

const holdsHuge = (value: unknown): boolean =>
  typeof value === "number"
    ? Math.abs(value) >= 2 ** 53
    : typeof value === "object" && value !== null && Object.values(value).some(holdsHuge)

const noBackslash = (value: unknown) => !JSON.stringify(value).includes("\\")

describe("PlainJsonReader", () => {
  it("reads every JSON value as JSON.parse does, object literal built or not (property)", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }).filter(noBackslash), fc.nat(2), (value, spacing) => {
        const text = spacings[spacing]!(JSON.stringify(value))
        const expected: unknown = JSON.parse(text)
        // Reads beyond the fourth of the same key sequences make their objects with a built literal.
        for (const got of reads(text)) {
          // It stops only for what it leaves to others: keys that are indices or __proto__, huge numbers.
          if (got === NOT_PLAIN) assert.match(text, /"(\d[^"]*|__proto__)"\s*:/)
          else if (got === ROUNDED) assert.isTrue(holdsHuge(expected))
          else sameJson(got, expected)
        }
      }),
      { numRuns: 500 }
    )
  })

  it("reads documents shaped alike, in any mix, with one key memory", () => {
    const keys = new JsonKeys()
    const reader = new PlainJsonReader()
    const docs = [
      '{"id": 1, "ok": false, "city": "Amsterdam", "tags": ["a", "b"]}',
      '{"id": 2, "ok": true, "city": "Utrecht", "tags": []}',
      '{"id": 3, "ok": true}',
      '{"id": 4, "ok": true, "city": "Delft", "tags": ["c"], "extra": {"id": 5, "ok": null}}',
      '{"ok": true, "id": 6}',
      '{"id": 7, "id": 8}',
      "{}",
      '{"": 0, "a b": -0, "é😀": 1.5e-3}'
    ]
    for (let round = 0; round < 10; round++) {
      for (const doc of docs) sameJson(reader.read(doc, 0, doc.length, keys), JSON.parse(doc))
    }
    assert.isBelow(keys.nodes, 20)
  })

  it("leaves keys that are array indices or __proto__ to JSON.parse", () => {
    const reader = new PlainJsonReader()
    for (const text of ['{"b": 1, "1": 2}', '{"__proto__": {"x": 1}}', '{"a": {"0": true}}']) {
      assert.strictEqual(reader.read(text, 0, text.length, new JsonKeys()), NOT_PLAIN)
      // decodeKeepingText falls back to the native parse: same value, same key order, own __proto__.
      sameJson(JsonText.decodeKeepingText(text, 0, text.length, new JsonKeys()), JSON.parse(text))
      assert.strictEqual(JsonText.printedText(JsonText.decodeKeepingText(text, 0, text.length)), text)
    }
  })

  it("stops at numbers a double may not hold exactly", () => {
    const reader = new PlainJsonReader()
    for (const text of ["[9007199254740992]", '{"a": -9007199254740993}', "[1e300]", "12345678901234567890"]) {
      assert.strictEqual(reader.read(text, 0, text.length, new JsonKeys()), ROUNDED)
      assert.isUndefined(JsonText.decodeKeepingText(text, 0, text.length))
    }
    const text = "[999999999999999, -999999999999999, 9007199254740991, 0.1, -0, 1E2, 2e-2]"
    sameJson(reader.read(text, 0, text.length, new JsonKeys()), JSON.parse(text))
  })

  it("stops wherever JSON.parse throws (property)", () => {
    // Text made of JSON's own characters, mostly not JSON; no control characters (PostgreSQL never prints them raw).
    const token = fc.constantFrom(..."{}[],:\"' 0123456789.-+eEtrufalsn".split(""), "true", "null", '"a"', '"b":')
    fc.assert(
      fc.property(fc.array(token, { maxLength: 24 }), (tokens) => {
        const text = tokens.join("")
        let expected: unknown = NOT_PLAIN
        try {
          expected = JSON.parse(text)
        } catch {}
        const [got] = reads(text, new JsonKeys(), 1)
        // ROUNDED sends the text to the lossless parser, which rejects it as JSON.parse does.
        if (expected === NOT_PLAIN) assert.oneOf(got, [NOT_PLAIN, ROUNDED], text)
        else if (got !== NOT_PLAIN && got !== ROUNDED) sameJson(got, expected)
      }),
      { numRuns: 3000 }
    )
    const reader = new PlainJsonReader()
    for (const text of [
      "",
      " ",
      "{",
      '{"a"}',
      '{"a":}',
      "[1,]",
      "[,1]",
      '{"a":1,}',
      "01",
      "1.",
      ".5",
      "-",
      "1e",
      "+1"
    ]) {
      assert.strictEqual(reader.read(text, 0, text.length, new JsonKeys()), NOT_PLAIN, text)
    }
  })

  it("does not read past the end it is given", () => {
    const reader = new PlainJsonReader()
    const text = '{"a": "b"}\t{"c": 1}'
    assert.strictEqual(reader.read(text, 0, 8, new JsonKeys()), NOT_PLAIN)
    assert.strictEqual(reader.read("[12345]", 0, 4, new JsonKeys()), NOT_PLAIN)
    assert.strictEqual(reader.read("truex", 0, 3, new JsonKeys()), NOT_PLAIN)
    sameJson(reader.read(text, 11, text.length, new JsonKeys()), { c: 1 })
    sameJson(reader.read("[1234567]", 1, 5, new JsonKeys()), 1234)
  })

  it("leaves nesting deeper than 256 to JSON.parse", () => {
    const text = `${"[".repeat(300)}1${"]".repeat(300)}`
    assert.strictEqual(new PlainJsonReader().read(text, 0, text.length, new JsonKeys()), NOT_PLAIN)
    assert.strictEqual(JsonText.printedText(JsonText.decodeKeepingText(text, 0, text.length)), text)
  })

  it("bounds its key memory, and reads ever-new keys correctly past the bound", () => {
    const keys = new JsonKeys()
    const reader = new PlainJsonReader()
    for (let i = 0; i < 3000; i++) {
      const text = `{"k${i}": ${i}, "k${i}x": {"n${i}": [${i}]}, "z": ${i}}`
      sameJson(reader.read(text, 0, text.length, keys), JSON.parse(text))
    }
    assert.isAtMost(keys.nodes, 4096)
  })

  it("remembers the text of what it read (property)", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }).filter(noBackslash), (value) => {
        const text = spacings[1]!(JSON.stringify(value))
        if (typeof value !== "object" || value === null || /"\d|"__proto__"|\d{16}|e/i.test(text)) return
        // Duplicate keys cannot occur: the text comes from a parsed value.
        const keys = new JsonKeys()
        for (let i = 0; i < 6; i++) {
          const decoded = JsonText.decodeKeepingText(text, 0, text.length, keys)
          assert.strictEqual(JsonText.printedText(decoded), text)
        }
      }),
      { numRuns: 300 }
    )
  })
})
