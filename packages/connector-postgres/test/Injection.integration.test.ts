import { randomBytes } from "node:crypto"
import Module, { createRequire } from "node:module"
import { PostgresConfig, PostgresError, Sql } from "@data-mcp/connector-postgres"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import type PgModule from "pg"

// Against the real PostgreSQL: string params that carry SQL are bound as values, never executed.
// Address from PGHOST/PGPORT/PGUSER/PGDATABASE (defaults 127.0.0.1:5432, postgres, test). With CI=true the
// suite must run; otherwise an unreachable server skips it with the reason printed.

/**
 * vitest runs Node with `--conditions import`, under which pg's `require("pg-pool")` gets pg-pool's ESM build
 * and pg fails to load ("Class extends value [object Module]"). Point that one require at the CommonJS build.
 */
const loadPg = async (): Promise<typeof PgModule> => {
  const M = Module as unknown as { _resolveFilename: (request: string, ...rest: Array<unknown>) => string }
  const original = M._resolveFilename
  const poolCjs = createRequire(import.meta.url)
    .resolve("pg-pool")
    .replace(/esm[\\/]index\.mjs$/, "index.js")
  M._resolveFilename = function (this: unknown, request: string, ...rest: Array<unknown>) {
    return request === "pg-pool" ? poolCjs : original.call(this, request, ...rest)
  }
  try {
    return (await import("pg")).default
  } finally {
    M._resolveFilename = original
  }
}

const pg = await loadPg()
const { sql } = Sql

const config = PostgresConfig.decodeSync({
  host: process.env.PGHOST ?? "127.0.0.1",
  port: Number(process.env.PGPORT ?? 5432),
  user: process.env.PGUSER ?? "postgres",
  database: process.env.PGDATABASE ?? "test",
  poolSize: 2,
  connectTimeoutMs: 5_000
})

const reachable = await (async (): Promise<string | undefined> => {
  const client = new pg.Client(PostgresConfig.toPoolConfig(config))
  try {
    await client.connect()
    await client.query(Sql.toQueryConfig(sql`select 1`))
    return undefined
  } catch (error) {
    return PostgresError.toConnectorError(error, "connect").message
  } finally {
    await client.end().catch(() => undefined)
  }
})()

if (reachable !== undefined) {
  if (process.env.CI === "true") throw new Error(`PostgreSQL is required in CI: ${reachable}`)
  console.warn(`Skipping Injection.integration.test.ts: PostgreSQL unreachable (${reachable})`)
}

const suffix = randomBytes(6).toString("hex")
const schema = PostgresConfig.schemaOf(config)
const table = sql.ident([schema, `dm_inj_${suffix}`])
const sentinelName = `dm_s_${suffix}`
const sentinel = sql.ident([schema, sentinelName])
const weirdName = `dm_w_${suffix}"; drop table ${sentinelName}; --`

const payloads: ReadonlyArray<string> = [
  `'; drop table ${sentinelName}; --`,
  "1 or 1=1",
  "' or '1'='1",
  `" ; delete from ${sentinelName}; --`,
  `'); delete from ${sentinelName}; --`,
  "$1",
  "$$; drop table x; $$",
  "\\'; drop table x; --",
  "/* */ select pg_sleep(10) --",
  "Ünïcödé 名前 🚀 \u202eevil\u202c ' \" ;",
  `${"x".repeat(10_000)}'; drop table ${sentinelName}; --`,
  Array.from({ length: 2_000 }, (_, i) => `'${i}"; --`).join("")
]

describe.skipIf(reachable !== undefined)("injection payloads are bound as values", () => {
  let pool: PgModule.Pool
  const run = (fragment: Sql.Fragment) => pool.query(Sql.toQueryConfig(fragment))
  const exists = async (name: string): Promise<boolean> => {
    const result = await run(sql`select to_regclass(${`${schema}.${name}`}) is not null as present`)
    return result.rows[0]?.present === true
  }
  const quotedName = (name: string) => `"${name.replaceAll('"', '""')}"`

  beforeAll(async () => {
    pool = new pg.Pool(PostgresConfig.toPoolConfig(config))
    await run(sql`create table ${table} (id serial primary key, name text not null, note text)`)
    await run(sql`create table ${sentinel} (id int)`)
    await run(sql`insert into ${sentinel} (id) values (${1}), (${2})`)
  })

  afterAll(async () => {
    if (pool === undefined) return
    await run(sql`drop table if exists ${table}`)
    await run(sql`drop table if exists ${sentinel}`)
    await run(sql`drop table if exists ${sql.ident([schema, weirdName])}`)
    await pool.end()
  })

  it("every payload round-trips as data through insert … returning", async () => {
    for (const payload of payloads) {
      const result = await run(sql`insert into ${table} (name) values (${payload}) returning id, name`)
      assert.strictEqual(result.rowCount, 1)
      assert.strictEqual(result.rows[0]?.name, payload)
    }
    const count = await run(sql`select count(*)::int as n from ${table}`)
    assert.strictEqual(count.rows[0]?.n, payloads.length)
  })

  it("a payload in a where clause matches only its own row", async () => {
    for (const payload of payloads) {
      const result = await run(sql`select name from ${table} where name = ${payload}`)
      assert.strictEqual(result.rowCount, 1)
      assert.strictEqual(result.rows[0]?.name, payload)
    }
    const none = await run(sql`select name from ${table} where name = ${"nothing' or '1'='1"}`)
    assert.strictEqual(none.rowCount, 0)
  })

  it("update and delete with payloads touch no other row", async () => {
    const first = await run(sql`select id from ${table} order by id limit 1`)
    const id = first.rows[0]?.id as number
    const updated = await run(sql`update ${table} set note = ${"'; update x set y = 1; --"} where id = ${id}`)
    assert.strictEqual(updated.rowCount, 1)
    const notes = await run(sql`select count(*)::int as n from ${table} where note is not null`)
    assert.strictEqual(notes.rows[0]?.n, 1)
    const deleted = await run(sql`delete from ${table} where name = ${"x' or '1'='1"}`)
    assert.strictEqual(deleted.rowCount, 0)
    const count = await run(sql`select count(*)::int as n from ${table}`)
    assert.strictEqual(count.rows[0]?.n, payloads.length)
  })

  it("a payload bound where a number is expected is refused as a value (22P02), not run", async () => {
    const error = await run(sql`select * from ${table} where id = ${"1 or 1=1"}`).then(
      () => undefined,
      (e: unknown) => e
    )
    const reason = PostgresError.classify(error, "read")
    assert.strictEqual(reason._tag, "InvalidRecord")
    assert.notInclude(reason.detail, "1 or 1=1")
  })

  it("a hostile identifier is quoted: it names one table and runs nothing", async () => {
    const weird = sql.ident([schema, weirdName])
    await run(sql`create table ${weird} (v text)`)
    await run(sql`insert into ${weird} (v) values (${"ok"})`)
    const rows = await run(sql`select v from ${weird}`)
    assert.deepStrictEqual(rows.rows, [{ v: "ok" }])
    const found = await run(
      sql`select count(*)::int as n from pg_catalog.pg_tables where schemaname = ${schema} and tablename = ${weirdName}`
    )
    assert.strictEqual(found.rows[0]?.n, 1)
    assert.isTrue(await exists(quotedName(weirdName)))
  })

  it("a closed set of identifiers refuses a payload before anything is sent", () => {
    const allowed = [[schema, `dm_inj_${suffix}`]]
    assert.throws(() => sql.ident([schema, `dm_inj_${suffix}; drop table ${sentinelName}`], allowed), /not one of/)
  })

  it("a second statement in the template is refused before anything is sent", () => {
    assert.throws(() => sql`select 1 from ${table}; drop table ${sentinel}`, /one statement/)
  })

  it("the tables are still there, and the sentinel's rows untouched", async () => {
    assert.isTrue(await exists(`dm_inj_${suffix}`))
    assert.isTrue(await exists(sentinelName))
    const rows = await run(sql`select id from ${sentinel} order by id`)
    assert.deepStrictEqual(rows.rows, [{ id: 1 }, { id: 2 }])
  })
})
