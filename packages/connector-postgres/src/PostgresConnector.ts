/**
 * The `postgres` connector definition, so pipeline specs can name PostgreSQL by kind: a `source` over
 * `PostgresSource.make` and a `sink` over `PostgresSink.make`. Connection secrets stay `Redacted`: in a spec,
 * `connection.password`, `connection.connectionString` and `connection.ssl.key` must be `{ secret: NAME }`.
 *
 * @since 0.1.0
 */
import { Connector } from "@data-mcp/core"
import { Effect, Schema } from "effect"
import * as Pool from "./internal/pool.ts"
import * as PostgresConfig from "./PostgresConfig.ts"
import * as PostgresSink from "./PostgresSink.ts"
import * as PostgresSource from "./PostgresSource.ts"
import { sql } from "./Sql.ts"

const Name = Schema.String.check(Schema.isNonEmpty()).check(Schema.isMaxLength(63))

const PositiveInt = Schema.Int.check(Schema.isGreaterThan(0))

/**
 * How a snapshot is chunked (`PostgresSource.ChunkOptions`).
 *
 * @category schemas
 * @since 0.1.0
 */
export const ChunksConfig = Schema.Struct({
  rows: Schema.optionalKey(
    PositiveInt.annotate({
      description:
        "Rows per chunk (default 50000); for a table without a key, the heap pages holding about as many. Memory holds up to concurrency chunks."
    })
  ),
  concurrency: Schema.optionalKey(
    PositiveInt.annotate({
      description: "Chunks read at once, each on its own connection (default 2); the pool needs concurrency + 1."
    })
  )
})

/**
 * One table the source reads (`PostgresSource.StreamOptions`). Query streams are code only: a spec never carries
 * SQL.
 *
 * @category schemas
 * @since 0.1.0
 */
export const StreamConfig = Schema.Struct({
  table: Schema.Union([Name, Schema.Tuple([Name, Name])]).annotate({
    description: "The table: a name in the connection's schema, or [schema, table]."
  }),
  cursor: Schema.optionalKey(
    Name.annotate({
      description: "The incremental cursor column (an updated_at, a sequence); absent: a snapshot paged by key."
    })
  ),
  key: Schema.optionalKey(
    Name.annotate({
      description:
        "The primary key column: pages by it and breaks ties between equal cursors. Absent (no cursor either): the table is read by CTID ranges."
    })
  ),
  columns: Schema.optionalKey(
    Schema.Array(Name).check(Schema.isMinLength(1)).annotate({ description: "The columns to read (default: all)." })
  ),
  chunks: Schema.optionalKey(
    ChunksConfig.annotate({
      description:
        "Read a snapshot (no cursor) as chunks, several at once on their own connections in one snapshot: { rows, concurrency }."
    })
  )
})

/**
 * The options of the `postgres` source: they decode into `PostgresSource.PostgresSourceOptions`.
 *
 * @category schemas
 * @since 0.1.0
 */
export const SourceConfig = Schema.Struct({
  connection: PostgresConfig.PostgresConfig.annotate({
    description: "Where the server is: the PostgresConfig connection options."
  }),
  streams: Schema.Array(StreamConfig)
    .check(Schema.isMinLength(1))
    .annotate({ description: "The tables to read; at least one." }),
  batchSize: Schema.optionalKey(
    Schema.Int.check(Schema.isGreaterThan(0)).annotate({
      description:
        "Rows per page, one COPY each (default: 10,000; the runner joins pages' groups into its batches); the next page is read while the current one is handed over."
    })
  ),
  name: Schema.optionalKey(
    Schema.String.check(Schema.isNonEmpty()).annotate({
      description: 'The source name in errors and logs (default "postgres").'
    })
  )
})

/**
 * The options of the `postgres` sink: `PostgresSink.SinkOptions`.
 *
 * @category schemas
 * @since 0.1.0
 */
export const SinkConfig = PostgresSink.SinkOptions

/** Opens a connection and runs `select 1`: the server is reachable and the credentials are accepted. */
const ping = (connection: PostgresConfig.PostgresConfig) =>
  Effect.scoped(
    Effect.flatMap(Pool.pool({ ...connection, poolSize: 1 }), (pool) =>
      Effect.asVoid(Pool.query(pool, sql`select 1`, "check"))
    )
  )

/**
 * PostgreSQL as a connector: `source` (`SourceConfig`, keyset pages per table) and `sink` (`SinkConfig`, COPY
 * into a table, exactly-once when transactional). `check` connects and runs `select 1`.
 *
 * **Example** (A catalog with PostgreSQL)
 *
 * ```ts
 * import { PostgresConnector } from "@data-mcp/connector-postgres"
 * import { ConnectorCatalog } from "@data-mcp/core"
 *
 * const catalog = ConnectorCatalog.builtins.with(PostgresConnector.postgres)
 * // sink: { kind: postgres, options: { connection: { host: db, user: etl, password: { secret: PG_PASSWORD } }, … } }
 * ```
 *
 * @category connectors
 * @since 0.1.0
 */
export const postgres = Connector.make({
  kind: "postgres",
  description: "PostgreSQL tables: read incrementally by cursor and key; written with COPY, exactly-once by default.",
  source: {
    config: SourceConfig,
    make: (config) => PostgresSource.make(config)
  },
  sink: { config: SinkConfig, make: PostgresSink.make },
  check: (target) => ping(target.config.connection)
})
