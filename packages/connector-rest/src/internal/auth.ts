// Authentication for requests: a bearer token, an API key (header or query), Basic, or OAuth 2.0 client
// credentials with the token cached until shortly before it expires and fetched again on a 401. Secrets stay
// Redacted until the moment a header or query parameter is set on an outgoing request.
import { ConnectorError } from "@data-mcp/core"
import { Clock, Effect, Redacted, Semaphore } from "effect"
import type * as RestConfig from "../RestConfig.ts"
import * as RestError from "../RestError.ts"
import type * as Http from "./http.ts"

/** Which credential a request used: passed back to `refresh` so concurrent 401s refresh once. */
export type Used = number

/** Sets credentials on a request; OAuth also refreshes its token after a 401. */
export interface Authenticator {
  readonly apply: (
    url: URL,
    headers: Record<string, string>,
    client: Http.Client
  ) => Effect.Effect<Used, ConnectorError.ConnectorError>
  readonly refresh?: ((used: Used) => Effect.Effect<void>) | undefined
}

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`

/** Refresh the token this long before the expiry the server announced. */
const EXPIRY_SKEW_MS = 30_000

const oauth2 = (config: typeof RestConfig.OAuth2Auth.Type, connector: string): Authenticator => {
  let token:
    | { readonly value: Redacted.Redacted<string>; readonly expiresAt: number; readonly generation: number }
    | undefined
  let generation = 0
  const lock = Semaphore.makeUnsafe(1)
  const tokenUrl = new URL(config.tokenUrl)
  const failAuth = (detail: string) =>
    Effect.fail(RestError.make(connector, "authenticate", new ConnectorError.AuthenticationError({ detail })))

  const fetchToken = (client: Http.Client) =>
    Effect.gen(function* () {
      const form = new URLSearchParams({ grant_type: "client_credentials" })
      const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded" }
      if (config.credentialsIn === "body") {
        form.set("client_id", config.clientId)
        form.set("client_secret", Redacted.value(config.clientSecret))
      } else
        headers.authorization = basic(
          encodeURIComponent(config.clientId),
          encodeURIComponent(Redacted.value(config.clientSecret))
        )
      if (config.scope !== undefined) form.set("scope", config.scope)
      if (config.audience !== undefined) form.set("audience", config.audience)
      const response = yield* client.send(
        { method: "POST", url: tokenUrl, headers, body: form.toString(), anonymous: true },
        "authenticate"
      )
      if (response.status === 400 || response.status === 401 || response.status === 403) {
        return yield* failAuth(
          `POST ${tokenUrl.pathname} returned HTTP ${response.status}: check clientId, clientSecret and scope`
        )
      }
      yield* Http_expectOk(connector, response)
      let parsed: unknown
      try {
        parsed = JSON.parse(response.body)
      } catch {
        return yield* failAuth(`POST ${tokenUrl.pathname} returned a body that is not JSON`)
      }
      const body = parsed as { access_token?: unknown; expires_in?: unknown }
      if (typeof body.access_token !== "string" || body.access_token === "") {
        return yield* failAuth(`POST ${tokenUrl.pathname} returned no access_token`)
      }
      const now = yield* Clock.currentTimeMillis
      const expiresIn = typeof body.expires_in === "number" ? body.expires_in : Number(body.expires_in ?? Number.NaN)
      generation++
      token = {
        value: Redacted.make(body.access_token, { label: "access_token" }),
        expiresAt: Number.isFinite(expiresIn)
          ? now + Math.max(0, expiresIn * 1000 - EXPIRY_SKEW_MS)
          : Number.POSITIVE_INFINITY,
        generation
      }
      return token
    })

  const current = (client: Http.Client) =>
    lock.withPermit(
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        if (token !== undefined && now < token.expiresAt) return token
        return yield* fetchToken(client)
      })
    )

  return {
    apply: (_url, headers, client) =>
      Effect.map(current(client), (t) => {
        headers.authorization = `Bearer ${Redacted.value(t.value)}`
        return t.generation
      }),
    refresh: (used) =>
      lock.withPermit(
        Effect.sync(() => {
          if (token !== undefined && token.generation === used) token = undefined
        })
      )
  }
}

const Http_expectOk = (connector: string, response: Http.Response) =>
  response.status >= 200 && response.status < 300
    ? Effect.void
    : Effect.fail(
        RestError.make(
          connector,
          "authenticate",
          RestError.classifyStatus(
            response.status,
            `POST ${response.url.pathname}`,
            RestError.retryAfterMs(response.headers["retry-after"])
          )
        )
      )

/** The authenticator for an `auth` option (none: requests go out as they are). */
export const make = (auth: RestConfig.Auth | undefined, connector: string): Authenticator | undefined => {
  if (auth === undefined) return undefined
  switch (auth.type) {
    case "bearer":
      return {
        apply: (_url, headers) =>
          Effect.sync(() => {
            headers.authorization = `Bearer ${Redacted.value(auth.token)}`
            return 0
          })
      }
    case "apiKey":
      return {
        apply: (url, headers) =>
          Effect.sync(() => {
            if (auth.in === "header") headers[auth.name.toLowerCase()] = Redacted.value(auth.value)
            else url.searchParams.set(auth.name, Redacted.value(auth.value))
            return 0
          })
      }
    case "basic":
      return {
        apply: (_url, headers) =>
          Effect.sync(() => {
            headers.authorization = basic(auth.username, Redacted.value(auth.password))
            return 0
          })
      }
    case "oauth2":
      return oauth2(auth, connector)
  }
}
