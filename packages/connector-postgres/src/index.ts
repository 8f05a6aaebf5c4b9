/**
 * `@data-mcp/connector-postgres`: PostgreSQL for data-mcp pipelines. This first cut holds the building blocks the
 * source, sink and state stores stand on: the SQLSTATE error classification, the `sql` tagged template and the
 * lossless COPY text codec.
 *
 * @since 0.1.0
 */
export * as PostgresCodec from "./PostgresCodec.ts"
export * as PostgresConfig from "./PostgresConfig.ts"
export * as PostgresError from "./PostgresError.ts"
export * as Sql from "./Sql.ts"
