import { inspect } from "node:util"
import { Sql } from "@data-mcp/connector-postgres"
import { assert, describe, it } from "@effect/vitest"

const { sql } = Sql

const refuses = (build: () => unknown, pattern: RegExp): void => {
  try {
    build()
  } catch (error) {
    assert.instanceOf(error, Sql.SqlError)
    assert.match((error as Sql.SqlError).message, pattern)
    assert.isFalse((error as Sql.SqlError).retryable)
    return
  }
  assert.fail("expected a SqlError")
}

describe("Sql", () => {
  describe("rendering", () => {
    it("binds every value as a numbered parameter", () => {
      const q = sql`select * from ${sql.ident(["public", "orders"])} where id > ${42} and status = ${"paid"}`
      assert.strictEqual(q.text, `select * from "public"."orders" where id > $1 and status = $2`)
      assert.deepStrictEqual(q.values, [42, "paid"])
    })

    it("binds strings that look like SQL as values, untouched", () => {
      const payload = "'; drop table x; --"
      const q = sql`select ${payload}::text`
      assert.strictEqual(q.text, "select $1::text")
      assert.deepStrictEqual(q.values, [payload])
    })

    it("binds null, arrays, objects, bigint and Uint8Array as values", () => {
      const bytes = new Uint8Array([1, 2])
      const q = sql`select ${null}, ${[1, 2]}, ${{ a: 1 }}, ${10n}, ${bytes}`
      assert.strictEqual(q.text, "select $1, $2, $3, $4, $5")
      assert.deepStrictEqual(q.values, [null, [1, 2], { a: 1 }, 10n, bytes])
    })

    it("a template without values has no parameters", () => {
      const q = sql`select 1`
      assert.strictEqual(q.text, "select 1")
      assert.deepStrictEqual(q.values, [])
    })

    it("toQueryConfig gives pg a fresh { text, values }", () => {
      const q = sql`select ${1}`
      const config = Sql.toQueryConfig(q)
      assert.deepStrictEqual(config, { text: "select $1", values: [1] })
      assert.notStrictEqual(config.values, q.values)
    })

    it("never prints its values", () => {
      const q = sql`select ${"s3cr3t-value"}`
      for (const shown of [String(q), JSON.stringify(q), inspect(q), `${q}`]) {
        assert.notInclude(shown, "s3cr3t-value")
        assert.include(shown, "select $1")
      }
    })

    it("refuses undefined (bind null for SQL NULL)", () => {
      refuses(() => sql`select ${undefined}`, /undefined: bind null/)
    })
  })

  describe("composition", () => {
    it("splices a fragment with its parameters renumbered", () => {
      const since = sql`created_at >= ${"2026-01-01"} and created_at < ${"2027-01-01"}`
      const q = sql`select * from t where status = ${"paid"} and ${since} and id > ${7}`
      assert.strictEqual(
        q.text,
        "select * from t where status = $1 and created_at >= $2 and created_at < $3 and id > $4"
      )
      assert.deepStrictEqual(q.values, ["paid", "2026-01-01", "2027-01-01", 7])
    })

    it("renumbers nested fragments at any depth, and the same fragment twice", () => {
      const a = sql`a = ${1}`
      const b = sql`(${a} or b = ${2})`
      const q = sql`select 1 where ${b} and ${b} and c = ${3}`
      assert.strictEqual(q.text, "select 1 where (a = $1 or b = $2) and (a = $3 or b = $4) and c = $5")
      assert.deepStrictEqual(q.values, [1, 2, 1, 2, 3])
    })

    it("join: columns and values, with the default and a custom separator", () => {
      const row = { id: 1, name: "a", note: null }
      const columns = Sql.join(Object.keys(row).map((c) => sql.ident(c)))
      const values = sql.join(Object.values(row).map((v) => sql`${v}`))
      const q = sql`insert into ${sql.ident("t")} (${columns}) values (${values})`
      assert.strictEqual(q.text, `insert into "t" ("id", "name", "note") values ($1, $2, $3)`)
      assert.deepStrictEqual(q.values, [1, "a", null])
      const where = sql.join([sql`a = ${1}`, sql`b = ${2}`], sql` and `)
      assert.strictEqual(sql`select 1 where ${where} or c = ${3}`.text, "select 1 where a = $1 and b = $2 or c = $3")
    })

    it("join of nothing is empty; empty splices to nothing", () => {
      assert.strictEqual(Sql.join([]).text, "")
      assert.strictEqual(sql`select 1${Sql.empty}`.text, "select 1")
      assert.strictEqual(sql`select 1${sql.empty}`.text, "select 1")
    })

    it("join refuses anything but fragments", () => {
      refuses(() => Sql.join(["x" as unknown as Sql.Fragment]), /fragments only/)
    })

    it("a fragment cannot be constructed from text", () => {
      const Ctor = sql`select 1`.constructor as new (token: unknown, segments: unknown) => Sql.Fragment
      refuses(() => new Ctor(undefined, [{ _tag: "Text", text: "drop table t" }]), /never constructed/)
    })

    it("isFragment tells fragments from look-alikes", () => {
      assert.isTrue(Sql.isFragment(sql`select 1`))
      assert.isTrue(Sql.isFragment(sql.ident("t")))
      assert.isFalse(Sql.isFragment({ text: "drop table t", values: [] }))
      // a look-alike is bound as a value, not spliced
      const q = sql`select ${{ text: "drop table t", values: [] }}`
      assert.strictEqual(q.text, "select $1")
    })
  })

  describe("identifiers", () => {
    it("quotes with double quotes and doubles an embedded quote", () => {
      assert.strictEqual(sql.ident("orders").text, `"orders"`)
      assert.strictEqual(sql.ident(`we"ird`).text, `"we""ird"`)
      assert.strictEqual(sql.ident(`"; drop table x; --`).text, `"""; drop table x; --"`)
      assert.strictEqual(sql.ident("Mixed Case").text, `"Mixed Case"`)
      assert.strictEqual(sql.ident("naïve_日本").text, `"naïve_日本"`)
      assert.deepStrictEqual(sql.ident("orders").values, [])
    })

    it("qualified names: schema.table and database.schema.table", () => {
      assert.strictEqual(sql.ident(["public", "orders"]).text, `"public"."orders"`)
      assert.strictEqual(sql.ident(["db", "s.x", "t"]).text, `"db"."s.x"."t"`)
    })

    it("an identifier inside a template with a quote in it keeps the statement whole", () => {
      const q = sql`select ${sql.ident(`a"; drop table t; --`)} from t where x = ${1}`
      assert.strictEqual(q.text, `select "a""; drop table t; --" from t where x = $1`)
    })

    it("refuses empty names, NUL, too many parts and names PostgreSQL would truncate", () => {
      refuses(() => sql.ident(""), /non-empty/)
      refuses(() => sql.ident([]), /1 to 3 parts/)
      refuses(() => sql.ident(["a", "b", "c", "d"]), /1 to 3 parts/)
      refuses(() => sql.ident("a\u0000b"), /NUL/)
      refuses(() => sql.ident("x".repeat(64)), /longer than 63 bytes/)
      assert.strictEqual(sql.ident("x".repeat(63)).text, `"${"x".repeat(63)}"`)
      refuses(() => sql.ident("é".repeat(32)), /longer than 63 bytes/)
    })

    it("with a closed set, accepts members and refuses anything else", () => {
      const tables = [["public", "orders"], ["public", "customers"], "events"]
      assert.strictEqual(sql.ident(["public", "orders"], tables).text, `"public"."orders"`)
      assert.strictEqual(sql.ident("events", tables).text, `"events"`)
      assert.strictEqual(sql.ident("events", new Set(["events"])).text, `"events"`)
      refuses(() => sql.ident("orders", tables), /not one of the 3 allowed names/)
      refuses(() => sql.ident(["public", "Orders"], tables), /not one of/)
      refuses(() => sql.ident(["public", "orders; drop table x"], tables), /not one of/)
      refuses(() => sql.ident(["public.orders"], tables), /not one of/)
      refuses(() => sql.ident("anything", []), /not one of the 0 allowed names/)
    })
  })

  describe("one statement per query", () => {
    it("refuses a ; in the template text", () => {
      refuses(() => sql`select 1; select 2`, /one statement/)
      refuses(() => sql`select 1;`, /one statement/)
      refuses(() => sql`delete from t where id = ${1}; drop table t`, /one statement/)
    })

    it("allows ; inside quotes, quoted identifiers, dollar quotes and comments", () => {
      assert.strictEqual(sql`select ';'`.text, "select ';'")
      assert.strictEqual(sql`select 'it''s; fine'`.text, "select 'it''s; fine'")
      assert.strictEqual(sql`select E'a\\'; b'`.text, "select E'a\\'; b'")
      assert.strictEqual(sql`select 1 as "a;b"`.text, `select 1 as "a;b"`)
      assert.strictEqual(sql`select $$a; b$$`.text, "select $$a; b$$")
      assert.strictEqual(sql`select $fn$ ; $x$ ; $fn$`.text, "select $fn$ ; $x$ ; $fn$")
      assert.strictEqual(sql`select 1 /* ; /* nested ; */ ; */ + ${2}`.text, "select 1 /* ; /* nested ; */ ; */ + $1")
      assert.strictEqual(sql`select 1 -- ; note\n + ${2}`.text, "select 1 -- ; note\n + $1")
    })

    it("a value holding a ; is bound, never checked as text", () => {
      const q = sql`select ${"1; drop table t"}`
      assert.deepStrictEqual(q.values, ["1; drop table t"])
    })

    it("refuses hand-written positional parameters", () => {
      refuses(() => sql`select * from t where id = $1`, /never as a positional/)
      assert.strictEqual(sql`select '$1'`.text, "select '$1'")
      assert.strictEqual(sql`select a$1 from t`.text, "select a$1 from t")
    })

    it("refuses a placeholder inside quotes or a comment, where it would not be bound", () => {
      refuses(() => sql`select '${"x"}'`, /inside a quoted string literal/)
      refuses(() => sql`select "${"x"}"`, /inside a quoted identifier/)
      refuses(() => sql`select $$ ${"x"} $$`, /inside a dollar-quoted string/)
      refuses(() => sql`select 1 /* ${"x"} */`, /inside a \/\* \*\/ comment/)
      refuses(() => sql`select 1 -- ${"x"}\n`, /inside a -- comment/)
    })

    it("refuses a template that ends inside quotes or a comment", () => {
      refuses(() => sql`select 'open`, /ends inside a quoted string literal/)
      refuses(() => sql`select "open`, /ends inside a quoted identifier/)
      refuses(() => sql`select 1 /* open`, /ends inside a \/\* \*\/ comment/)
      refuses(() => sql`select 1 -- trailing`, /ends inside a -- comment/)
    })

    it("error messages never contain the values", () => {
      try {
        sql`select ${"s3cr3t-value"}; drop table t`
        assert.fail("expected a SqlError")
      } catch (error) {
        assert.notInclude(String(error), "s3cr3t-value")
        assert.notInclude(JSON.stringify(error), "s3cr3t-value")
      }
    })
  })
})
