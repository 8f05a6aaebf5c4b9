// The source's COPY TO reader against the real PostgreSQL: the bytes it streams are exactly the COPY data (rows that
// span socket reads, headers cut between reads, rows far larger than a read), in order; the row count is reported;
// messages amid the data (notices) are passed over; an error in the middle of a COPY fails the read and leaves the
// connection usable; and after a COPY the connection runs the next query.
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import type pg from "pg"
import * as Source from "../src/internal/source.ts"
import { database, withClient } from "./utils.ts"

const db = await database("copy-out", "dm_co")
const schema = db.freshSchema()
const q = (s: string) => `"${s.replaceAll('"', '""')}"`
const T = (table: string) => `${q(schema)}.${q(table)}`

const bytesOf = (chunks: ReadonlyArray<Uint8Array>) => Buffer.concat(chunks.map((c) => Buffer.from(c)))

/** The COPY text PostgreSQL prints for `select`, built from the rows of a plain query (tabs, newlines, no escapes). */
const expectedText = (rows: ReadonlyArray<Record<string, unknown>>, columns: ReadonlyArray<string>) =>
  rows.map((r) => `${columns.map((c) => String(r[c])).join("\t")}\n`).join("")

describe.skipIf(db.unreachable !== undefined)("COPY TO reader (PostgreSQL)", () => {
  beforeAll(() =>
    withClient(async (c) => {
      await c.query(`create schema ${q(schema)}`)
      // Rows of every length from 1 byte to ~70 KiB (socket reads cut rows and headers at every kind of place),
      // and a few of ~1 MiB (a row over many reads).
      await c.query(`create table ${T("rows")} (n int primary key, s text)`)
      await c.query(
        `insert into ${T("rows")} select g, repeat(chr(97 + g % 26), (g * 7919) % 70000 + 1) from generate_series(1, 400) g`
      )
      await c.query(`insert into ${T("rows")} select 1000 + g, repeat('é', 500000 + g) from generate_series(1, 3) g`)
      await c.query(`insert into ${T("rows")} select 2000 + g, 'x' || g from generate_series(1, 50000) g`)
      await c.query(
        `create function ${q(schema)}.noisy(g int) returns int language plpgsql as $$ begin raise notice 'row %', g; return g; end $$`
      )
    })
  )
  afterAll(() => withClient((c) => c.query(`drop schema if exists ${q(schema)} cascade`)))

  it("streams exactly the COPY data, with the row count, whatever the row sizes", { timeout: 30_000 }, () =>
    withClient(async (c) => {
      const { rows } = await c.query(`select n, s from ${T("rows")} order by n`)
      const expected = expectedText(rows, ["n", "s"])
      for (const pooled of [false, true]) {
        const { chunks, rows: count } = await Source.copyChunks(
          c as unknown as pg.PoolClient,
          `COPY (select n, s from ${T("rows")} order by n) TO STDOUT`,
          pooled
        )
        const got = bytesOf(chunks)
        assert.strictEqual(got.length, Buffer.byteLength(expected), `pooled ${pooled}`)
        assert.isTrue(got.equals(Buffer.from(expected)), `pooled ${pooled}`)
        assert.strictEqual(count, rows.length)
      }
      // The connection is pg's again: the next query runs.
      assert.strictEqual((await c.query("select 41 + 1 as n")).rows[0].n, 42)
    })
  )

  it("passes over notices amid the rows", { timeout: 30_000 }, () =>
    withClient(async (c) => {
      const notices: Array<string> = []
      c.on("notice", (n) => notices.push(n.message ?? ""))
      const { chunks, rows } = await Source.copyChunks(
        c as unknown as pg.PoolClient,
        `COPY (select ${q(schema)}.noisy(g) from generate_series(1, 300) g) TO STDOUT`
      )
      assert.strictEqual(bytesOf(chunks).toString(), Array.from({ length: 300 }, (_, i) => `${i + 1}\n`).join(""))
      assert.strictEqual(rows, 300)
      assert.strictEqual((await c.query("select 1 as n")).rows[0].n, 1)
    })
  )

  it("fails on an error in the middle of a COPY, and leaves the connection usable", { timeout: 30_000 }, () =>
    withClient(async (c) => {
      let failure: unknown
      try {
        await Source.copyChunks(
          c as unknown as pg.PoolClient,
          "COPY (select case when g = 60000 then 1 / 0 else g end, repeat('y', 100) from generate_series(1, 100000) g) TO STDOUT"
        )
      } catch (e) {
        failure = e
      }
      assert.strictEqual((failure as { code?: string } | undefined)?.code, "22012", "division_by_zero")
      assert.strictEqual((await c.query("select 2 as n")).rows[0].n, 2)
      // And a COPY after it reads cleanly.
      const { chunks } = await Source.copyChunks(
        c as unknown as pg.PoolClient,
        "COPY (select g from generate_series(1, 3) g) TO STDOUT"
      )
      assert.strictEqual(bytesOf(chunks).toString(), "1\n2\n3\n")
    })
  )

  it("decodes rows from the reader (copyRows) exactly", { timeout: 30_000 }, () =>
    withClient(async (c) => {
      const { rows } = await Source.copyRows(
        c as unknown as pg.PoolClient,
        `COPY (select n, s from ${T("rows")} where n > 1000 order by n) TO STDOUT`,
        [
          { name: "n", oid: 23 },
          { name: "s", oid: 25 }
        ]
      )
      const plain = await c.query(`select n, s from ${T("rows")} where n > 1000 order by n`)
      assert.strictEqual(rows.length, plain.rows.length)
      assert.deepStrictEqual(rows, plain.rows)
    })
  )
})
