// The HTTP answers of authentication: the 401 challenge (RFC 6750 §3 with RFC 9728's `resource_metadata`), the
// 503 when the issuer's keys cannot be had, and the RFC 9728 protected-resource metadata document. A 401 for a
// presented token is the SDK's own `bearerAuthChallengeResponse`, so it reads exactly like the SDK's gates.
import {
  bearerAuthChallengeResponse,
  OAuthError,
  OAuthErrorCode,
  type OAuthProtectedResourceMetadata
} from "@modelcontextprotocol/server"
import type { AuditReason } from "../../Auth.ts"

const quoted = (value: string): string => `"${value.replaceAll(/[\\"]/g, "\\$&")}"`

// What the client is told: a fixed sentence per reason (the audit detail stays on the server).
const descriptions: Record<Exclude<AuditReason, "missing" | "jwks_unavailable">, string> = {
  malformed: "The bearer token is malformed",
  expired: "The access token has expired",
  not_yet_valid: "The access token is not valid yet",
  wrong_issuer: "The access token was issued by an untrusted issuer",
  wrong_audience: "The access token was not issued for this resource",
  unknown_kid: "The access token is signed with an unknown key",
  bad_signature: "The access token signature is invalid",
  alg_not_allowed: "The access token signing algorithm is not allowed",
  unknown_api_key: "The API key is unknown, revoked or expired",
  revoked_api_key: "The API key is unknown, revoked or expired",
  expired_api_key: "The API key is unknown, revoked or expired"
}

/**
 * The 401 for a request: without credentials, `WWW-Authenticate: Bearer resource_metadata="…"` and no error code
 * (RFC 6750 §3.1); with a refused token, `error="invalid_token"` and a fixed description as well.
 */
export const unauthorized = (
  reason: Exclude<AuditReason, "jwks_unavailable">,
  resourceMetadataUrl: string
): Response => {
  if (reason !== "missing")
    return bearerAuthChallengeResponse(new OAuthError(OAuthErrorCode.InvalidToken, descriptions[reason]), {
      resourceMetadataUrl
    })
  return Response.json(
    { error_description: "Authentication required: send Authorization: Bearer <access token or API key>" },
    { status: 401, headers: { "WWW-Authenticate": `Bearer resource_metadata=${quoted(resourceMetadataUrl)}` } }
  )
}

/**
 * The 503 when the issuer's keys (discovery document or JWKS) could not be fetched: the token may well be
 * valid, so no `invalid_token` that would send the client back through authorization; retry shortly.
 */
export const keysUnavailable = (retryAfterSeconds: number): Response =>
  Response.json(
    {
      error: "temporarily_unavailable",
      error_description: "The access token cannot be verified now: the issuer's signing keys are unavailable"
    },
    { status: 503, headers: { "Retry-After": String(retryAfterSeconds), "Cache-Control": "no-store" } }
  )

const CORS = { "Access-Control-Allow-Origin": "*" }

/**
 * Serves the metadata document on its paths: GET and HEAD answer it (with permissive CORS, as the SDK's
 * `oauthMetadataResponse` does, so browser-based clients can discover the authorization server), OPTIONS answers
 * the CORS preflight; any other request is `undefined` (not ours).
 */
export const metadataResponder = (
  document: OAuthProtectedResourceMetadata,
  paths: ReadonlyArray<string>
): ((request: Request) => Response | undefined) => {
  const body = JSON.stringify(document)
  const served = new Set(paths)
  return (request) => {
    const path = new URL(request.url).pathname.replace(/(.)\/+$/, "$1")
    if (!served.has(path)) return undefined
    switch (request.method) {
      case "GET":
      case "HEAD":
        return new Response(request.method === "GET" ? body : null, {
          status: 200,
          headers: { "Content-Type": "application/json", "Cache-Control": "max-age=300", ...CORS }
        })
      case "OPTIONS": {
        const requested = request.headers.get("access-control-request-headers")
        return new Response(null, {
          status: 204,
          headers: {
            ...CORS,
            "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
            ...(requested === null
              ? {}
              : { "Access-Control-Allow-Headers": requested, Vary: "Access-Control-Request-Headers" })
          }
        })
      }
      default:
        return undefined
    }
  }
}
