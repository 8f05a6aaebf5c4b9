import { inspect } from "node:util"
import { assert, describe, it } from "@effect/vitest"
import * as Sql from "../src/Sql.ts"

const { sql } = Sql

const refuses = (f: () => unknown, fragment: string) => {
  try {
    f()
    assert.fail("expected a SqlError")
  } catch (e) {
    assert.strictEqual((e as { _tag: string })._tag, "SqlError")
    assert.include((e as Error).message, fragment)
  }
}

describe("Sql", () => {
  it("binds every value as a placeholder and splices fragments", () => {
    const since = sql`created_at >= ${"2026-01-01"}`
    const q = sql`select * from ${sql.ident(["shop", "orders"])} where status = ${"paid"} and ${since}`
    assert.strictEqual(q.text, "select * from `shop`.`orders` where status = ? and created_at >= ?")
    assert.deepStrictEqual(q.values, ["paid", "2026-01-01"])
  })

  it("quotes identifiers, doubling backquotes, and checks a closed set", () => {
    assert.strictEqual(sql.ident("a`b").text, "`a``b`")
    const allowed = [["shop", "orders"]]
    assert.strictEqual(sql.ident(["shop", "orders"], allowed).text, "`shop`.`orders`")
    refuses(() => sql.ident(["shop", "users"], allowed), "not one of the 1 allowed names")
    refuses(() => sql.ident("x".repeat(65)), "longer than 64")
    refuses(() => sql.ident("a?b"), "placeholder")
    refuses(() => sql.ident(""), "non-empty")
  })

  it("refuses a second statement, a raw ?, a placeholder inside quotes or comments, and undefined", () => {
    refuses(() => sql`select 1; drop table t`, "one statement")
    refuses(() => sql`select ? from t`, "never as a `?`")
    refuses(() => sql`select '${"x"}'`, "quoted string literal")
    refuses(() => sql`select 1 -- ${"x"}`, "comment")
    refuses(() => sql`select 1 /* ${"x"} */`, "comment")
    refuses(() => sql`select \`${"x"}\``, "quoted identifier")
    refuses(() => sql`select ${undefined}`, "undefined")
    // A `;` inside quotes is text, not a statement separator.
    assert.strictEqual(sql`select ';' as s`.text, "select ';' as s")
  })

  it("joins fragments and never prints values", () => {
    const row = sql.join([1, "secret"].map((v) => sql`${v}`))
    const q = sql`insert into t values (${row})`
    assert.strictEqual(q.text, "insert into t values (?, ?)")
    assert.notInclude(String(q), "secret")
    assert.notInclude(JSON.stringify(q), "secret")
    assert.notInclude(inspect(q), "secret")
    assert.strictEqual(sql.join([]).text, "")
  })
})
