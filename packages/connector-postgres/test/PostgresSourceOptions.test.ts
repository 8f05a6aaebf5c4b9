// What `PostgresSource.make` refuses before anything connects: a ConfigError naming the field, never a value.
import { Config } from "@data-mcp/core"
import { assert, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import * as PostgresConfig from "../src/PostgresConfig.ts"
import * as PostgresSource from "../src/PostgresSource.ts"
import { sql } from "../src/Sql.ts"

const connection = PostgresConfig.decodeSync({ host: "127.0.0.1", poolSize: 4 })

const refusal = (streams: PostgresSource.PostgresSourceOptions["streams"]): Config.ConfigError | undefined => {
  try {
    PostgresSource.make({ connection, streams })
  } catch (e) {
    assert.instanceOf(e, Config.ConfigError)
    return e as Config.ConfigError
  }
  return undefined
}

const query = sql`select id from orders where tenant = ${"secret-tenant"}`

describe("PostgresSource.make options", () => {
  it("accepts tables, keyless tables, chunked snapshots and query streams", () => {
    assert.isUndefined(
      refusal([
        { table: "orders", key: "id", cursor: "updated_at" },
        { table: "events" },
        { table: ["crm", "customers"], key: "id", chunks: { rows: 10_000, concurrency: 3 } },
        { name: "paid", query, key: "id" },
        { name: "all", query }
      ])
    )
  })

  const cases: ReadonlyArray<readonly [string, PostgresSource.PostgresSourceOptions["streams"], string, RegExp]> = [
    ["a query that is not an sql fragment", [{ name: "q", query: "select 1" as never }], "streams.0.query", /sql/],
    ["a query that writes", [{ name: "q", query: sql`delete from t returning id` }], "streams.0.query", /"delete"/],
    ["an empty query", [{ name: "q", query: sql`  ` }], "streams.0.query", /empty/],
    ["a query stream without a name", [{ name: "", query }], "streams.0.name", /name/],
    ["chunks on a query stream", [{ name: "q", query, chunks: {} } as never], "streams.0.chunks", /table/],
    ["a cursor without a key", [{ table: "t", cursor: "at" }], "streams.0.key", /key/],
    ["chunks with a cursor", [{ table: "t", key: "id", cursor: "at", chunks: {} }], "streams.0.chunks", /cursor/],
    ["chunks of 0 rows", [{ table: "t", key: "id", chunks: { rows: 0 } }], "streams.0.chunks.rows", /above 0/],
    [
      "a fractional concurrency",
      [{ table: "t", key: "id", chunks: { concurrency: 1.5 } }],
      "streams.0.chunks.concurrency",
      /whole/
    ],
    [
      "more chunks at once than the pool has connections",
      [{ table: "t", key: "id", chunks: { concurrency: 4 } }],
      "streams.0.chunks.concurrency",
      /poolSize \(4\)/
    ],
    [
      "a table read twice",
      [
        { table: "t", key: "id" },
        { table: ["public", "t"], key: "id" }
      ],
      "streams.1",
      /public\.t/
    ],
    [
      "a query named like a table",
      [
        { table: "t", key: "id" },
        { name: "public.t", query }
      ],
      "streams.1",
      /twice/
    ]
  ]
  for (const [label, streams, path, detail] of cases)
    it(`refuses ${label}`, () => {
      const error = refusal(streams)
      assert.isDefined(error)
      assert.strictEqual(error!.path, path)
      assert.match(error!.detail, detail)
      assert.isFalse(error!.retryable)
      assert.notInclude(error!.message, "secret-tenant")
    })
})

describe("PostgresSource checkpoints", () => {
  it("a heap page position (a table read by CTID chunks) round-trips; a negative or fractional page is refused", () => {
    const checkpoint = { "public.log": { page: 128 }, "public.items": { key: "42" }, q: { done: true } } as const
    const json = Schema.encodeSync(PostgresSource.PostgresCheckpoint)(checkpoint)
    assert.deepStrictEqual(Schema.decodeUnknownSync(PostgresSource.PostgresCheckpoint)(json), checkpoint)
    for (const page of [-1, 1.5])
      assert.throws(() => Schema.decodeUnknownSync(PostgresSource.PostgresCheckpoint)({ "public.log": { page } }))
  })
})
