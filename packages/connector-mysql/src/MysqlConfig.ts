/**
 * The options of a MySQL or MariaDB connection: where the server is (`host`, `port`, `user`, `password`,
 * `database`), TLS, the pool size and the connect timeout. The password and a TLS client key are `Redacted` in
 * memory, so printing, logging or serialising a config never shows them; only `toPoolOptions` reveals them, to
 * hand them to `mysql2`. Options are validated with Schema: a bad option fails with its field named, never its
 * value.
 *
 * Every connection the connector opens runs with an explicit session: `time_zone = '+00:00'` (so `TIMESTAMP`
 * values are read and written as UTC instants, whatever the server's zone), `utf8mb4`, and a strict `sql_mode`
 * (a value that does not fit its column is an error, never silently truncated).
 *
 * @since 0.1.0
 */
import { Config } from "@data-mcp/core"
import { type Effect, Redacted, Schema } from "effect"
import type { PoolOptions } from "mysql2"

const NonEmpty = Schema.String.check(Schema.isNonEmpty())
const Secret = Schema.Redacted(Schema.String)
const PositiveInt = Schema.Int.check(Schema.isGreaterThan(0))
const Port = Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 65535 }))
/** Letters, digits, `_` and `$`, up to 64 characters, as MySQL allows in an unquoted database name. */
const DatabaseName = Schema.String.check(Schema.isPattern(/^[A-Za-z0-9_$]{1,64}$/))

/**
 * TLS options, passed to Node's `tls.connect`.
 *
 * @category schemas
 * @since 0.1.0
 */
export const SslOptions = Schema.Struct({
  rejectUnauthorized: Schema.optionalKey(
    Schema.Boolean.annotate({ description: "Verify the server's certificate (default true)." })
  ),
  ca: Schema.optionalKey(NonEmpty.annotate({ description: "PEM certificate(s) of the CA to trust." })),
  cert: Schema.optionalKey(NonEmpty.annotate({ description: "PEM client certificate, for certificate auth." })),
  key: Schema.optionalKey(Secret.annotate({ description: "PEM private key of the client certificate (secret)." }))
})

/**
 * The defaults applied by `toPoolOptions` for options left out.
 *
 * @category constants
 * @since 0.1.0
 */
export const defaults = {
  port: 3306,
  poolSize: 10,
  connectTimeoutMs: 10_000
} as const

/**
 * The session every connection runs with: UTC, utf8mb4, strict. Constant statements, no values.
 *
 * @category constants
 * @since 0.1.0
 */
export const sessionSettings: ReadonlyArray<string> = [
  "SET time_zone = '+00:00'",
  "SET NAMES utf8mb4 COLLATE utf8mb4_bin",
  "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION,NO_AUTO_VALUE_ON_ZERO'"
]

const fields = {
  host: NonEmpty.annotate({ description: "The server's host name or IP address." }),
  port: Schema.optionalKey(Port.annotate({ description: "The server's port (default 3306)." })),
  user: NonEmpty.annotate({ description: "The user to connect as." }),
  password: Schema.optionalKey(Secret.annotate({ description: "The user's password, as a secret (default: none)." })),
  database: DatabaseName.annotate({
    description: "The database (schema) unqualified table names resolve to, and where the sink's state table lives."
  }),
  ssl: Schema.optionalKey(
    Schema.Union([Schema.Boolean, SslOptions]).annotate({
      description: "TLS: true to require it with certificate verification, false or absent for none, or TLS options."
    })
  ),
  poolSize: Schema.optionalKey(
    PositiveInt.annotate({ description: "The most connections the pool opens (default 10)." })
  ),
  connectTimeoutMs: Schema.optionalKey(
    PositiveInt.annotate({ description: "Give up opening a connection after this many milliseconds (default 10000)." })
  )
}

/**
 * The connection options.
 *
 * **Example** (Validating options)
 *
 * ```ts
 * import { MysqlConfig } from "@data-mcp/connector-mysql"
 * import { Effect, Redacted } from "effect"
 *
 * const config = Effect.runSync(
 *   MysqlConfig.decode({ host: "127.0.0.1", user: "etl", password: Redacted.make("s3cr3t"), database: "shop" })
 * )
 * String(config.password) // "<redacted>"
 * ```
 *
 * @category schemas
 * @since 0.1.0
 */
export const MysqlConfig = Schema.Struct(fields)

/**
 * Decoded connection options.
 *
 * @category models
 * @since 0.1.0
 */
export type MysqlConfig = typeof MysqlConfig.Type

/**
 * Validates connection options, failing with a `ConfigError` that names the field (never its value).
 *
 * @category constructors
 * @since 0.1.0
 */
export const decode = (input: unknown): Effect.Effect<MysqlConfig, Config.ConfigError> =>
  Config.decode("mysql", MysqlConfig, input)

/**
 * `decode` for code that cannot be effectful: throws the `ConfigError`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const decodeSync = (input: unknown): MysqlConfig => Config.decodeSync("mysql", MysqlConfig, input)

const toSsl = (ssl: NonNullable<MysqlConfig["ssl"]>): PoolOptions["ssl"] => {
  if (ssl === true) return { rejectUnauthorized: true }
  if (ssl === false) return undefined
  return {
    ...(ssl.rejectUnauthorized === undefined ? {} : { rejectUnauthorized: ssl.rejectUnauthorized }),
    ...(ssl.ca === undefined ? {} : { ca: ssl.ca }),
    ...(ssl.cert === undefined ? {} : { cert: ssl.cert }),
    ...(ssl.key === undefined ? {} : { key: Redacted.value(ssl.key) })
  }
}

/**
 * The `mysql2` pool options for these options, with the defaults applied. This is the one place a secret is
 * revealed (`mysql2` takes the password as a string) — never log the result. Values are read as the server's text
 * (big numbers, dates and JSON as strings; the source decodes them with `MysqlCodec`), `LOAD DATA LOCAL INFILE` is allowed only from streams the sink hands over,
 * and one statement per query is enforced (`multipleStatements: false`).
 *
 * @category conversions
 * @since 0.1.0
 */
export const toPoolOptions = (config: MysqlConfig): PoolOptions => {
  const ssl = config.ssl === undefined ? undefined : toSsl(config.ssl)
  return {
    host: config.host,
    port: config.port ?? defaults.port,
    user: config.user,
    ...(config.password === undefined ? {} : { password: Redacted.value(config.password) }),
    database: config.database,
    ...(ssl === undefined ? {} : { ssl }),
    connectionLimit: config.poolSize ?? defaults.poolSize,
    connectTimeout: config.connectTimeoutMs ?? defaults.connectTimeoutMs,
    charset: "utf8mb4_bin",
    timezone: "Z",
    supportBigNumbers: true,
    bigNumberStrings: true,
    dateStrings: true,
    jsonStrings: true,
    multipleStatements: false,
    waitForConnections: true,
    queueLimit: 0
  }
}

/**
 * The address tests and tools use: `MYSQL_HOST`, `MYSQL_PORT`, `MYSQL_USER`, `MYSQL_DATABASE`, defaulting to
 * the loopback server (`root@127.0.0.1:3306`, database `test`).
 *
 * @category constructors
 * @since 0.1.0
 */
export const fromEnv = (env: NodeJS.ProcessEnv = process.env): MysqlConfig =>
  decodeSync({
    host: env.MYSQL_HOST ?? "127.0.0.1",
    port: Number(env.MYSQL_PORT ?? 3306),
    user: env.MYSQL_USER ?? "root",
    database: env.MYSQL_DATABASE ?? "test"
  })
