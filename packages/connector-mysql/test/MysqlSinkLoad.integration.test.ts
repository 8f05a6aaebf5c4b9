// The sink's two append paths against the real MariaDB/MySQL: `LOAD DATA LOCAL INFILE` streamed from memory and
// multi-row INSERTs. Every type goes MariaDB → source → sink → MariaDB through each path and is compared in the
// server's own text (hex for bytes); a load the server turns into warnings (a duplicate key) is rolled back and
// the rows inserted instead, so the error surfaces and nothing is half-written; a server that refuses LOCAL
// (local_infile = 0) gets INSERTs with "auto" and a clear error with "infile". The tests that switch the global
// local_infile off run in this file only, one after the other, and switch it back on.
// With CI=true the suite must run; otherwise an unreachable server skips it with the reason printed.
import { Batch, Pipeline, Runner } from "@data-mcp/core"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Option, Stream } from "effect"
import * as MysqlSink from "../src/MysqlSink.ts"
import * as MysqlSource from "../src/MysqlSource.ts"
import * as Db from "./utils.ts"

const db = await Db.database("MysqlSink load paths", "dm_load")

const DDL = `(
  id bigint unsigned primary key,
  i8 tinyint, i64 bigint, d decimal(65, 30), f double,
  dt datetime(6), ts timestamp(6) null default null, da date, tm time(6),
  j json, b blob, vb varbinary(16), bt bit(64), bt1 bit(1), ok boolean,
  t text, v varchar(20), e enum('a', 'b'), y year
) default charset = utf8mb4 collate = utf8mb4_bin`

// Text with every character the LOAD DATA format escapes: tab, newline, CR, backslash, NUL, Ctrl-Z, a literal \\N.
const ROWS = [
  `(18446744073709551615, -128, -9223372036854775808, -12345678901234567890123456789012345.123456789012345678901234567890,
    1.7976931348623157e308, '1000-01-01 00:00:00.000001', '1970-01-01 00:00:01.000000', '1000-01-01', '-838:59:59.000000',
    '{"a": [1, 2.5, "x\\\\t"], "big": 12345678901234567890, "n": null}', x'00ff0a090d5c4e1a', x'', x'ffffffffffffffff', b'1', true,
    'ascii', '', 'a', 1901)`,
  `(1, 127, 9223372036854775807, 0.000000000000000000000000000001, -0.5, '9999-12-31 23:59:59.999999',
    '2038-01-19 03:14:07.999999', '9999-12-31', '838:59:59.999999', '[]', x'deadbeef', x'0102', b'0', b'0', false,
    'näme 🎉 "q" \\\\ \\t\\n\\r ''quoted'' \\0 \\Z \\\\N end', 'ü€😀\\t', 'b', 2155)`,
  `(2, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null)`,
  `(3, 0, 0, 0, 0, '2026-02-03 04:05:06.000007', '2026-02-03 04:05:06.000007', '2026-02-03', '00:00:00', '"\\\\\\\\N"',
    x'5c4e', x'5c', b'101', b'1', true, '\\\\N', '\\\\', 'a', 2026)`
]

const COMPARE = `select cast(id as char) as id, cast(i8 as char) as i8, cast(i64 as char) as i64, cast(d as char) as d,
  cast(f as char) as f, cast(dt as char) as dt, cast(ts as char) as ts, cast(da as char) as da, cast(tm as char) as tm,
  json_compact(j) as j, hex(b) as b, hex(vb) as vb, bin(bt) as bt, bin(bt1) as bt1, cast(ok as char) as ok,
  hex(t) as t, hex(v) as v, e, cast(y as char) as y`

const query = <A>(statement: string, values: Array<unknown> = []) =>
  Effect.promise(() =>
    Db.withConnection(async (c) => {
      const [rows] = await c.query(statement, values)
      return rows as unknown as A
    }, db.name)
  )

const snapshot = (table: string) => query<Array<Record<string, unknown>>>(`${COMPARE} from \`${table}\` order by id`)

const setLocalInfile = (on: boolean) => query(`set global local_infile = ${on ? 1 : 0}`)

/** Runs `body` with the server's local_infile off, and switches it back on whatever happens. */
const withoutLocalInfile = <A, E>(body: Effect.Effect<A, E>) =>
  Effect.acquireUseRelease(
    setLocalInfile(false),
    () => body,
    () => setLocalInfile(true)
  )

const run = <P, A, B>(pipeline: Pipeline.Pipeline<P, A, B>) =>
  Runner.run(pipeline, {}).pipe(Effect.scoped, Effect.provide(Runner.layerMemory({ purgeIntervalMs: 0 })))

const copy = (target: string, load: "auto" | "infile" | "insert", batchSize = 2) =>
  run(
    Pipeline.make({
      name: `load_${target}`,
      version: "1.0.0",
      description: "MariaDB → MariaDB through one load path",
      source: MysqlSource.make({ connection: db.config, streams: [{ table: "src", key: "id" }], batchSize }),
      sink: MysqlSink.make({ connection: db.config, table: target, load }) as never,
      options: { batch: { rows: batchSize, maxWaitMs: 50 } }
    })
  )

const comLoad = () =>
  Effect.map(query<Array<{ Value: string }>>("show global status like 'Com_load'"), (rows) =>
    Number(rows[0]?.Value ?? 0)
  )

/** Opens a writer of `sink` for run r1, token 1, on its own state key. */
const open = (sink: ReturnType<typeof MysqlSink.make>, table: string) =>
  sink.open({
    runId: "r1",
    pipeline: "load",
    stateKey: `load:${table}`,
    lease: { key: `load:${table}`, runId: "r1", token: 1, expiresAt: Date.now() + 60_000 }
  })

/** A writer into `table (id bigint, name longtext)`. */
const writer = (table: string, load: "auto" | "infile" | "insert") =>
  open(
    MysqlSink.make({
      connection: db.config,
      table,
      load,
      columns: [
        { name: "id", type: "bigint" },
        { name: "name", type: "text" }
      ],
      disposition: "append"
    }),
    table
  )

/** `[id, name]` of every row of a table, and the checkpoint its sink stored. */
const contents = (table: string) =>
  Effect.gen(function* () {
    const rows = yield* query<Array<{ id: string; name: string }>>(
      `select cast(id as char) as id, name from \`${table}\` order by id`
    )
    const [state] = yield* query<Array<{ checkpoint: string }>>(
      "select checkpoint from data_mcp_state where target = ?",
      [table]
    )
    return { rows: rows.map((r) => [r.id, r.name]), checkpoint: state?.checkpoint }
  })

const failureOf = <A, E>(exit: Exit.Exit<A, E>): E | undefined =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Cause.findErrorOption(exit.cause)) : undefined

describe.skipIf(db.unreachable !== undefined)("MysqlSink load paths", () => {
  it.live("every type goes through LOAD DATA and through INSERT byte for byte", () =>
    Effect.gen(function* () {
      yield* query(`create table src ${DDL}`)
      yield* query(`insert into src values ${ROWS.join(", ")}`)
      const source = yield* snapshot("src")
      assert.strictEqual(source.length, 4)
      for (const load of ["infile", "insert"] as const) {
        const target = `dst_${load}`
        yield* query(`create table ${target} like src`)
        const loadsBefore = yield* comLoad()
        const summary = yield* copy(target, load)
        assert.strictEqual(summary.status, "succeeded")
        assert.strictEqual(summary.recordsWritten, 4)
        assert.strictEqual(summary.deadLetters, 0)
        assert.deepStrictEqual(yield* snapshot(target), source, load)
        // The infile run ran LOAD DATA statements (one per batch of 2 rows).
        if (load === "infile") assert.isAtLeast((yield* comLoad()) - loadsBefore, 2)
      }
    })
  )

  it.live("a load the server turns into warnings is rolled back and inserted instead: nothing half-written", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const w = yield* writer("dup", "infile")
        yield* w.write(
          { stream: "s", records: [{ id: 1n, name: "one" }], checkpoint: 1 },
          { seq: 0, checkpointFrom: null, checkpointTo: 1 }
        )
        yield* query("alter table dup add primary key (id)")
        // A LOCAL load skips a duplicate key with a warning; the sink sees the short count and inserts instead,
        // which fails on the duplicate: the batch is refused as a whole, its checkpoint not stored.
        const exit = yield* Effect.exit(
          w.write(
            {
              stream: "s",
              records: [
                { id: 2n, name: "two" },
                { id: 1n, name: "again" },
                { id: 3n, name: "three" }
              ],
              checkpoint: 2
            },
            { seq: 1, checkpointFrom: 1, checkpointTo: 2 }
          )
        )
        const error = failureOf(exit) as { readonly _tag: string; readonly retryable: boolean } | undefined
        assert.strictEqual(error?._tag, "ConnectorError")
        assert.isFalse(error?.retryable)
        assert.deepStrictEqual(yield* contents("dup"), { rows: [["1", "one"]], checkpoint: "1" })
      })
    )
  )

  it.live("a value longer than its column is refused by the codec before the load, naming the column", () =>
    Effect.scoped(
      Effect.gen(function* () {
        yield* query("create table narrow (id bigint, name varchar(3))")
        const w = yield* open(MysqlSink.make({ connection: db.config, table: "narrow", load: "infile" }), "narrow")
        const result = yield* w.write(
          {
            stream: "s",
            records: [
              { id: 1n, name: "abc" },
              { id: 2n, name: "abcdef" },
              { id: 3n, name: "x" }
            ],
            checkpoint: 1
          },
          { seq: 0, checkpointFrom: null, checkpointTo: 1 }
        )
        assert.strictEqual(result.written, 2)
        assert.strictEqual(result.rejected?.[0]?.index, 1)
        assert.include(result.rejected?.[0]?.reason, '"name"')
        assert.deepStrictEqual((yield* contents("narrow")).rows, [
          ["1", "abc"],
          ["3", "x"]
        ])
      })
    )
  )

  it.live('with local_infile off, "auto" inserts every row once and "infile" fails naming the setting', () =>
    withoutLocalInfile(
      Effect.gen(function* () {
        yield* query("create table off_auto like src")
        const summary = yield* copy("off_auto", "auto")
        assert.strictEqual(summary.status, "succeeded")
        assert.deepStrictEqual(yield* snapshot("off_auto"), yield* snapshot("src"))
        const exit = yield* Effect.exit(Effect.scoped(writer("off_infile", "infile")))
        const error = failureOf(exit) as { readonly message: string; readonly retryable: boolean } | undefined
        assert.include(error?.message, "local_infile")
        assert.isFalse(error?.retryable)
      })
    )
  )

  it.live("local_infile switched off mid-run: the refused load is redone as INSERTs in the same transaction", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const w = yield* writer("mid", "auto")
        yield* w.write(
          { stream: "s", records: [{ id: 1n, name: "loaded" }], checkpoint: 1 },
          { seq: 0, checkpointFrom: null, checkpointTo: 1 }
        )
        yield* withoutLocalInfile(
          w.write(
            {
              stream: "s",
              records: [
                { id: 2n, name: "inserted" },
                { id: 3n, name: "inserted" }
              ],
              checkpoint: 2
            },
            { seq: 1, checkpointFrom: 1, checkpointTo: 2 }
          )
        )
        assert.deepStrictEqual(yield* contents("mid"), {
          rows: [
            ["1", "loaded"],
            ["2", "inserted"],
            ["3", "inserted"]
          ],
          checkpoint: "2"
        })
      })
    )
  )

  it.live("rows encoded ahead are parsed back and inserted byte for byte when the server refuses the load", () =>
    Effect.scoped(
      Effect.gen(function* () {
        yield* query("create table dst_parsed like src")
        const records = (yield* Stream.runCollect(
          MysqlSource.make({ connection: db.config, streams: [{ table: "src", key: "id" }] }).read(undefined, {
            runId: "t",
            batchRows: 10
          })
        )).flatMap((b) => b.records)
        const w = yield* open(MysqlSink.make({ connection: db.config, table: "dst_parsed" }), "dst_parsed")
        const out = w.encode!(records, "s")
        assert.isDefined(out, "records that fit the table are encoded ahead")
        assert.strictEqual(out!.encoded.rows, 4)
        assert.deepStrictEqual(out!.rejected, [])
        const batch = Batch.makeEncoded<Record<string, unknown>>(out!.encoded, {
          stream: "s",
          checkpoint: 1,
          decode: () => records
        })
        const result = yield* withoutLocalInfile(w.write(batch, { seq: 0, checkpointFrom: null, checkpointTo: 1 }))
        assert.strictEqual(result.written, 4)
        assert.deepStrictEqual(yield* snapshot("dst_parsed"), yield* snapshot("src"))
      })
    )
  )

  it("validates the load option", () => {
    try {
      MysqlSink.make({ connection: db.config, table: "t", load: "copy" as never })
      assert.fail("expected a ConfigError")
    } catch (e) {
      assert.strictEqual((e as { _tag: string })._tag, "ConfigError")
      assert.strictEqual((e as { path: string }).path, "load")
    }
  })
})
