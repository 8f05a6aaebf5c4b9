/**
 * The options of the REST connector, as Schemas whose fields carry descriptions (the README's options tables are
 * generated from them): where the API is (`baseUrl`, `path`, `query`, `headers`), how to authenticate (`auth`),
 * where the records are in a response (`records`), how to page (`pagination`), how to read incrementally
 * (`incremental`), and the transport's limits (timeout, response size, rate, concurrency, the SSRF guard).
 * Tokens, API keys, passwords and client secrets are `Redacted`, so printing a config never shows them.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

const NonEmpty = Schema.String.check(Schema.isNonEmpty())
const Secret = Schema.Redacted(Schema.String)
const PositiveInt = Schema.Int.check(Schema.isGreaterThan(0))
const NonNegativeInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))
const HttpUrl = Schema.String.check(Schema.isPattern(/^https?:\/\/[^\s/?#]+[^\s]*$/i))

/**
 * `Authorization: Bearer <token>`.
 *
 * @category schemas
 * @since 0.1.0
 */
export const BearerAuth = Schema.Struct({
  type: Schema.Literal("bearer"),
  token: Secret.annotate({ description: "The bearer token (secret)." })
})

/**
 * An API key in a header or a query parameter.
 *
 * @category schemas
 * @since 0.1.0
 */
export const ApiKeyAuth = Schema.Struct({
  type: Schema.Literal("apiKey"),
  name: NonEmpty.annotate({ description: "The header or query parameter name, e.g. X-API-Key or api_key." }),
  in: Schema.Literals(["header", "query"]).annotate({ description: "Where the key goes." }),
  value: Secret.annotate({ description: "The API key (secret)." })
})

/**
 * HTTP Basic authentication.
 *
 * @category schemas
 * @since 0.1.0
 */
export const BasicAuth = Schema.Struct({
  type: Schema.Literal("basic"),
  username: NonEmpty.annotate({ description: "The user name." }),
  password: Secret.annotate({ description: "The password (secret)." })
})

/**
 * OAuth 2.0 client credentials: the token is fetched from `tokenUrl`, cached until shortly before it expires,
 * and fetched again when the API answers 401.
 *
 * @category schemas
 * @since 0.1.0
 */
export const OAuth2Auth = Schema.Struct({
  type: Schema.Literal("oauth2"),
  tokenUrl: HttpUrl.annotate({ description: "The token endpoint (client_credentials grant)." }),
  clientId: NonEmpty.annotate({ description: "The client id." }),
  clientSecret: Secret.annotate({ description: "The client secret (secret)." }),
  scope: Schema.optionalKey(NonEmpty.annotate({ description: "Space-separated scopes to ask for." })),
  audience: Schema.optionalKey(NonEmpty.annotate({ description: "The audience parameter, for APIs that need one." })),
  credentialsIn: Schema.optionalKey(
    Schema.Literals(["basic", "body"]).annotate({
      description: 'How the client authenticates to the token endpoint: "basic" header (default) or form "body".'
    })
  )
})

/**
 * How requests authenticate.
 *
 * @category schemas
 * @since 0.1.0
 */
export const Auth = Schema.Union([BearerAuth, ApiKeyAuth, BasicAuth, OAuth2Auth])

/**
 * A decoded `auth` option.
 *
 * @category models
 * @since 0.1.0
 */
export type Auth = typeof Auth.Type

/**
 * Page numbers: `?page=1`, `?page=2`, … until an empty or short page, or `total` reached.
 *
 * @category schemas
 * @since 0.1.0
 */
export const PagePagination = Schema.Struct({
  type: Schema.Literal("page"),
  param: Schema.optionalKey(NonEmpty.annotate({ description: 'The page parameter (default "page").' })),
  start: Schema.optionalKey(NonNegativeInt.annotate({ description: "The first page number (default 1)." })),
  sizeParam: Schema.optionalKey(NonEmpty.annotate({ description: "The page size parameter, e.g. per_page." })),
  size: Schema.optionalKey(PositiveInt.annotate({ description: "The page size; a shorter page is the last." })),
  totalPath: Schema.optionalKey(NonEmpty.annotate({ description: "Path of the total record count in the body." }))
})

/**
 * Offset and limit: `?offset=0&limit=100`, `?offset=100&limit=100`, … until an empty or short page, or `total`.
 *
 * @category schemas
 * @since 0.1.0
 */
export const OffsetPagination = Schema.Struct({
  type: Schema.Literal("offset"),
  offsetParam: Schema.optionalKey(NonEmpty.annotate({ description: 'The offset parameter (default "offset").' })),
  limitParam: Schema.optionalKey(NonEmpty.annotate({ description: 'The limit parameter (default "limit").' })),
  limit: PositiveInt.annotate({ description: "Records per page; a shorter page is the last." }),
  totalPath: Schema.optionalKey(NonEmpty.annotate({ description: "Path of the total record count in the body." }))
})

/**
 * A cursor (next token) in the body, sent back as a query parameter; no token (or an empty one) ends the read.
 *
 * @category schemas
 * @since 0.1.0
 */
export const CursorPagination = Schema.Struct({
  type: Schema.Literal("cursor"),
  path: NonEmpty.annotate({ description: "Path of the next cursor in the body, e.g. meta.next_cursor." }),
  param: NonEmpty.annotate({ description: "The query parameter the cursor goes back in, e.g. cursor." })
})

/**
 * The URL of the next page in the body (absolute or relative to the current page); none ends the read.
 *
 * @category schemas
 * @since 0.1.0
 */
export const NextUrlPagination = Schema.Struct({
  type: Schema.Literal("nextUrl"),
  path: NonEmpty.annotate({ description: "Path of the next page's URL in the body, e.g. links.next." })
})

/**
 * The RFC 8288 `Link` header's `rel="next"` URL; none ends the read.
 *
 * @category schemas
 * @since 0.1.0
 */
export const LinkPagination = Schema.Struct({ type: Schema.Literal("link") })

/**
 * One request, no pages.
 *
 * @category schemas
 * @since 0.1.0
 */
export const NoPagination = Schema.Struct({ type: Schema.Literal("none") })

/**
 * How the source pages through an endpoint.
 *
 * @category schemas
 * @since 0.1.0
 */
export const Pagination = Schema.Union([
  PagePagination,
  OffsetPagination,
  CursorPagination,
  NextUrlPagination,
  LinkPagination,
  NoPagination
])

/**
 * A decoded `pagination` option.
 *
 * @category models
 * @since 0.1.0
 */
export type Pagination = typeof Pagination.Type

/**
 * An incremental read: each run sends the highest `field` value the last run saw as the query parameter `param`
 * (e.g. `updated_since`), so only newer records come back.
 *
 * @category schemas
 * @since 0.1.0
 */
export const Incremental = Schema.Struct({
  param: NonEmpty.annotate({ description: "The query parameter, e.g. updated_since." }),
  field: NonEmpty.annotate({ description: "The record field (path) whose highest value is kept, e.g. updated_at." }),
  initial: Schema.optionalKey(NonEmpty.annotate({ description: "The value for the first run (default: not sent)." }))
})

/**
 * A token bucket for one host.
 *
 * @category schemas
 * @since 0.1.0
 */
export const Rate = Schema.Struct({
  perSecond: Schema.Number.check(Schema.isGreaterThan(0)).annotate({ description: "Requests per second." }),
  burst: Schema.optionalKey(PositiveInt.annotate({ description: "Requests banked (default: one second's worth)." }))
})

const HeaderMap = Schema.Record(Schema.String, Schema.String)

/** The transport options shared by the source and the sink. */
const connection = {
  baseUrl: HttpUrl.annotate({ description: "The API's base URL, e.g. https://api.example.com/v2." }),
  path: Schema.optionalKey(
    Schema.String.annotate({ description: "The endpoint, appended to baseUrl (default none)." })
  ),
  query: Schema.optionalKey(
    Schema.Record(Schema.String, Schema.Union([Schema.String, Schema.Number, Schema.Boolean])).annotate({
      description: "Query parameters sent with every request."
    })
  ),
  headers: Schema.optionalKey(HeaderMap.annotate({ description: "Headers sent with every request (not secrets)." })),
  auth: Schema.optionalKey(
    Auth.annotate({ description: "bearer, apiKey (header or query), basic or oauth2 (client credentials)." })
  ),
  timeoutMs: Schema.optionalKey(
    PositiveInt.annotate({
      description: "Per-request timeout for the headers and between body chunks (default 30000)."
    })
  ),
  maxResponseBytes: Schema.optionalKey(
    PositiveInt.annotate({ description: "The largest response body read (default 33554432, 32 MiB)." })
  ),
  rateLimit: Schema.optionalKey(Rate.annotate({ description: "A token bucket per host (default: unlimited)." })),
  concurrency: Schema.optionalKey(
    PositiveInt.annotate({ description: "Keep-alive connections per host, and concurrent sink writes (default 4)." })
  ),
  maxRedirects: Schema.optionalKey(
    NonNegativeInt.annotate({ description: "Redirects followed, each checked by the SSRF guard (default 5)." })
  ),
  allowPrivateNetworks: Schema.optionalKey(
    Schema.Boolean.annotate({
      description: "Allow loopback, link-local, private and metadata addresses (default false: refused on every hop)."
    })
  ),
  allowHosts: Schema.optionalKey(
    Schema.Array(NonEmpty).annotate({ description: "Host names or IP addresses allowed even when private." })
  ),
  name: Schema.optionalKey(NonEmpty.annotate({ description: 'The name in errors and logs (default "rest").' }))
}

/**
 * The options of the REST source.
 *
 * **Example** (A cursor-paginated endpoint with a bearer token)
 *
 * ```ts
 * import { RestConfig } from "@data-mcp/connector-rest"
 * import { Redacted } from "effect"
 *
 * const config: RestConfig.SourceConfig = {
 *   baseUrl: "https://api.example.com/v1",
 *   path: "/orders",
 *   auth: { type: "bearer", token: Redacted.make("…") },
 *   records: "data",
 *   pagination: { type: "cursor", path: "next_cursor", param: "cursor" }
 * }
 * ```
 *
 * @category schemas
 * @since 0.1.0
 */
export const SourceConfig = Schema.Struct({
  ...connection,
  records: Schema.optionalKey(
    Schema.String.annotate({
      description: 'Path of the records array in the body, e.g. "data.items" (default: the body).'
    })
  ),
  pagination: Schema.optionalKey(
    Pagination.annotate({ description: "page, offset, cursor, nextUrl, link or none (default none)." })
  ),
  primaryKey: Schema.optionalKey(
    Schema.Array(NonEmpty).annotate({
      description: "The fields that identify a record (for discover and merge sinks)."
    })
  ),
  incremental: Schema.optionalKey(
    Incremental.annotate({ description: "Read only records changed since the last run (param + field)." })
  ),
  stream: Schema.optionalKey(NonEmpty.annotate({ description: 'The stream name of the batches (default "default").' }))
})

/**
 * The decoded options of the REST source.
 *
 * @category models
 * @since 0.1.0
 */
export type SourceConfig = typeof SourceConfig.Type

/**
 * The options of the REST sink.
 *
 * @category schemas
 * @since 0.1.0
 */
export const SinkConfig = Schema.Struct({
  ...connection,
  method: Schema.optionalKey(Schema.Literals(["POST", "PUT", "PATCH"]).annotate({ description: "Default POST." })),
  batchSize: Schema.optionalKey(
    PositiveInt.annotate({
      description: "Records per request, sent as a JSON array (default: one record per request, sent as an object)."
    })
  ),
  wrap: Schema.optionalKey(
    NonEmpty.annotate({ description: 'Send a batch as {"<wrap>": [...]} instead of a bare array.' })
  ),
  onBatchRejected: Schema.optionalKey(
    Schema.Literals(["fail", "split"]).annotate({
      description:
        'When the API refuses a batch with 400/409/422: "fail" the write (default), or "split" it and send its records one by one, refused ones becoming dead letters (only for APIs that apply a refused batch not at all).'
    })
  ),
  idempotencyKey: Schema.optionalKey(
    Schema.Union([Schema.Boolean, NonEmpty]).annotate({
      description:
        "Send an idempotency key derived from the batch's checkpoint range: true (header Idempotency-Key, the default), a header name, or false. Without one, a write that times out fails with DeliveryUnknown."
    })
  )
})

/**
 * The decoded options of the REST sink.
 *
 * @category models
 * @since 0.1.0
 */
export type SinkConfig = typeof SinkConfig.Type

/**
 * The defaults for options left out.
 *
 * @category constants
 * @since 0.1.0
 */
export const defaults = {
  timeoutMs: 30_000,
  maxResponseBytes: 32 * 1024 * 1024,
  concurrency: 4,
  maxRedirects: 5,
  name: "rest",
  stream: "default"
} as const
