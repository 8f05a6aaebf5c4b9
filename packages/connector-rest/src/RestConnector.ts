/**
 * The `rest` connector definition — a generic REST source and sink configured entirely by options — and
 * `defineRestConnector`, which turns a SaaS API into a connector of its own kind with a small declaration: its
 * base URL, its endpoints (path, records selector, pagination, primary key, incremental parameter) and how it
 * takes writes. The user's config then only names a stream and gives credentials (`Redacted`; in a spec,
 * `{ secret: NAME }`).
 *
 * @since 0.1.0
 */
import { Connector } from "@data-mcp/core"
import { Effect, Schema } from "effect"
import * as RestConfig from "./RestConfig.ts"
import * as RestSink from "./RestSink.ts"
import * as RestSource from "./RestSource.ts"

const check = (target: Connector.CheckTarget<RestConfig.SourceConfig, RestConfig.SinkConfig>) => {
  if (target.role === "source") {
    const source = RestSource.make(target.config)
    return source.check === undefined ? Effect.void : source.check()
  }
  const sink = RestSink.make(target.config)
  return sink.check === undefined ? Effect.void : sink.check()
}

/**
 * The generic `rest` connector: `RestConfig.SourceConfig` for the source, `RestConfig.SinkConfig` for the sink.
 *
 * @category connectors
 * @since 0.1.0
 */
export const rest = Connector.make<RestConfig.SourceConfig, RestConfig.SinkConfig>({
  kind: "rest",
  description: "A REST API: paginated JSON reads, JSON writes with idempotency keys",
  source: { config: RestConfig.SourceConfig, make: RestSource.make },
  sink: { config: RestConfig.SinkConfig, make: RestSink.make },
  check,
  discover: (config) => RestSource.make(config).discover?.() ?? Effect.succeed([])
})

/**
 * One endpoint of a declared API: what `RestConfig.SourceConfig` says about an endpoint.
 *
 * @category models
 * @since 0.1.0
 */
export type StreamDeclaration = Pick<
  RestConfig.SourceConfig,
  "path" | "query" | "records" | "pagination" | "primaryKey" | "incremental"
>

/**
 * How a declared API takes writes.
 *
 * @category models
 * @since 0.1.0
 */
export type SinkDeclaration = Pick<
  RestConfig.SinkConfig,
  "path" | "query" | "method" | "batchSize" | "wrap" | "idempotencyKey"
>

/**
 * A SaaS API declared as data.
 *
 * @category models
 * @since 0.1.0
 */
export interface RestConnectorDeclaration<S extends string> {
  /** The connector's kind (lowercase). */
  readonly kind: string
  readonly description?: string | undefined
  /** The production base URL; a user's config may override it (a sandbox, a test server). */
  readonly baseUrl: string
  /** Headers every request sends (an API version, a user agent); never secrets. */
  readonly headers?: Readonly<Record<string, string>> | undefined
  /** The API's documented rate, as a token bucket per host (a user's config may lower it). */
  readonly rateLimit?: RestConfig.SourceConfig["rateLimit"]
  /** The endpoints the source reads, by stream name. */
  readonly streams: Readonly<Record<S, StreamDeclaration>>
  /** The endpoint the sink writes, if the connector writes. */
  readonly sink?: SinkDeclaration | undefined
}

const userFields = {
  auth: RestConfig.Auth.annotate({ description: "The credentials: bearer, apiKey, basic or oauth2." }),
  baseUrl: Schema.optionalKey(RestConfig.SourceConfig.fields.baseUrl),
  timeoutMs: RestConfig.SourceConfig.fields.timeoutMs,
  rateLimit: RestConfig.SourceConfig.fields.rateLimit,
  concurrency: RestConfig.SourceConfig.fields.concurrency,
  allowPrivateNetworks: RestConfig.SourceConfig.fields.allowPrivateNetworks,
  allowHosts: RestConfig.SourceConfig.fields.allowHosts,
  name: RestConfig.SourceConfig.fields.name
}

/**
 * Makes a connector for a REST API from a declaration: its source config is `{ stream, auth, … }`, its sink
 * config `{ auth, … }` (when the declaration has a `sink`).
 *
 * **Example** (A CRM with two endpoints)
 *
 * ```ts
 * import { defineRestConnector } from "@data-mcp/connector-rest"
 *
 * export const crm = defineRestConnector({
 *   kind: "crm",
 *   baseUrl: "https://api.crm.example/v1",
 *   streams: {
 *     accounts: {
 *       path: "/accounts",
 *       records: "records",
 *       pagination: { type: "nextUrl", path: "nextRecordsUrl" },
 *       primaryKey: ["Id"],
 *       incremental: { param: "modified_since", field: "LastModifiedDate" }
 *     }
 *   }
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const defineRestConnector = <S extends string>(declaration: RestConnectorDeclaration<S>) => {
  const names = Object.keys(declaration.streams) as Array<S>
  const SourceConfig = Schema.Struct({
    stream: Schema.Literals(names as unknown as readonly [S, ...Array<S>]).annotate({
      description: `The endpoint to read: ${names.join(", ")}.`
    }),
    ...userFields
  })
  const SinkConfig = Schema.Struct(userFields)
  type UserConfig = typeof SinkConfig.Type
  const common = (user: UserConfig) => ({
    ...user,
    baseUrl: user.baseUrl ?? declaration.baseUrl,
    ...(declaration.headers === undefined ? {} : { headers: { ...declaration.headers } }),
    ...(user.rateLimit === undefined && declaration.rateLimit !== undefined
      ? { rateLimit: declaration.rateLimit }
      : {}),
    name: user.name ?? declaration.kind
  })
  const sourceConfig = (user: typeof SourceConfig.Type): RestConfig.SourceConfig => {
    const { stream, ...rest } = user
    return { ...common(rest), ...declaration.streams[stream], stream }
  }
  const sinkDeclaration = declaration.sink
  const sinkConfig = (user: UserConfig): RestConfig.SinkConfig => ({ ...common(user), ...sinkDeclaration })
  return Connector.make<typeof SourceConfig.Type, UserConfig>({
    kind: declaration.kind,
    description: declaration.description,
    source: { config: SourceConfig, make: (user) => RestSource.make(sourceConfig(user)) },
    ...(sinkDeclaration === undefined
      ? {}
      : { sink: { config: SinkConfig, make: (user: UserConfig) => RestSink.make(sinkConfig(user)) } }),
    check: (target) =>
      target.role === "source"
        ? check({ role: "source", config: sourceConfig(target.config) })
        : check({ role: "sink", config: sinkConfig(target.config) }),
    discover: () =>
      Effect.succeed(
        names.map((name) => ({
          name,
          description: `GET ${declaration.streams[name].path ?? "/"}${declaration.streams[name].primaryKey === undefined ? "" : ` (key: ${declaration.streams[name].primaryKey!.join(", ")})`}`
        }))
      )
  })
}
