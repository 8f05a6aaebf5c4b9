/**
 * `@data-mcp/connector-postgres`: PostgreSQL for data-mcp pipelines — a keyset-paginated COPY source with
 * incremental cursors, an exactly-once COPY sink, Postgres-backed state and run stores, and the building blocks
 * under them: the SQLSTATE error classification, the `sql` tagged template and the lossless COPY text codec.
 *
 * @since 0.1.0
 */
export * as PostgresCodec from "./PostgresCodec.ts"
export * as PostgresConfig from "./PostgresConfig.ts"
export * as PostgresConnector from "./PostgresConnector.ts"
export * as PostgresDeadLetterStore from "./PostgresDeadLetterStore.ts"
export * as PostgresError from "./PostgresError.ts"
export * as PostgresRegistryStore from "./PostgresRegistryStore.ts"
export * as PostgresRunStore from "./PostgresRunStore.ts"
export * as PostgresSink from "./PostgresSink.ts"
export * as PostgresSource from "./PostgresSource.ts"
export * as PostgresStateStore from "./PostgresStateStore.ts"
export * as Sql from "./Sql.ts"
