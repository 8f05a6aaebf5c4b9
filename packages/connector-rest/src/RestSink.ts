/**
 * The REST sink POSTs (or PUTs, PATCHes) records to an endpoint, one per request or `batchSize` per request as
 * a JSON array. Each request carries an `Idempotency-Key` derived from the pipeline, the state key, the stream,
 * the batch's checkpoint range and the request's place in the batch, so a retried batch — after a timeout, a
 * reset, a 502/503/504 or a restarted run — sends the same keys and an API that honours them applies it once.
 * With `idempotencyKey: false`, a write that may have reached the API but got no answer fails with
 * `DeliveryUnknown` (not retried) instead of guessing. One-record requests refused with 400/409/422 become dead
 * letters.
 *
 * @since 0.1.0
 */
import { createHash } from "node:crypto"
import { ConnectorError, Sink } from "@data-mcp/core"
import { Effect } from "effect"
import * as Http from "./internal/http.ts"
import type * as RestConfig from "./RestConfig.ts"
import * as RestError from "./RestError.ts"
import * as RestSource from "./RestSource.ts"

const json = (value: unknown): string =>
  JSON.stringify(value, (_key, v) =>
    typeof v === "bigint" ? v.toString() : v instanceof Uint8Array ? Buffer.from(v).toString("base64") : v
  )

/** Statuses that refuse one record for what it holds: the record becomes a dead letter. */
const REJECTS = new Set([400, 409, 422])

/** Outcomes after which a request may or may not have been applied. */
const ambiguous = (error: ConnectorError.ConnectorError, status: number | undefined): boolean =>
  status === 502 ||
  status === 504 ||
  (status === undefined &&
    (error.reason._tag === "Timeout" || error.reason._tag === "ConnectionError") &&
    !RestError.notSent(error.reason.cause))

/**
 * The idempotency key of one request: a hash of where its records sit in the pipeline's history, identical
 * when the same batch is written again.
 *
 * @category utils
 * @since 0.1.0
 */
export const idempotencyKey = (parts: {
  readonly pipeline: string
  readonly stateKey: string
  readonly stream: string
  readonly checkpointFrom: unknown
  readonly checkpointTo: unknown
  readonly part: number | string
  readonly body: string
}): string =>
  `dm-${createHash("sha256")
    .update(
      json([
        parts.pipeline,
        parts.stateKey,
        parts.stream,
        parts.checkpointFrom ?? null,
        // without a closing checkpoint the range is not unique: the content names the request instead
        parts.checkpointTo === undefined ? createHash("sha256").update(parts.body).digest("hex") : parts.checkpointTo,
        parts.part
      ])
    )
    .digest("hex")
    .slice(0, 48)}`

/**
 * The options `make` takes (`RestConfig.SinkConfig`).
 *
 * @category models
 * @since 0.1.0
 */
export type Options = RestConfig.SinkConfig

/**
 * Makes the REST sink from a decoded config.
 *
 * **Example** (Batches of 100 with idempotency keys)
 *
 * ```ts
 * import { RestSink } from "@data-mcp/connector-rest"
 *
 * const sink = RestSink.make({ baseUrl: "https://api.example.com", path: "/v1/events", batchSize: 100 })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (config: RestConfig.SinkConfig): Sink.Sink<unknown> => {
  const settings = RestSource.settingsOf(config)
  const connector = settings.connector
  const method = config.method ?? "POST"
  const url = RestSource.baseRequestUrl(config)
  const keyHeader =
    config.idempotencyKey === false
      ? undefined
      : typeof config.idempotencyKey === "string"
        ? config.idempotencyKey
        : "Idempotency-Key"
  const request = Http.label(method, url)

  return Sink.make<unknown>({
    name: connector,
    capabilities: {
      transactional: false,
      idempotent: keyHeader !== undefined,
      maxConcurrentWrites: settings.concurrency,
      // Records leave for another system's API: pipelines writing here are operator-only by default.
      openWorld: true
    },
    disposition: Sink.append,
    open: (open) =>
      Effect.map(Http.open(settings), (client) => ({
        write: (batch, context) =>
          Effect.gen(function* () {
            const size = config.batchSize
            const parts = size === undefined ? batch.records.length : Math.ceil(batch.records.length / size)
            let written = 0
            const rejected: Array<{ index: number; reason: string }> = []
            /** Sends one request of `records`; `part` names its place in the batch (and its idempotency key). */
            const post = (records: ReadonlyArray<unknown>, single: boolean, part: string) => {
              const body = single
                ? json(records[0])
                : json(config.wrap === undefined ? records : { [config.wrap]: records })
              const headers: Record<string, string> = {}
              if (keyHeader !== undefined) {
                headers[keyHeader] = idempotencyKey({
                  pipeline: open.pipeline,
                  stateKey: open.stateKey,
                  stream: batch.stream,
                  checkpointFrom: context.checkpointFrom,
                  checkpointTo: context.checkpointTo,
                  part,
                  body
                })
              }
              const unknownDelivery = (outcome: string) =>
                RestError.make(
                  connector,
                  "write",
                  new ConnectorError.Unknown({
                    detail: `${request}: delivery unknown after ${outcome}; not retried without an Idempotency-Key`,
                    cause: new RestError.DeliveryUnknown({ request, records: records.length, outcome })
                  })
                )
              return client.send({ method, url, headers, body }, "write").pipe(
                Effect.mapError((error) =>
                  keyHeader === undefined && ambiguous(error, undefined) ? unknownDelivery(error.reason._tag) : error
                ),
                Effect.flatMap((response) =>
                  keyHeader === undefined && (response.status === 502 || response.status === 504)
                    ? Effect.fail(unknownDelivery(`HTTP ${response.status}`))
                    : Effect.succeed(response)
                )
              )
            }
            /** Writes records; a refused one becomes a dead letter at `index`. */
            const accept = (response: Http.Response, count: number, index: number | undefined) => {
              if (response.status >= 200 && response.status < 300) {
                written += count
                return Effect.void
              }
              if (index !== undefined && REJECTS.has(response.status)) {
                rejected.push({ index, reason: `${request} refused the record with HTTP ${response.status}` })
                return Effect.void
              }
              return Effect.asVoid(Http.expectOk(connector, "write", method, response))
            }
            for (let part = 0; part < parts; part++) {
              if (size === undefined) {
                yield* accept(yield* post([batch.records[part]], true, String(part)), 1, part)
                continue
              }
              const records = batch.records.slice(part * size, (part + 1) * size)
              const response = yield* post(records, false, String(part))
              if (config.onBatchRejected !== "split" || !REJECTS.has(response.status)) {
                yield* accept(response, records.length, undefined)
                continue
              }
              if (records.length === 1) {
                yield* accept(response, 1, part * size)
                continue
              }
              // the API refused the request for what it holds: find the record(s) by sending them one by one
              for (let j = 0; j < records.length; j++) {
                yield* accept(yield* post([records[j]], false, `${part}.${j}`), 1, part * size + j)
              }
            }
            return rejected.length === 0 ? { written } : { written, rejected }
          })
      })),
    check: () =>
      Effect.scoped(
        Effect.flatMap(Http.open(settings), (client) =>
          Effect.flatMap(client.send({ method: "OPTIONS", url }, "check"), (response) =>
            response.status === 401 || response.status === 403 || response.status === 404
              ? Effect.asVoid(Http.expectOk(connector, "check", "OPTIONS", response))
              : Effect.void
          )
        )
      )
  })
}
