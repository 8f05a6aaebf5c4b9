/**
 * The REST source reads one endpoint page after page. Each page is a batch whose checkpoint is the position of
 * the next page (a page number, an offset, a cursor or a next URL), so a resumed run starts at the first page
 * not yet written and every record is read once. With `incremental`, a run sends the highest value of a field
 * the previous run saw (`updated_since=…`) and the final checkpoint carries the new high-water mark. Records
 * that are not JSON objects become dead letters; a body that is not JSON, or has no records array where the
 * config says, fails the read with a clear error (a malformed body is retried, as truncated responses are
 * usually transient).
 *
 * @since 0.1.0
 */
import { Batch, ConnectorError, Source } from "@data-mcp/core"
import { Effect, Option, Schema, Stream } from "effect"
import * as Auth from "./internal/auth.ts"
import * as Http from "./internal/http.ts"
import * as Json from "./internal/json.ts"
import * as RestConfig from "./RestConfig.ts"
import * as RestError from "./RestError.ts"

/**
 * The source's position. In progress: `page` is the next page's position (absent: the first page), `since` the
 * incremental value this pass sends and `high` the highest value seen so far. Finished: `done` with the
 * high-water mark; an incremental source starts its next pass from it, a full read stays finished.
 *
 * @category schemas
 * @since 0.1.0
 */
export const Checkpoint = Schema.Struct({
  page: Schema.optionalKey(Schema.Union([Schema.Number, Schema.String])),
  since: Schema.optionalKey(Schema.String),
  high: Schema.optionalKey(Schema.String),
  done: Schema.optionalKey(Schema.Boolean)
})

/**
 * A decoded source position.
 *
 * @category models
 * @since 0.1.0
 */
export type Checkpoint = typeof Checkpoint.Type

/**
 * The options `make` takes (`RestConfig.SourceConfig`).
 *
 * @category models
 * @since 0.1.0
 */
export type Options = RestConfig.SourceConfig

/**
 * A record: a JSON object as the API returned it.
 *
 * @category models
 * @since 0.1.0
 */
export type Record = { readonly [key: string]: unknown }

/**
 * The URL a source reads first or a sink writes to: `baseUrl` + `path` + `query`.
 *
 * @category utils
 * @since 0.1.0
 */
export const baseRequestUrl = (config: RestConfig.SourceConfig | RestConfig.SinkConfig): URL => {
  const base = config.baseUrl.endsWith("/") ? config.baseUrl.slice(0, -1) : config.baseUrl
  const path =
    config.path === undefined || config.path === "" ? "" : config.path.startsWith("/") ? config.path : `/${config.path}`
  const url = new URL(`${base}${path}`)
  for (const [k, v] of Object.entries(config.query ?? {})) url.searchParams.set(k, String(v))
  return url
}

/**
 * The transport settings of a config: timeouts, limits, the SSRF policy, the per-host token buckets and the
 * authenticator, shared by every run of one source or sink instance.
 *
 * @category utils
 * @since 0.1.0
 */
export const settingsOf = (config: RestConfig.SourceConfig | RestConfig.SinkConfig): Http.Settings => {
  const connector = config.name ?? RestConfig.defaults.name
  return {
    connector,
    timeoutMs: config.timeoutMs ?? RestConfig.defaults.timeoutMs,
    maxResponseBytes: config.maxResponseBytes ?? RestConfig.defaults.maxResponseBytes,
    concurrency: config.concurrency ?? RestConfig.defaults.concurrency,
    maxRedirects: config.maxRedirects ?? RestConfig.defaults.maxRedirects,
    policy: {
      allowPrivateNetworks: config.allowPrivateNetworks === true,
      allowHosts: (config.allowHosts ?? []).map((h) => h.toLowerCase().replace(/^\[|\]$/g, ""))
    },
    rate: config.rateLimit,
    limiters: new Map(),
    auth: Auth.make(config.auth, connector),
    secretQuery: config.auth?.type === "apiKey" && config.auth.in === "query" ? config.auth.name : undefined,
    headers: config.headers
  }
}

/** Orders incremental values: numbers numerically, anything else as strings (ISO 8601 sorts as text). */
const higher = (a: string | undefined, b: unknown): string | undefined => {
  if (b === undefined || b === null) return a
  const text = typeof b === "string" ? b : typeof b === "number" || typeof b === "bigint" ? String(b) : undefined
  if (text === undefined) return a
  if (a === undefined) return text
  const [x, y] = [Number(a), Number(text)]
  if (typeof b !== "string" && Number.isFinite(x) && Number.isFinite(y)) return y > x ? text : a
  return text > a ? text : a
}

interface Page {
  readonly records: ReadonlyArray<Record | Source.InvalidRecord>
  readonly next: Option.Option<number | string>
  readonly high: string | undefined
  /** The body's size: the runner batches by bytes without estimating them again. */
  readonly bytes: number
}

/**
 * Makes the REST source from a decoded config.
 *
 * **Example** (Reading a page-numbered endpoint)
 *
 * ```ts
 * import { RestSource } from "@data-mcp/connector-rest"
 *
 * const source = RestSource.make({
 *   baseUrl: "https://api.example.com",
 *   path: "/v1/customers",
 *   records: "data",
 *   pagination: { type: "page", size: 100, sizeParam: "per_page" }
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (config: RestConfig.SourceConfig): Source.Source<Record | Source.InvalidRecord, Checkpoint> => {
  const settings = settingsOf(config)
  const connector = settings.connector
  const pagination: RestConfig.Pagination = config.pagination ?? { type: "none" }
  const stream = config.stream ?? RestConfig.defaults.stream
  const start = baseRequestUrl(config)
  const incremental = config.incremental
  const secretQuery = settings.secretQuery

  /** A next URL as stored in a checkpoint: never with an API key in its query. */
  const storable = (url: URL): string => {
    if (secretQuery !== undefined) url.searchParams.delete(secretQuery)
    return url.href
  }

  const fail = (reason: ConnectorError.Reason) => Effect.fail(RestError.make(connector, "read", reason))

  const urlFor = (position: number | string | undefined, since: string | undefined): URL => {
    const first = position === undefined
    const url =
      (pagination.type === "nextUrl" || pagination.type === "link") && typeof position === "string"
        ? new URL(position)
        : new URL(start)
    if (first || (pagination.type !== "nextUrl" && pagination.type !== "link")) {
      if (incremental !== undefined && since !== undefined) url.searchParams.set(incremental.param, since)
    }
    switch (pagination.type) {
      case "page":
        url.searchParams.set(pagination.param ?? "page", String(position ?? pagination.start ?? 1))
        if (pagination.sizeParam !== undefined && pagination.size !== undefined)
          url.searchParams.set(pagination.sizeParam, String(pagination.size))
        break
      case "offset":
        url.searchParams.set(pagination.offsetParam ?? "offset", String(position ?? 0))
        url.searchParams.set(pagination.limitParam ?? "limit", String(pagination.limit))
        break
      case "cursor":
        if (position !== undefined) url.searchParams.set(pagination.param, String(position))
        break
    }
    return url
  }

  const fetchPage = (
    client: Http.Client,
    position: number | string | undefined,
    since: string | undefined,
    high: string | undefined
  ) =>
    Effect.gen(function* () {
      const url = urlFor(position, since)
      const response = yield* Http.expectOk(
        connector,
        "read",
        "GET",
        yield* client.send({ method: "GET", url }, "read")
      )
      const request = Http.label("GET", url)
      let body: unknown
      try {
        body = JSON.parse(response.body)
      } catch (cause) {
        return yield* fail(
          new ConnectorError.Unknown({
            detail: `${request}: the response body is not valid JSON (${Buffer.byteLength(response.body)} bytes; ${cause instanceof SyntaxError ? cause.message.replace(/"[^"]*"/g, "…") : "parse error"})`,
            transient: true
          })
        )
      }
      const found = Json.select(body, config.records)
      if (!Array.isArray(found)) {
        return yield* fail(
          new ConnectorError.Unknown({
            detail: `${request}: expected an array of records at ${config.records === undefined || config.records === "" ? "the body's top level" : `"${config.records}"`}, found ${Json.kindOf(found)}: check the records option`
          })
        )
      }
      // The array is used as it is when every item is an object (the usual case); only a page with a bad item
      // is copied, with invalid-record placeholders in place of the bad ones.
      let records = found as Array<Record | Source.InvalidRecord>
      let highest = high
      for (let i = 0; i < found.length; i++) {
        const item: unknown = found[i]
        if (typeof item !== "object" || item === null || Array.isArray(item)) {
          if (records === found) records = found.slice(0, i)
          records.push(
            Source.invalidRecord(
              `record ${i} of ${request} is ${Json.kindOf(item)}, not an object`,
              JSON.stringify(item) ?? String(item)
            )
          )
          continue
        }
        if (incremental !== undefined) highest = higher(highest, Json.select(item, incremental.field))
        if (records !== found) records.push(item as Record)
      }
      const next = yield* nextPosition(position, found.length, body, response, request)
      const declared = Number(response.headers["content-length"])
      const bytes = Number.isFinite(declared) ? declared : Buffer.byteLength(response.body)
      return { records, next, high: highest, bytes } satisfies Page
    })

  const nextPosition = (
    position: number | string | undefined,
    count: number,
    body: unknown,
    response: Http.Response,
    request: string
  ): Effect.Effect<Option.Option<number | string>, ConnectorError.ConnectorError> => {
    const total = (path: string | undefined) => {
      const t = path === undefined ? undefined : Number(Json.select(body, path))
      return t !== undefined && Number.isFinite(t) ? t : undefined
    }
    switch (pagination.type) {
      case "page": {
        const first = pagination.start ?? 1
        const page = typeof position === "number" ? position : first
        const size = pagination.size ?? count
        const t = total(pagination.totalPath)
        if (count === 0 || (pagination.size !== undefined && count < pagination.size))
          return Effect.succeed(Option.none())
        if (t !== undefined && (page - first + 1) * size >= t) return Effect.succeed(Option.none())
        return Effect.succeed(Option.some(page + 1))
      }
      case "offset": {
        const offset = typeof position === "number" ? position : 0
        const t = total(pagination.totalPath)
        if (count === 0 || count < pagination.limit) return Effect.succeed(Option.none())
        if (t !== undefined && offset + count >= t) return Effect.succeed(Option.none())
        return Effect.succeed(Option.some(offset + count))
      }
      case "cursor": {
        const value = Json.select(body, pagination.path)
        const cursor =
          typeof value === "number" ? String(value) : typeof value === "string" && value !== "" ? value : undefined
        if (cursor === undefined) return Effect.succeed(Option.none())
        if (cursor === position)
          return fail(new ConnectorError.Unknown({ detail: `${request}: the next cursor repeats the current one` }))
        return Effect.succeed(Option.some(cursor))
      }
      case "nextUrl":
      case "link": {
        const value =
          pagination.type === "link" ? Json.nextLink(response.headers.link) : Json.select(body, pagination.path)
        if (typeof value !== "string" || value === "") return Effect.succeed(Option.none())
        let next: URL
        try {
          next = new URL(value, response.url)
        } catch {
          return fail(new ConnectorError.Unknown({ detail: `${request}: the next page's URL is not a URL` }))
        }
        if (next.protocol !== "http:" && next.protocol !== "https:")
          return fail(new ConnectorError.Unknown({ detail: `${request}: the next page's URL is not http(s)` }))
        const href = storable(next)
        if (href === position)
          return fail(new ConnectorError.Unknown({ detail: `${request}: the next page's URL repeats the current one` }))
        return Effect.succeed(Option.some(href))
      }
      case "none":
        return Effect.succeed(Option.none())
    }
  }

  const read = (
    from: Checkpoint | undefined
  ): Stream.Stream<Batch.Batch<Record | Source.InvalidRecord, Checkpoint>, ConnectorError.ConnectorError> => {
    if (from?.done === true && incremental === undefined) return Stream.empty
    const restart = from === undefined || from.done === true
    const since = restart ? (from?.high ?? incremental?.initial) : from.since
    const high0 = restart ? since : from.high
    const position0 = restart ? undefined : from.page
    const mark = (high: string | undefined) => ({
      ...(incremental !== undefined && since !== undefined ? { since } : {}),
      ...(incremental !== undefined && high !== undefined ? { high } : {})
    })
    type State = { readonly position: number | string | undefined; readonly high: string | undefined }
    return Stream.unwrap(
      Effect.map(Http.open(settings), (client) =>
        Stream.paginate<State, Batch.Batch<Record | Source.InvalidRecord, Checkpoint>, ConnectorError.ConnectorError>(
          { position: position0, high: high0 },
          (state) =>
            Effect.map(fetchPage(client, state.position, since, state.high), (page) => {
              const checkpoint: Checkpoint = Option.isSome(page.next)
                ? { page: page.next.value, ...mark(page.high) }
                : { done: true, ...(incremental !== undefined && page.high !== undefined ? { high: page.high } : {}) }
              const batch = Batch.make(page.records, { stream, checkpoint, bytes: page.bytes })
              return [[batch], Option.map(page.next, (position) => ({ position, high: page.high }))] as const
            })
        )
      )
    )
  }

  return Source.make({
    name: connector,
    checkpointSchema: Checkpoint as unknown as Source.Source<Record, Checkpoint>["checkpointSchema"],
    read,
    check: () =>
      Effect.scoped(
        Effect.flatMap(Http.open(settings), (client) =>
          Effect.flatMap(client.send({ method: "GET", url: urlFor(undefined, incremental?.initial) }, "check"), (r) =>
            Effect.asVoid(Http.expectOk(connector, "check", "GET", r))
          )
        )
      ),
    discover: () =>
      Effect.succeed([
        {
          name: stream,
          description: `GET ${start.pathname}${config.primaryKey === undefined ? "" : ` (key: ${config.primaryKey.join(", ")})`}`
        }
      ]),
    sensitive: config.auth !== undefined
  })
}
