/**
 * Authentication proves who is calling the MCP endpoint, before any tool runs. It accepts bearer JWTs from an
 * OIDC issuer (verified against the issuer's JWKS: signature, algorithm allow-list, issuer, audience = this
 * resource, `exp`/`nbf` with a small clock tolerance) and static API keys for service accounts (stored hashed,
 * compared in constant time, each with roles, a pipeline pattern, a tenant and an expiry). A refused request
 * gets its ready-made answer — a `401` naming the RFC 9728 protected-resource metadata in `WWW-Authenticate` —
 * and an audit reason; an accepted one gets a `Principal` for the RBAC policy. Tokens and keys never appear in
 * an outcome, a detail or a response.
 *
 * @since 0.1.0
 */
import { Config } from "@data-mcp/core"
import { getOAuthProtectedResourceMetadataUrl, type OAuthProtectedResourceMetadata } from "@modelcontextprotocol/server"
import { Schema } from "effect"
import type { JWTPayload } from "jose"
import * as ApiKey from "./internal/auth/apiKey.ts"
import * as Jwt from "./internal/auth/jwt.ts"
import * as Responses from "./internal/auth/responses.ts"
import { intBetween } from "./internal/intBetween.ts"

/**
 * A verified caller, before authorization: what the token or key proves, for the RBAC policy to map to
 * permissions. Never holds the token or key itself.
 *
 * @category models
 * @since 0.1.0
 */
export interface Principal {
  readonly kind: "jwt" | "apiKey"
  /** The JWT's `sub`; the API key's id. */
  readonly subject: string
  /** The JWT's `client_id` (else `azp`). */
  readonly clientId?: string | undefined
  /** The API key's tenant. For JWTs left to the policy, which reads `claims`. */
  readonly tenant?: string | undefined
  /** The JWT's `scope` (space-separated) or `scp`; `[]` when it has neither. `undefined` for API keys. */
  readonly scopes?: ReadonlyArray<string> | undefined
  /** The API key's roles; `[]` for JWTs (the RBAC policy maps claims to roles). */
  readonly roles: ReadonlyArray<string>
  /** The verified JWT payload; `{}` for API keys. */
  readonly claims: Readonly<Record<string, unknown>>
  /** The JWT's `jti`. */
  readonly jti?: string | undefined
  /** The API key's pipeline-name pattern (a glob such as `orders_*`). */
  readonly pipelines?: string | undefined
  /** When the token or key stops working, in epoch seconds. */
  readonly expiresAt?: number | undefined
}

/**
 * Why a request was refused, for audit and metrics (a closed set, safe as a label).
 *
 * @category models
 * @since 0.1.0
 */
export type AuditReason =
  | "missing"
  | "malformed"
  | "expired"
  | "not_yet_valid"
  | "wrong_issuer"
  | "wrong_audience"
  | "unknown_kid"
  | "bad_signature"
  | "alg_not_allowed"
  | "unknown_api_key"
  | "revoked_api_key"
  | "expired_api_key"
  | "jwks_unavailable"

/**
 * Every `AuditReason`.
 *
 * @category constants
 * @since 0.1.0
 */
export const auditReasons: ReadonlyArray<AuditReason> = [
  "missing",
  "malformed",
  "expired",
  "not_yet_valid",
  "wrong_issuer",
  "wrong_audience",
  "unknown_kid",
  "bad_signature",
  "alg_not_allowed",
  "unknown_api_key",
  "revoked_api_key",
  "expired_api_key",
  "jwks_unavailable"
]

/**
 * The request proved a principal.
 *
 * @category models
 * @since 0.1.0
 */
export interface Authenticated {
  readonly _tag: "Authenticated"
  readonly principal: Principal
}

/**
 * The request was refused. `response` is the answer to send as is: `401` with
 * `WWW-Authenticate: Bearer resource_metadata="…"` (plus `error="invalid_token"` when a token was presented), or
 * `503` with `Retry-After` when the issuer's keys could not be fetched (`jwks_unavailable`: the token may be
 * valid, and a 401 would send the client through authorization again for nothing). `detail` is for audit: the
 * reason in words with safe facts (kid, alg, issuer, timestamps, key id) — never the token or key.
 *
 * @category models
 * @since 0.1.0
 */
export interface Refused {
  readonly _tag: "Refused"
  readonly status: 401 | 503
  readonly reason: AuditReason
  readonly detail: string
  readonly response: Response
}

/**
 * What `authenticate` decides.
 *
 * @category models
 * @since 0.1.0
 */
export type Outcome = Authenticated | Refused

/**
 * Authenticates requests and serves the protected-resource metadata.
 *
 * @category models
 * @since 0.1.0
 */
export interface Authenticator {
  /** Reads `Authorization: Bearer …` (a JWT or a `dmk_` API key). Never rejects; never hangs past the JWKS timeout. */
  readonly authenticate: (request: Request) => Promise<Outcome>
  /** Answers GET (and HEAD, CORS preflight) of the RFC 9728 protected-resource metadata paths; `undefined` for other requests. */
  readonly metadata: (request: Request) => Response | undefined
  /** The metadata document's URL, as named in `WWW-Authenticate` (`/.well-known/oauth-protected-resource` + the resource's path). */
  readonly metadataUrl: string
}

const Url = Schema.String.check(
  Schema.makeFilter((s: string) =>
    URL.canParse(s) && /^https?:$/.test(new URL(s).protocol) ? undefined : "Expected an absolute http(s) URL"
  )
)
const Name = Schema.String.check(Schema.isMinLength(1))

/**
 * The JWS algorithms that can be allowed: asymmetric only, so a token "signed" with a public key as an HMAC
 * secret (algorithm confusion) or with `alg: none` can never be accepted, whatever the configuration.
 *
 * @category schemas
 * @since 0.1.0
 */
export const Algorithm = Schema.Literals([
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
  "Ed25519"
])

/**
 * One API key of a service account, as configured: its hash, never the key.
 *
 * @category schemas
 * @since 0.1.0
 */
export const ApiKeyEntry = Schema.Struct({
  id: Schema.String.check(
    Schema.makeFilter((s: string) =>
      ApiKey.ID_PATTERN.test(s) ? undefined : "Expected 1 to 64 letters, digits, _ . or - (starting alphanumeric)"
    )
  ).annotate({
    description: "The key's id, the `<id>` of `dmk_<id>_<secret>`: the principal's subject (not secret)."
  }),
  hash: Schema.String.check(
    Schema.makeFilter((s: string) =>
      ApiKey.HASH_PATTERN.test(s) ? undefined : "Expected sha256:<64 hex digits> (from Auth.hashApiKey)"
    )
  ).annotate({ description: "`sha256:<hex>` of the whole key, from `Auth.hashApiKey` or `Auth.generateApiKey`." }),
  roles: Schema.Array(Name).annotate({ description: "The roles the RBAC policy gives the key." }),
  pipelines: Schema.optionalKey(
    Name.annotate({ description: "The pipeline names the key may reach, a glob such as `orders_*` (default `*`)." })
  ),
  tenant: Schema.optionalKey(Name.annotate({ description: "The tenant the key acts for." })),
  expiresAt: Schema.String.check(
    Schema.makeFilter((s: string) =>
      /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2}))?$/.test(s) && Number.isFinite(Date.parse(s))
        ? undefined
        : "Expected an ISO 8601 date or time such as 2027-01-01T00:00:00Z"
    )
  ).annotate({ description: "When the key stops working (ISO 8601, e.g. `2027-01-01T00:00:00Z`)." }),
  revoked: Schema.optionalKey(Schema.Boolean.annotate({ description: "`true` refuses the key (default false)." }))
})

const fields = {
  resource: Url.annotate({
    description:
      "The public URL of this MCP endpoint (e.g. `https://api.example.com/mcp`): the RFC 9728 resource and the default JWT audience."
  }),
  issuer: Schema.optionalKey(
    Url.annotate({
      description:
        "The OIDC issuer whose JWTs are accepted, exactly as in their `iss` claim. Without it only API keys are accepted."
    })
  ),
  audience: Schema.optionalKey(
    Schema.Array(Name).annotate({ description: "The accepted `aud` values (default: `[resource]`)." })
  ),
  jwksUri: Schema.optionalKey(
    Url.annotate({
      description:
        "The issuer's JWKS URL (default: the `jwks_uri` of `<issuer>/.well-known/openid-configuration`, fetched once)."
    })
  ),
  algorithms: Schema.optionalKey(
    Schema.Array(Algorithm).annotate({
      description:
        "The accepted JWS algorithms (default RS256, PS256, ES256, EdDSA). `HS*` and `none` cannot be allowed."
    })
  ),
  clockToleranceSeconds: Schema.optionalKey(
    intBetween(0, 300, "Clock skew allowed when checking `exp` and `nbf`, in seconds (default 30).")
  ),
  jwksTimeoutMs: Schema.optionalKey(
    intBetween(100, 60_000, "Timeout of each discovery or JWKS fetch, in ms (default 5000).")
  ),
  jwksCooldownMs: Schema.optionalKey(
    intBetween(
      0,
      3_600_000,
      "A token whose `kid` is not cached refetches the JWKS once, unless it was fetched less than this long ago, in ms (default 30000)."
    )
  ),
  jwksCacheMaxAgeMs: Schema.optionalKey(
    intBetween(
      1_000,
      86_400_000,
      "How long fetched keys are used before they are fetched again, in ms (default 600000)."
    )
  ),
  verifiedTokenCacheMs: Schema.optionalKey(
    intBetween(
      0,
      300_000,
      "How long a verified JWT is remembered (by its SHA-256, never past its `exp`) so repeated calls skip the signature check, in ms (default 60000; 0 verifies every request)."
    )
  ),
  scopesSupported: Schema.optionalKey(
    Schema.Array(Name).annotate({ description: "Scopes advertised in the metadata document (`scopes_supported`)." })
  ),
  resourceName: Schema.optionalKey(
    Name.annotate({ description: "A human-readable name advertised in the metadata document (`resource_name`)." })
  ),
  apiKeys: Schema.optionalKey(
    Schema.Array(ApiKeyEntry).annotate({
      description: "Static API keys of service accounts (fields below); an empty list accepts none."
    })
  ),
  allowInsecureHttp: Schema.optionalKey(
    Schema.Boolean.annotate({
      description: "Accept `http://` resource, issuer and JWKS URLs off loopback (testing only; default false)."
    })
  )
}

/**
 * The options of `make`, validated when the authenticator is made (a bad one throws a `ConfigError` naming it).
 * The README's options table is generated from these descriptions.
 *
 * @category schemas
 * @since 0.1.0
 */
export const OptionsSchema = Schema.Struct(fields).check(
  Schema.makeFilter((o) => {
    if (o.issuer === undefined && o.apiKeys === undefined)
      return { path: ["issuer"], issue: "give issuer (to accept JWTs), apiKeys (to accept API keys), or both" }
    if (o.issuer === undefined && o.jwksUri !== undefined)
      return { path: ["jwksUri"], issue: "jwksUri needs issuer (the iss the tokens must carry)" }
    if (new URL(o.resource).hash !== "") return { path: ["resource"], issue: "the resource URL must have no fragment" }
    for (const key of ["resource", "issuer", "jwksUri"] as const) {
      const value = o[key]
      if (value !== undefined && !Jwt.isSecureEnough(new URL(value), o.allowInsecureHttp === true))
        return { path: [key], issue: "Expected an https URL (http only on localhost, or with allowInsecureHttp)" }
    }
    const ids = new Set<string>()
    for (const [i, entry] of (o.apiKeys ?? []).entries()) {
      if (ids.has(entry.id)) return { path: ["apiKeys", i, "id"], issue: `duplicate API key id ${entry.id}` }
      ids.add(entry.id)
    }
    return undefined
  })
)

/**
 * The options of `make` (see `OptionsSchema` and the README's table).
 *
 * @category models
 * @since 0.1.0
 */
export type AuthOptions = typeof OptionsSchema.Encoded

const DEFAULT_ALGORITHMS = ["RS256", "PS256", "ES256", "EdDSA"] as const
const RETRY_AFTER_SECONDS = 5
const MAX_TOKEN_LENGTH = 16_384
// RFC 6750 §2.1: "Bearer" 1*SP b64token.
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i

const words = (value: unknown): ReadonlyArray<string> | undefined =>
  typeof value === "string"
    ? value.split(" ").filter((s) => s !== "")
    : Array.isArray(value)
      ? value.filter((s): s is string => typeof s === "string" && s !== "")
      : undefined

const jwtPrincipal = (payload: JWTPayload): Principal => {
  const clientId = typeof payload.client_id === "string" ? payload.client_id : payload.azp
  return {
    kind: "jwt",
    subject: payload.sub as string,
    clientId: typeof clientId === "string" ? clientId : undefined,
    scopes: words(payload.scope) ?? words(payload.scp) ?? [],
    roles: [],
    claims: Object.freeze({ ...payload }),
    jti: typeof payload.jti === "string" ? payload.jti : undefined,
    expiresAt: payload.exp
  }
}

const apiKeyPrincipal = (entry: ApiKey.Entry): Principal => ({
  kind: "apiKey",
  subject: entry.id,
  tenant: entry.tenant,
  roles: entry.roles,
  claims: {},
  pipelines: entry.pipelines,
  expiresAt: entry.expiresAt
})

/**
 * Makes an authenticator. JWTs are accepted when `issuer` is set, API keys when `apiKeys` is; both travel as
 * `Authorization: Bearer …` (an API key starts with `dmk_`). Nothing is fetched until the first JWT arrives.
 *
 * **Example** (Gating a web-standard handler)
 *
 * ```ts
 * import { Auth } from "@data-mcp/mcp-adapter"
 *
 * const auth = Auth.make({
 *   resource: "https://api.example.com/mcp",
 *   issuer: "https://idp.example.com/",
 *   scopesSupported: ["pipelines:read", "pipelines:run"],
 *   apiKeys: [{ id: "etl", hash: "sha256:…", roles: ["runner"], pipelines: "orders_*", expiresAt: "2027-06-30" }]
 * })
 * const serve = async (request: Request, next: (request: Request) => Promise<Response>) => {
 *   const metadata = auth.metadata(request)
 *   if (metadata !== undefined) return metadata
 *   const outcome = await auth.authenticate(request)
 *   return outcome._tag === "Refused" ? outcome.response : next(request)
 * }
 * ```
 *
 * @throws ConfigError naming the first invalid option
 * @category constructors
 * @since 0.1.0
 */
export const make = (options: AuthOptions): Authenticator => {
  const given = Object.fromEntries(Object.entries(options ?? {}).filter(([, v]) => v !== undefined))
  const config = Config.decodeSync("auth", OptionsSchema, given)
  const resource = new URL(config.resource)
  const metadataUrl = getOAuthProtectedResourceMetadataUrl(resource)
  const allowInsecureHttp = config.allowInsecureHttp === true

  const verifyJwt =
    config.issuer === undefined
      ? undefined
      : Jwt.makeVerifier({
          issuer: config.issuer,
          audience: config.audience ?? [config.resource],
          jwksUri: config.jwksUri === undefined ? undefined : new URL(config.jwksUri),
          algorithms: config.algorithms ?? DEFAULT_ALGORITHMS,
          clockToleranceSeconds: config.clockToleranceSeconds ?? 30,
          timeoutMs: config.jwksTimeoutMs ?? 5_000,
          cooldownMs: config.jwksCooldownMs ?? 30_000,
          cacheMaxAgeMs: config.jwksCacheMaxAgeMs ?? 600_000,
          verifiedCacheMs: config.verifiedTokenCacheMs ?? 60_000,
          allowInsecureHttp
        })
  const lookupKey = ApiKey.makeLookup(
    (config.apiKeys ?? []).map((entry) => ({
      id: entry.id,
      digest: Buffer.from(entry.hash.slice("sha256:".length), "hex"),
      roles: entry.roles,
      pipelines: entry.pipelines ?? "*",
      tenant: entry.tenant,
      expiresAt: Math.floor(Date.parse(entry.expiresAt) / 1000),
      revoked: entry.revoked === true
    }))
  )

  const document: OAuthProtectedResourceMetadata = {
    resource: config.resource,
    ...(config.issuer === undefined ? {} : { authorization_servers: [config.issuer] }),
    ...(config.scopesSupported === undefined ? {} : { scopes_supported: [...config.scopesSupported] }),
    bearer_methods_supported: ["header"],
    ...(config.resourceName === undefined ? {} : { resource_name: config.resourceName })
  }
  // The path-aware location (RFC 9728 §3.1), and the root one that clients fall back to.
  const metadata = Responses.metadataResponder(document, [
    new URL(metadataUrl).pathname,
    "/.well-known/oauth-protected-resource"
  ])

  const refuse = (reason: AuditReason, detail: string): Refused =>
    reason === "jwks_unavailable"
      ? { _tag: "Refused", status: 503, reason, detail, response: Responses.keysUnavailable(RETRY_AFTER_SECONDS) }
      : { _tag: "Refused", status: 401, reason, detail, response: Responses.unauthorized(reason, metadataUrl) }

  const authenticate = async (request: Request): Promise<Outcome> => {
    const header = request.headers.get("authorization")
    if (header === null || header.trim() === "") return refuse("missing", "no Authorization header")
    const token = BEARER.exec(header)?.[1]
    if (token === undefined) {
      const scheme = /^[A-Za-z][A-Za-z0-9-]{0,19}(?= |$)/.exec(header)?.[0]
      return refuse(
        "malformed",
        scheme === undefined || scheme.toLowerCase() === "bearer"
          ? "the Authorization header is not Bearer <token>"
          : `Authorization scheme ${scheme} is not Bearer`
      )
    }
    if (token.length > MAX_TOKEN_LENGTH)
      return refuse("malformed", `the bearer token is longer than ${MAX_TOKEN_LENGTH} characters`)
    if (token.startsWith(ApiKey.PREFIX)) {
      const found = lookupKey(token, Date.now() / 1000)
      return found.ok
        ? { _tag: "Authenticated", principal: apiKeyPrincipal(found.entry) }
        : refuse(found.reason, found.detail)
    }
    if (verifyJwt === undefined)
      return refuse("malformed", "not an API key, and JWTs are not accepted (no issuer configured)")
    const verified = await verifyJwt(token)
    return verified.ok
      ? { _tag: "Authenticated", principal: jwtPrincipal(verified.payload) }
      : refuse(verified.reason, verified.detail)
  }

  return { authenticate, metadata, metadataUrl }
}

const invalid = (path: string, detail: string) => new Config.ConfigError({ component: "auth", path, detail })

/**
 * The hash to store for an API key (`sha256:<hex>` of the whole key). SHA-256 is enough because the keys are
 * 32 random bytes: no dictionary or brute force reaches them, and checking stays cheap on every request.
 *
 * @throws ConfigError when the key is not a `dmk_<id>_<secret>` key (the key is not quoted)
 * @category utils
 * @since 0.1.0
 */
export const hashApiKey = (key: string): string => {
  if (ApiKey.idOf(key) === undefined)
    throw invalid("key", "Expected dmk_<id>_<43 base64url characters>, as made by Auth.generateApiKey")
  return ApiKey.hash(key)
}

/**
 * Makes a new API key for an id: `key` goes to the service account (shown once, never stored), `hash` into the
 * `apiKeys` config.
 *
 * **Example** (Issuing a key)
 *
 * ```ts
 * import { Auth } from "@data-mcp/mcp-adapter"
 *
 * const { key, hash } = Auth.generateApiKey("nightly-etl")
 * // key:  dmk_nightly-etl_<43 random base64url characters>
 * // hash: sha256:<64 hex digits>
 * ```
 *
 * @throws ConfigError when the id is not 1 to 64 letters, digits, `_`, `.` or `-`
 * @category constructors
 * @since 0.1.0
 */
export const generateApiKey = (id: string): { readonly key: string; readonly hash: string } => {
  if (!ApiKey.ID_PATTERN.test(id))
    throw invalid("id", "Expected 1 to 64 letters, digits, _ . or - (starting alphanumeric)")
  return ApiKey.generate(id)
}
