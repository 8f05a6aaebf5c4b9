/**
 * `@data-mcp/connector-mysql`: MySQL and MariaDB for data-mcp pipelines — a streamed keyset source with
 * incremental cursors, an exactly-once batched-INSERT sink (append, replace, merge), and the building blocks
 * under them: the error classification, the `sql` tagged template and the lossless codec.
 *
 * @since 0.1.0
 */
export * as MysqlCodec from "./MysqlCodec.ts"
export * as MysqlConfig from "./MysqlConfig.ts"
export * as MysqlConnector from "./MysqlConnector.ts"
export * as MysqlError from "./MysqlError.ts"
export * as MysqlSink from "./MysqlSink.ts"
export * as MysqlSource from "./MysqlSource.ts"
export * as Sql from "./Sql.ts"
