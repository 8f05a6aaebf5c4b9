// Bearer JWT verification against an OIDC issuer's JWKS, with jose. The key set is jose's `createRemoteJWKSet`
// (cached for `cacheMaxAge`; a token whose `kid` is not cached triggers one refetch unless the set was fetched
// less than `cooldown` ago), its URL configured or discovered once from the issuer's openid-configuration.
// Every failure becomes a `Failure` with an audit reason and a detail built from safe facts (alg, kid, issuer,
// timestamps) — never the token, never a jose message (which can quote claim values).
import { createHash } from "node:crypto"
import {
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify
} from "jose"
import type { AuditReason } from "../../Auth.ts"
import { safe } from "./text.ts"

export interface JwtSettings {
  readonly issuer: string
  readonly audience: ReadonlyArray<string>
  /** Configured JWKS URL; discovered from the issuer when absent. */
  readonly jwksUri: URL | undefined
  readonly algorithms: ReadonlyArray<string>
  readonly clockToleranceSeconds: number
  readonly timeoutMs: number
  readonly cooldownMs: number
  readonly cacheMaxAgeMs: number
  /** How long a verified token is remembered (by its SHA-256), in ms; 0 verifies every request. */
  readonly verifiedCacheMs: number
  /** Whether a discovered `jwks_uri` may be plain http off loopback. */
  readonly allowInsecureHttp: boolean
}

export type JwtResult =
  | { readonly ok: true; readonly payload: JWTPayload }
  | { readonly ok: false; readonly reason: AuditReason; readonly detail: string }

/** The issuer's keys could not be had (network, timeout, bad document): not the token's fault. */
class KeysUnavailable extends Error {
  constructor(readonly detail: string) {
    super(detail)
  }
}

const isLoopback = (url: URL): boolean =>
  url.hostname === "localhost" || url.hostname === "127.0.0.1" || url.hostname === "[::1]"

/** Whether a URL may be used: https, or http on loopback (or anywhere when explicitly allowed). */
export const isSecureEnough = (url: URL, allowInsecureHttp: boolean): boolean =>
  url.protocol === "https:" || (url.protocol === "http:" && (allowInsecureHttp || isLoopback(url)))

// Why a fetch failed, in words that quote nothing but the URL we chose and the status.
const describeFetchFailure = (what: string, cause: unknown): string => {
  if (cause instanceof errors.JWKSTimeout) return `${what}: timed out`
  if (cause instanceof Error && (cause.name === "TimeoutError" || cause.name === "AbortError"))
    return `${what}: timed out`
  if (cause instanceof errors.JOSEError) return `${what}: ${cause.message}`
  const code = (cause as { cause?: { code?: unknown } } | undefined)?.cause?.code
  return `${what}: ${typeof code === "string" ? code : "network error"}`
}

const discover = async (settings: JwtSettings): Promise<URL> => {
  const location = `${settings.issuer.replace(/\/+$/, "")}/.well-known/openid-configuration`
  const what = `openid-configuration at ${location}`
  let response: Response
  try {
    response = await fetch(location, {
      headers: { accept: "application/json" },
      redirect: "manual",
      signal: AbortSignal.timeout(settings.timeoutMs)
    })
  } catch (cause) {
    throw new KeysUnavailable(describeFetchFailure(what, cause))
  }
  if (response.status !== 200) {
    await response.body?.cancel()
    throw new KeysUnavailable(`${what}: HTTP ${response.status}`)
  }
  let document: unknown
  try {
    document = await response.json()
  } catch (cause) {
    throw new KeysUnavailable(
      cause instanceof Error && cause.name === "TimeoutError" ? `${what}: timed out` : `${what}: not JSON`
    )
  }
  const { issuer, jwks_uri } = (document ?? {}) as { issuer?: unknown; jwks_uri?: unknown }
  // OIDC Discovery §4.3: the document's issuer must be exactly the one asked about.
  if (issuer !== settings.issuer) throw new KeysUnavailable(`${what}: names another issuer (${safe(issuer)})`)
  if (typeof jwks_uri !== "string" || !URL.canParse(jwks_uri)) throw new KeysUnavailable(`${what}: no valid jwks_uri`)
  const url = new URL(jwks_uri)
  if (!isSecureEnough(url, settings.allowInsecureHttp))
    throw new KeysUnavailable(`${what}: jwks_uri ${safe(url.href)} is not https`)
  return url
}

/**
 * Makes the verifier. The key set is resolved lazily (the first JWT fetches the discovery document if needed,
 * then the JWKS); a failed discovery is not cached, concurrent ones share one fetch.
 */
export const makeVerifier = (settings: JwtSettings): ((token: string) => Promise<JwtResult>) => {
  const remote = (url: URL) =>
    createRemoteJWKSet(url, {
      timeoutDuration: settings.timeoutMs,
      cooldownDuration: settings.cooldownMs,
      cacheMaxAge: settings.cacheMaxAgeMs
    })
  let keySet: JWTVerifyGetKey | undefined = settings.jwksUri === undefined ? undefined : remote(settings.jwksUri)
  let discovering: Promise<JWTVerifyGetKey> | undefined
  const resolveKeySet = (): Promise<JWTVerifyGetKey> => {
    if (keySet !== undefined) return Promise.resolve(keySet)
    discovering ??= discover(settings)
      .then((url) => {
        keySet = remote(url)
        return keySet
      })
      .finally(() => {
        discovering = undefined
      })
    return discovering
  }

  const getKey: JWTVerifyGetKey = async (header, token) => {
    const keys = await resolveKeySet()
    try {
      return await keys(header, token)
    } catch (cause) {
      if (cause instanceof errors.JWKSNoMatchingKey || cause instanceof errors.JWKSMultipleMatchingKeys) throw cause
      throw new KeysUnavailable(describeFetchFailure("JWKS", cause))
    }
  }

  const options = {
    issuer: settings.issuer,
    audience: [...settings.audience],
    algorithms: [...settings.algorithms],
    clockTolerance: settings.clockToleranceSeconds,
    requiredClaims: ["exp", "sub"]
  }

  const verify = async (token: string): Promise<JwtResult> => {
    try {
      const { payload } = await jwtVerify(token, getKey, options)
      if (typeof payload.sub !== "string" || payload.sub === "")
        return { ok: false, reason: "malformed", detail: "the sub claim is not a non-empty string" }
      return { ok: true, payload }
    } catch (cause) {
      return { ok: false, ...classify(cause, token, settings) }
    }
  }
  if (settings.verifiedCacheMs <= 0) return verify
  const verified = makeVerifiedCache(settings)
  return async (token) => {
    const remembered = verified.get(token)
    if (remembered !== undefined) return { ok: true, payload: remembered }
    const result = await verify(token)
    if (result.ok) verified.set(token, result.payload)
    return result
  }
}

/** At most this many verified tokens are remembered (the oldest go first). */
const VERIFIED_CACHE_SIZE = 10_000

/**
 * Verified tokens, by the SHA-256 of their text (the tokens themselves are not kept), each until the earlier of
 * `verifiedCacheMs` from verification and its `exp` (with the clock tolerance) — a signature check costs far more
 * than a hash. A token is only ever remembered after a full verification; its time claims are re-checked on every
 * hit. A key removed from the issuer's JWKS is trusted for at most this long after its last use, well within
 * the JWKS cache's own `cacheMaxAgeMs`.
 */
const makeVerifiedCache = (settings: JwtSettings) => {
  const entries = new Map<string, { readonly payload: JWTPayload; readonly until: number }>()
  const digest = (token: string) => createHash("sha256").update(token).digest("base64")
  return {
    get: (token: string): JWTPayload | undefined => {
      const key = digest(token)
      const entry = entries.get(key)
      if (entry === undefined) return undefined
      if (Date.now() < entry.until) return entry.payload
      entries.delete(key)
      return undefined
    },
    set: (token: string, payload: JWTPayload): void => {
      const expires =
        typeof payload.exp === "number"
          ? (payload.exp + settings.clockToleranceSeconds) * 1000
          : Number.NEGATIVE_INFINITY
      const until = Math.min(Date.now() + settings.verifiedCacheMs, expires)
      if (until <= Date.now()) return
      if (entries.size >= VERIFIED_CACHE_SIZE) {
        const oldest = entries.keys().next()
        if (oldest.done !== true) entries.delete(oldest.value)
      }
      entries.set(digest(token), { payload, until })
    }
  }
}

const seen = (token: string) => {
  let header: { alg?: unknown; kid?: unknown } = {}
  let payload: JWTPayload = {}
  try {
    header = decodeProtectedHeader(token)
  } catch {}
  try {
    payload = decodeJwt(token)
  } catch {}
  return { header, payload }
}

const at = (seconds: unknown): string =>
  typeof seconds === "number" && Number.isFinite(seconds)
    ? new Date(seconds * 1000).toISOString().replace(".000Z", "Z")
    : safe(seconds)

/** Maps a verification failure to its audit reason and a safe detail. */
export const classify = (
  cause: unknown,
  token: string,
  settings: JwtSettings
): { readonly reason: AuditReason; readonly detail: string } => {
  const { header, payload } = seen(token)
  const kid = `kid ${safe(header.kid)}`
  if (cause instanceof KeysUnavailable) return { reason: "jwks_unavailable", detail: cause.detail }
  if (cause instanceof errors.JOSEAlgNotAllowed)
    return {
      reason: "alg_not_allowed",
      detail: `alg ${safe(header.alg)} is not in the allow-list (${settings.algorithms.join(", ")})`
    }
  if (cause instanceof errors.JWKSNoMatchingKey)
    return { reason: "unknown_kid", detail: `no key in the issuer's JWKS matches ${kid}, alg ${safe(header.alg)}` }
  if (cause instanceof errors.JWSSignatureVerificationFailed || cause instanceof errors.JWKSMultipleMatchingKeys)
    return { reason: "bad_signature", detail: `signature does not verify (${kid}, alg ${safe(header.alg)})` }
  if (cause instanceof errors.JWTExpired)
    return {
      reason: "expired",
      detail: `exp ${at(payload.exp)} is past (clock tolerance ${settings.clockToleranceSeconds}s)`
    }
  if (cause instanceof errors.JWTClaimValidationFailed) {
    if (cause.reason === "missing") return { reason: "malformed", detail: `missing ${safe(cause.claim)} claim` }
    switch (cause.claim) {
      case "iss":
        return {
          reason: "wrong_issuer",
          detail: `iss ${safe(payload.iss)} is not the configured issuer ${safe(settings.issuer)}`
        }
      case "aud":
        return {
          reason: "wrong_audience",
          detail: `aud ${safe(payload.aud)} does not name this resource (${settings.audience.map(safe).join(", ")})`
        }
      case "nbf":
        return {
          reason: "not_yet_valid",
          detail: `nbf ${at(payload.nbf)} is in the future (clock tolerance ${settings.clockToleranceSeconds}s)`
        }
      default:
        return { reason: "malformed", detail: `invalid ${safe(cause.claim)} claim` }
    }
  }
  if (cause instanceof errors.JOSEError) return { reason: "malformed", detail: `not a valid JWS/JWT (${cause.code})` }
  return { reason: "malformed", detail: "not a valid JWT" }
}
