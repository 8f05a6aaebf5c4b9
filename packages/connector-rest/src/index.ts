/**
 * `@data-mcp/connector-rest`: REST APIs for data-mcp pipelines — a paginated JSON source (page, offset, cursor,
 * next URL, `Link` header; incremental parameters), a JSON sink with idempotency keys, bearer / API key / Basic /
 * OAuth 2.0 client-credentials auth, retries with `Retry-After`, a token bucket per host, an SSRF guard on every
 * hop, and `defineRestConnector` for SaaS connectors built as a small declaration. Runs on undici.
 *
 * @since 0.1.0
 */
export * as RestConfig from "./RestConfig.ts"
export * as RestConnector from "./RestConnector.ts"
export { defineRestConnector, rest } from "./RestConnector.ts"
export * as RestError from "./RestError.ts"
export * as RestSink from "./RestSink.ts"
export * as RestSource from "./RestSource.ts"
