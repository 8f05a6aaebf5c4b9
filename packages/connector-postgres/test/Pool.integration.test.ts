import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Pool from "../src/internal/pool.ts"
import { sql } from "../src/Sql.ts"

describe("pool", () => {
  it.live("runs bound queries against the local server and classifies errors", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const pool = yield* Pool.pool(Pool.configFromEnv())
        const result = yield* Pool.query<{ n: number }>(pool, sql`select ${41}::int + 1 as n`, "check")
        assert.strictEqual(result.rows[0]?.n, 42)
        const error = yield* Effect.flip(Pool.query(pool, sql`select * from ${sql.ident("no_such_table_dm")}`, "read"))
        assert.strictEqual(error.reason._tag, "Unknown")
        assert.isFalse(error.retryable)
      })
    )
  )
})
