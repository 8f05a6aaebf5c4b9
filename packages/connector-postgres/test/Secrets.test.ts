import Module, { createRequire } from "node:module"
import { createServer } from "node:net"
import { inspect } from "node:util"
import { PostgresConfig, PostgresError, Sql } from "@data-mcp/connector-postgres"
import { Config } from "@data-mcp/core"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Logger, Redacted } from "effect"
import type PgModule from "pg"

// No log line, error or printed config may contain the password or the connection string.

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

const PASSWORD = "Sup3r-s3cret-pw"
const host = process.env.PGHOST ?? "127.0.0.1"
const port = Number(process.env.PGPORT ?? 5432)
const user = process.env.PGUSER ?? "postgres"

/** A port nothing listens on: bind one, note it, close it. */
const closedPort = async (): Promise<number> => {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const address = server.address()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return typeof address === "object" && address !== null ? address.port : 1
}

/** Everything a user could see of a value: printed, interpolated, serialised, inspected, logged. */
const renderings = (value: unknown): ReadonlyArray<string> => {
  const logged: Array<string> = []
  const logger = Logger.make((options) => {
    logged.push(inspect(options.message, { depth: 20 }))
  })
  Effect.runSync(Effect.logError("postgres", value).pipe(Effect.provide(Logger.layer([logger]))))
  assert.lengthOf(logged, 1)
  return [
    String(value),
    `${value}`,
    JSON.stringify(value) ?? "",
    inspect(value, { depth: 20, showHidden: false }),
    ...logged
  ]
}

const assertClean = (value: unknown): void => {
  for (const shown of renderings(value)) {
    assert.notInclude(shown, PASSWORD)
  }
}

/** Connects with the config and returns the ConnectorError it fails with. */
const connectError = async (config: PostgresConfig.PostgresConfig) => {
  const pool = new pg.Pool(PostgresConfig.toPoolConfig(config))
  try {
    await pool.query(Sql.toQueryConfig(Sql.sql`select 1`))
    return assert.fail("expected the connection to fail")
  } catch (error) {
    return PostgresError.toConnectorError(error, "connect")
  } finally {
    await pool.end().catch(() => undefined)
  }
}

describe("secrets", () => {
  const split = PostgresConfig.decodeSync({
    host,
    port,
    user,
    password: Redacted.make(PASSWORD),
    database: "test"
  })
  const url = PostgresConfig.decodeSync({
    connectionString: Redacted.make(`postgres://${user}:${PASSWORD}@${host}:${port}/test`)
  })

  it("the check itself catches a leak (control)", () => {
    // String() of a plain object is "[object Object]"; the JSON, inspected and logged forms show the leak
    const shown = renderings({ password: PASSWORD }).slice(2)
    assert.lengthOf(shown, 3)
    for (const text of shown) assert.include(text, PASSWORD)
  })

  it("a decoded config never shows the password or the connection string", () => {
    assertClean(split)
    assertClean(url)
    assertClean(split.password)
    assertClean(url.connectionString)
    assert.strictEqual(String(split.password), "<redacted>")
  })

  it("the pool config holds the password only behind a function; the pool never prints it", () => {
    const poolConfig = PostgresConfig.toPoolConfig(split)
    assert.notInclude(inspect(poolConfig, { depth: 20 }), PASSWORD)
    assert.notInclude(JSON.stringify(poolConfig), PASSWORD)
    assert.isFunction(poolConfig.password)
    const pool = new pg.Pool(poolConfig)
    assert.notInclude(inspect(pool, { depth: 5 }), PASSWORD)
    void pool.end()
  })

  it("a ConfigError for a bad option never quotes the password", async () => {
    const bad: ReadonlyArray<unknown> = [
      { host, password: Redacted.make(PASSWORD), poolSize: -1 },
      { host, password: PASSWORD },
      { connectionString: `postgres://u:${PASSWORD}@h/db` },
      { connectionString: Redacted.make(`postgres://u:${PASSWORD}@h/db`), host: "also" },
      { host, password: Redacted.make(PASSWORD), passwrod: PASSWORD },
      { password: Redacted.make(PASSWORD) },
      { connectionString: Redacted.make(`postgres://u:${PASSWORD}@h/db`), ssl: { key: PASSWORD } }
    ]
    for (const input of bad) {
      const error = await Effect.runPromise(Effect.flip(PostgresConfig.decode(input)))
      assert.instanceOf(error, Config.ConfigError)
      assertClean(error)
      assert.throws(() => PostgresConfig.decodeSync(input), Config.ConfigError)
    }
    const named = await Effect.runPromise(Effect.flip(PostgresConfig.decode({ host, poolSize: 0 })))
    assert.strictEqual(named.path, "poolSize")
    const plain = await Effect.runPromise(Effect.flip(PostgresConfig.decode({ host, password: PASSWORD })))
    assert.strictEqual(plain.path, "password")
  })

  it("a refused connection (closed port) fails without the password", async () => {
    const closed = await closedPort()
    for (const config of [
      PostgresConfig.decodeSync({ host: "127.0.0.1", port: closed, user, password: Redacted.make(PASSWORD) }),
      PostgresConfig.decodeSync({
        connectionString: Redacted.make(`postgres://${user}:${PASSWORD}@127.0.0.1:${closed}/test`)
      })
    ]) {
      const error = await connectError(config)
      assert.strictEqual(error.reason._tag, "ConnectionError")
      assert.isTrue(error.retryable)
      assertClean(error)
    }
  })

  it("a missing database (or refused login) fails without the password", async () => {
    const probe = new pg.Client({ host, port, user, database: "test", connectionTimeoutMillis: 3_000 })
    const up = await probe.connect().then(
      () => true,
      () => false
    )
    await probe.end().catch(() => undefined)
    if (!up) {
      if (process.env.CI === "true") assert.fail(`PostgreSQL is required in CI at ${host}:${port}`)
      console.warn(`Skipping the missing-database case: PostgreSQL unreachable at ${host}:${port}`)
      return
    }
    const database = `dm_missing_${Date.now()}`
    for (const config of [
      PostgresConfig.decodeSync({ host, port, user, password: Redacted.make(PASSWORD), database }),
      PostgresConfig.decodeSync({
        connectionString: Redacted.make(`postgres://${user}:${PASSWORD}@${host}:${port}/${database}`)
      })
    ]) {
      const error = await connectError(config)
      // trust auth ignores the password, so the server refuses the database; with password auth it may
      // refuse the password first — either way the password must not show.
      assert.include(["NotFound", "AuthenticationError"], error.reason._tag)
      assert.isFalse(error.retryable)
      assertClean(error)
    }
  })
})
