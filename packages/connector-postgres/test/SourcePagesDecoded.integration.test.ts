// A source read for records (no encoding asked for) keeps its COPY output in `SourceBuffers`' reused pages and
// gives each group's views back as soon as the group is decoded. Against the real PostgreSQL: rows decoded as the
// runner does (each batch taken once, as it arrives) are exact while the pages are written again under them; the
// pages are reused (the memory read is not allocated afresh); taking a batch's records a second time fails clearly
// instead of reading reused memory; `records` decodes once and keeps them.
import { createHash } from "node:crypto"
import { Batch } from "@data-mcp/core"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import * as EncodedRows from "../src/internal/encodedRows.ts"
import * as SourceBuffers from "../src/internal/sourceBuffers.ts"
import * as PostgresSource from "../src/PostgresSource.ts"
import { config } from "./sourceRead.ts"
import { database, withClient } from "./utils.ts"

const db = await database("source-pages-decoded", "dm_spd")
const schema = db.freshSchema()
const q = (s: string) => `"${s.replaceAll('"', '""')}"`

// ~5 MiB of COPY text: several 1 MiB pages, each filled, given back and written again during one read.
const ROWS = 50_000
const padOf = (id: number) => createHash("md5").update(String(id)).digest("hex").repeat(3)

describe.skipIf(db.unreachable !== undefined)("PostgresSource pages decoded into records", () => {
  beforeAll(() =>
    withClient(async (c) => {
      await c.query(`create schema ${q(schema)}`)
      await c.query(`create table ${q(schema)}.t (id bigint primary key, pad text not null)`)
      await c.query(`insert into ${q(schema)}.t select g, repeat(md5(g::text), 3) from generate_series(1, ${ROWS}) g`)
    })
  )
  afterAll(() => withClient((c) => c.query(`drop schema if exists ${q(schema)} cascade`)))

  const source = () =>
    PostgresSource.make({ connection: config, streams: [{ table: [schema, "t"], key: "id" }], batchSize: 2_000 })

  it.live(
    "rows taken as they arrive are exact while their pages are reused",
    () =>
      Effect.gen(function* () {
        const seen: Array<PostgresSource.Row> = []
        const pages = new Set<ArrayBufferLike>()
        let bytes = 0
        const taken: Array<Batch.Batch<PostgresSource.Row, unknown>> = []
        yield* Stream.runForEach(source().read(undefined, { runId: "t", batchRows: 500 }), (batch) =>
          Effect.sync(() => {
            const encoded = Batch.encodedOf(batch)
            if (encoded === undefined) return
            assert.strictEqual(encoded.format, EncodedRows.COPY_TEXT)
            for (const view of encoded.chunks) {
              pages.add(view.buffer)
              bytes += view.byteLength
            }
            // What the runner does: each batch's records taken once, as it arrives.
            for (const record of Batch.takeRecords(batch)) seen.push(record)
            taken.push(batch)
          })
        )
        assert.strictEqual(seen.length, ROWS)
        for (let i = 0; i < ROWS; i++) {
          const id = i + 1
          assert.strictEqual(seen[i]!.id, BigInt(id))
          if (seen[i]!.pad !== padOf(id)) assert.fail(`row ${id}: ${String(seen[i]!.pad)}`)
        }
        // Every byte went through pages of the pool, and far fewer pages than megabytes read: they were reused.
        assert.isAbove(bytes, 4 * SourceBuffers.PAGE_SIZE)
        for (const page of pages) assert.strictEqual(page.byteLength, SourceBuffers.PAGE_SIZE)
        assert.isBelow(pages.size, Math.ceil(bytes / SourceBuffers.PAGE_SIZE))
        // A second take of rows whose memory was given back fails clearly (it never decodes reused bytes).
        const again = taken[0]!
        assert.throws(() => Batch.takeRecords(again), /decoded once already and their memory reused/)
      }),
    { timeout: 60_000 }
  )

  it.live("`records` decodes once and keeps them: read again, they are the same rows", () =>
    Effect.gen(function* () {
      const batches = yield* Stream.runCollect(source().read(undefined, { runId: "t", batchRows: 500 }))
      const filled = batches.filter((b) => Batch.size(b) > 0)
      const first = filled[0]!
      const records = first.records
      assert.strictEqual(records.length, 500)
      assert.strictEqual(first.records, records)
      assert.strictEqual(Batch.takeRecords(first), records)
      assert.strictEqual(records[0]!.pad, padOf(1))
    })
  )
})
