/**
 * The options of a PostgreSQL connection: where the server is (a `connectionString`, or `host`, `port`,
 * `user`, `password` and `database`), TLS, the pool size, the statement timeout, the application name and the
 * default schema. Secrets — the connection string, the password, a TLS client key — are `Redacted` in memory,
 * so printing, logging or serialising a config never shows them; only `toPoolConfig` reveals them, to hand
 * them to `pg`. Options are validated with Schema: a bad option fails with its field named, never its value.
 *
 * @since 0.1.0
 */
import { Config } from "@data-mcp/core"
import { type Effect, Redacted, Schema } from "effect"
import type pg from "pg"

const NonEmpty = Schema.String.check(Schema.isNonEmpty())
const Secret = Schema.Redacted(Schema.String)
const PositiveInt = Schema.Int.check(Schema.isGreaterThan(0))
const NonNegativeInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))
const Port = Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 65535 }))
/** Letters, digits, `_` and `$`, as PostgreSQL allows in an unquoted name; up to 63 bytes. */
const SchemaName = Schema.String.check(Schema.isPattern(/^[A-Za-z_][A-Za-z0-9_$]{0,62}$/))

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
  key: Schema.optionalKey(Secret.annotate({ description: "PEM private key of the client certificate (secret)." })),
  servername: Schema.optionalKey(
    NonEmpty.annotate({ description: "The host name to verify the certificate against (default: host)." })
  )
})

/**
 * The defaults applied by `toPoolConfig` for options left out.
 *
 * @category constants
 * @since 0.1.0
 */
export const defaults = {
  port: 5432,
  poolSize: 10,
  connectTimeoutMs: 10_000,
  applicationName: "data-mcp",
  schema: "public"
} as const

const fields = {
  connectionString: Schema.optionalKey(
    Secret.annotate({
      description:
        "A libpq URL, postgres://user:password@host:port/database?sslmode=…, as a secret. Give this or host (and the other connection fields), not both."
    })
  ),
  host: Schema.optionalKey(
    NonEmpty.annotate({
      description:
        "The server's host name, IP address or Unix socket directory. Required unless connectionString is given."
    })
  ),
  port: Schema.optionalKey(Port.annotate({ description: "The server's port (default 5432)." })),
  user: Schema.optionalKey(
    NonEmpty.annotate({ description: "The user to connect as (default: the OS user, as libpq)." })
  ),
  password: Schema.optionalKey(
    Secret.annotate({ description: "The user's password, as a secret (default: none, for trust or certificate auth)." })
  ),
  database: Schema.optionalKey(
    NonEmpty.annotate({ description: "The database to connect to (default: the user name)." })
  ),
  ssl: Schema.optionalKey(
    Schema.Union([Schema.Boolean, SslOptions]).annotate({
      description:
        "TLS: true to require it with certificate verification, false to disable it, or TLS options (default: off, or what connectionString's sslmode says)."
    })
  ),
  poolSize: Schema.optionalKey(
    PositiveInt.annotate({ description: "The most connections the pool opens (default 10)." })
  ),
  statementTimeoutMs: Schema.optionalKey(
    NonNegativeInt.annotate({
      description:
        "Cancel any statement that runs longer, in milliseconds; 0 disables it (default: the server's statement_timeout)."
    })
  ),
  connectTimeoutMs: Schema.optionalKey(
    PositiveInt.annotate({
      description: "Give up opening or acquiring a connection after this many milliseconds (default 10000)."
    })
  ),
  applicationName: Schema.optionalKey(
    NonEmpty.annotate({ description: 'The application_name shown in pg_stat_activity (default "data-mcp").' })
  ),
  schema: Schema.optionalKey(
    SchemaName.annotate({ description: 'The schema unqualified table names resolve to (default "public").' })
  )
}

const SPLIT_FIELDS = ["host", "port", "user", "password", "database"] as const

/**
 * The connection options. Either `connectionString`, or `host` with the optional `port`, `user`, `password`
 * and `database` — not both.
 *
 * **Example** (Validating options)
 *
 * ```ts
 * import { PostgresConfig } from "@data-mcp/connector-postgres"
 * import { Effect, Redacted } from "effect"
 *
 * const config = Effect.runSync(
 *   PostgresConfig.decode({ host: "127.0.0.1", user: "etl", password: Redacted.make("s3cr3t"), database: "shop" })
 * )
 * String(config.password) // "<redacted>"
 * ```
 *
 * @category schemas
 * @since 0.1.0
 */
export const PostgresConfig = Schema.Struct(fields).check(
  Schema.makeFilter((config) => {
    const split = SPLIT_FIELDS.filter((key) => config[key] !== undefined)
    if (config.connectionString !== undefined && split.length > 0) {
      return `give either connectionString or ${split.join(", ")}, not both`
    }
    if (config.connectionString === undefined && config.host === undefined) {
      return "give connectionString, or host (with user, password and database as needed)"
    }
    return undefined
  })
)

/**
 * Decoded connection options.
 *
 * @category models
 * @since 0.1.0
 */
export type PostgresConfig = typeof PostgresConfig.Type

/**
 * Validates connection options, failing with a `ConfigError` that names the field (never its value).
 * Unknown keys are refused.
 *
 * @category constructors
 * @since 0.1.0
 */
export const decode = (input: unknown): Effect.Effect<PostgresConfig, Config.ConfigError> =>
  Config.decode("postgres", PostgresConfig, input)

/**
 * `decode` for code that cannot be effectful: throws the `ConfigError`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const decodeSync = (input: unknown): PostgresConfig => Config.decodeSync("postgres", PostgresConfig, input)

const toSsl = (ssl: NonNullable<PostgresConfig["ssl"]>): pg.PoolConfig["ssl"] => {
  if (typeof ssl === "boolean") return ssl
  return {
    ...(ssl.rejectUnauthorized === undefined ? {} : { rejectUnauthorized: ssl.rejectUnauthorized }),
    ...(ssl.ca === undefined ? {} : { ca: ssl.ca }),
    ...(ssl.cert === undefined ? {} : { cert: ssl.cert }),
    ...(ssl.key === undefined ? {} : { key: Redacted.value(ssl.key) }),
    ...(ssl.servername === undefined ? {} : { servername: ssl.servername })
  }
}

/**
 * The `pg.PoolConfig` for these options, with the defaults applied. This is the one place a secret is
 * revealed: the password goes in as a function (so the pool's own options never hold it in plain text), but a
 * `connectionString` and a TLS key are passed as `pg` needs them — never log the result.
 *
 * **Example** (Opening a pool)
 *
 * ```ts
 * import { PostgresConfig } from "@data-mcp/connector-postgres"
 * import { Redacted } from "effect"
 * import pg from "pg"
 *
 * const config = PostgresConfig.decodeSync({ connectionString: Redacted.make("postgres://etl:s3cr3t@db/shop") })
 * const pool = new pg.Pool(PostgresConfig.toPoolConfig(config))
 * ```
 *
 * @category conversions
 * @since 0.1.0
 */
export const toPoolConfig = (config: PostgresConfig): pg.PoolConfig => {
  const password = config.password
  const target: pg.PoolConfig =
    config.connectionString !== undefined
      ? { connectionString: Redacted.value(config.connectionString) }
      : {
          ...(config.host === undefined ? {} : { host: config.host }),
          port: config.port ?? defaults.port,
          ...(config.user === undefined ? {} : { user: config.user }),
          ...(password === undefined ? {} : { password: () => Redacted.value(password) }),
          ...(config.database === undefined ? {} : { database: config.database })
        }
  return {
    ...target,
    ...(config.ssl === undefined ? {} : { ssl: toSsl(config.ssl) }),
    max: config.poolSize ?? defaults.poolSize,
    connectionTimeoutMillis: config.connectTimeoutMs ?? defaults.connectTimeoutMs,
    application_name: config.applicationName ?? defaults.applicationName,
    ...(config.statementTimeoutMs === undefined ? {} : { statement_timeout: config.statementTimeoutMs })
  }
}

/**
 * The schema unqualified table names resolve to: `schema`, or `"public"`.
 *
 * @category getters
 * @since 0.1.0
 */
export const schemaOf = (config: PostgresConfig): string => config.schema ?? defaults.schema
