/**
 * The `mysql` connector definition, so pipeline specs can name MySQL / MariaDB by kind: a `source` over
 * `MysqlSource.make` (tables) and a `sink` over `MysqlSink.make`. The password stays `Redacted`: in a spec,
 * `connection.password` and `connection.ssl.key` must be `{ secret: NAME }`.
 *
 * @since 0.1.0
 */
import { Connector } from "@data-mcp/core"
import { Effect, Schema } from "effect"
import * as Pool from "./internal/pool.ts"
import * as MysqlConfig from "./MysqlConfig.ts"
import * as MysqlSink from "./MysqlSink.ts"
import * as MysqlSource from "./MysqlSource.ts"
import { sql } from "./Sql.ts"

const Name = Schema.String.check(Schema.isNonEmpty()).check(Schema.isMaxLength(64))

/**
 * One table the source reads (`MysqlSource.StreamOptions`; query streams are for code, not specs).
 *
 * @category schemas
 * @since 0.1.0
 */
export const StreamConfig = Schema.Struct({
  table: Schema.Union([Name, Schema.Tuple([Name, Name])]).annotate({
    description: "The table: a name in the connection's database, or [database, table]."
  }),
  cursor: Schema.optionalKey(
    Name.annotate({
      description: "The incremental cursor column (an updated_at, a sequence); absent: a snapshot by key."
    })
  ),
  key: Name.annotate({ description: "The primary key column: orders the read and breaks ties between equal cursors." }),
  columns: Schema.optionalKey(
    Schema.Array(Name).check(Schema.isMinLength(1)).annotate({ description: "The columns to read (default: all)." })
  ),
  onNull: Schema.optionalKey(
    Schema.Literals(["skip", "include-first"]).annotate({
      description:
        'Rows whose cursor is NULL: "skip" (default) never reads them; "include-first" reads them first, by key, then the valued rows.'
    })
  ),
  chunks: Schema.optionalKey(
    Schema.Struct({
      rows: Schema.optionalKey(
        Schema.Int.check(Schema.isGreaterThan(0)).annotate({ description: "Rows per key range (default 50000)." })
      ),
      concurrency: Schema.optionalKey(
        Schema.Int.check(Schema.isGreaterThan(0)).annotate({
          description: "Key ranges read at once, each on its own connection (default 2; the pool needs one more)."
        })
      )
    }).annotate({
      description: "Read a snapshot (no cursor) as key ranges, several at a time, one checkpoint after every batch."
    })
  )
})

/**
 * The options of the `mysql` source: they decode into `MysqlSource.MysqlSourceOptions`.
 *
 * @category schemas
 * @since 0.1.0
 */
export const SourceConfig = Schema.Struct({
  connection: MysqlConfig.MysqlConfig.annotate({
    description: "Where the server is: the MysqlConfig connection options."
  }),
  streams: Schema.Array(StreamConfig)
    .check(Schema.isMinLength(1))
    .annotate({ description: "The tables to read; at least one." }),
  batchSize: Schema.optionalKey(
    Schema.Int.check(Schema.isGreaterThan(0)).annotate({
      description: "Rows per batch (default: the runner's batch size)."
    })
  ),
  name: Schema.optionalKey(
    Schema.String.check(Schema.isNonEmpty()).annotate({
      description: 'The source name in errors and logs (default "mysql").'
    })
  )
})

/**
 * The options of the `mysql` sink: `MysqlSink.SinkOptions`.
 *
 * @category schemas
 * @since 0.1.0
 */
export const SinkConfig = MysqlSink.SinkOptions

/** Opens a connection and runs `select 1`: the server is reachable and the credentials are accepted. */
const ping = (connection: MysqlConfig.MysqlConfig) =>
  Effect.scoped(
    Effect.flatMap(Pool.pool({ ...connection, poolSize: 1 }), (pool) =>
      Effect.asVoid(Pool.query(pool, sql`select 1`, "check"))
    )
  )

/**
 * MySQL / MariaDB as a connector: `source` (`SourceConfig`, ordered keyset reads per table) and `sink`
 * (`SinkConfig`, multi-row INSERTs, exactly-once when transactional). `check` connects and runs `select 1`.
 *
 * **Example** (A catalog with MySQL)
 *
 * ```ts
 * import { MysqlConnector } from "@data-mcp/connector-mysql"
 * import { ConnectorCatalog } from "@data-mcp/core"
 *
 * const catalog = ConnectorCatalog.builtins.with(MysqlConnector.mysql)
 * // sink: { kind: mysql, options: { connection: { host: db, user: etl, password: { secret: MYSQL_PASSWORD }, database: shop }, … } }
 * ```
 *
 * @category connectors
 * @since 0.1.0
 */
export const mysql = Connector.make({
  kind: "mysql",
  description:
    "MySQL and MariaDB tables: read incrementally by cursor and key; written with batched INSERTs, exactly-once by default.",
  source: { config: SourceConfig, make: (config) => MysqlSource.make(config) },
  sink: { config: SinkConfig, make: MysqlSink.make },
  check: (target) => ping(target.config.connection)
})
