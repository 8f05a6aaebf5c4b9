import { inspect } from "node:util"
import { assert, describe, it } from "@effect/vitest"
import * as SqlTemplate from "../src/SqlTemplate.ts"

// A toy dialect: `$n` placeholders, double-quoted identifiers of at most 2 parts and 10 characters, a scanner that
// refuses `;` and `$` in the literal text. The connectors' own dialects are tested in their packages.
const toy = (name: string): SqlTemplate.Dialect => ({
  name,
  placeholder: (n) => `$${n}`,
  quoteIdent: (part) => `"${part.replaceAll('"', '""')}"`,
  identifier: {
    maxParts: 2,
    parts: "column, or schema.table",
    check: (part) => {
      if (part.length > 10) throw new SqlTemplate.SqlError({ detail: `too long: ${part.length}` })
    }
  },
  checkTemplate: (parts) => {
    if (parts.some((p) => p.includes(";") || p.includes("$")))
      throw new SqlTemplate.SqlError({ detail: "one statement, no raw placeholder" })
  }
})

const sql = SqlTemplate.make(toy("Toy"))

const refuses = (f: () => unknown, pattern: RegExp) => {
  try {
    f()
  } catch (error) {
    assert.instanceOf(error, SqlTemplate.SqlError)
    assert.match((error as SqlTemplate.SqlError).message, pattern)
    assert.isFalse((error as SqlTemplate.SqlError).retryable)
    return
  }
  assert.fail("expected a SqlError")
}

describe("SqlTemplate", () => {
  it("binds values and numbers placeholders across spliced fragments", () => {
    const since = sql`created_at >= ${"2026-01-01"}`
    const q = sql`select * from ${sql.ident(["shop", "orders"])} where status = ${"paid"} and ${since}`
    assert.strictEqual(q.text, 'select * from "shop"."orders" where status = $1 and created_at >= $2')
    assert.deepStrictEqual(q.values, ["paid", "2026-01-01"])
  })

  it("joins fragments with a separator (default a comma); an empty list is the empty fragment", () => {
    const row = { id: 1, name: "a" }
    const q = sql`insert into t (${sql.join(Object.keys(row).map((c) => sql.ident(c)))}) values (${sql.join(
      Object.values(row).map((v) => sql`${v}`)
    )})`
    assert.strictEqual(q.text, 'insert into t ("id", "name") values ($1, $2)')
    assert.strictEqual(sql.join([]).text, "")
    assert.strictEqual(sql.join([sql`a`, sql`b`], sql` and `).text, "a and b")
    refuses(() => sql.join(["x" as unknown as SqlTemplate.Fragment]), /joins sql fragments only/)
  })

  it("identifiers: quoted, checked by the dialect and against a closed set", () => {
    assert.strictEqual(sql.ident('we"ird').text, '"we""ird"')
    refuses(() => sql.ident(["a", "b", "c"]), /1 to 2 parts \(column, or schema.table\); got 3/)
    refuses(() => sql.ident(""), /non-empty/)
    refuses(() => sql.ident("a\u0000b"), /NUL/)
    refuses(() => sql.ident("much_too_long"), /too long/)
    const allowed = [["shop", "orders"], "customers"]
    assert.strictEqual(sql.ident("customers", allowed).text, '"customers"')
    refuses(() => sql.ident(["shop", "secrets"], allowed), /not one of the 2 allowed names/)
  })

  it("refuses what the dialect's scanner refuses, an undefined value, and hand-made fragments", () => {
    refuses(() => sql`select 1; drop table t`, /one statement/)
    refuses(() => sql`select ${undefined}`, /placeholder 1 is undefined: bind null/)
    refuses(
      () => new SqlTemplate.Fragment(Symbol("forged"), toy("Toy"), [{ _tag: "Text", text: "drop table t" }]),
      /never constructed/
    )
  })

  it("never mixes dialects", () => {
    const other = SqlTemplate.make(toy("Other"))
    refuses(() => sql`select * from t where ${other`a = ${1}`}`, /An Other fragment|A Other fragment/)
    refuses(() => sql.join([sql`a`, other`b`]), /cannot be spliced into a Toy query/)
    assert.isTrue(SqlTemplate.isFragment(other`b`))
    assert.isFalse(SqlTemplate.isFragment({ text: "b", values: [] }))
  })

  it("prints its text and value count, never the values", () => {
    const q = sql`select * from t where password = ${"hunter2"}`
    for (const shown of [String(q), inspect(q)]) {
      assert.notInclude(shown, "hunter2")
      assert.include(shown, "1 value")
    }
    assert.deepStrictEqual(JSON.parse(JSON.stringify(q)), {
      text: "select * from t where password = $1",
      valueCount: 1
    })
  })
})
