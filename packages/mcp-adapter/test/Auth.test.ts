// Authentication against a real JWKS: an OIDC issuer stand-in on 127.0.0.1 (node:http) serves a discovery
// document and a JWKS of keys made with jose. The matrix: every way a bearer JWT or API key is refused (each
// with its reason, status and WWW-Authenticate challenge), the accepted ones and their principals, key rotation,
// an unreachable or hanging JWKS, the RFC 9728 metadata, config validation — and no token or key in any outcome.
import { readFileSync } from "node:fs"
import { Config } from "@data-mcp/core"
import { base64url, exportSPKI, type JWTPayload, SignJWT, UnsecuredJWT } from "jose"
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest"
import { Auth } from "../src/index.ts"
import { close, makeKey, type SigningKey, sign, startIssuer } from "./issuer.ts"

const RESOURCE = "http://127.0.0.1:3333/mcp"
const METADATA_URL = "http://127.0.0.1:3333/.well-known/oauth-protected-resource/mcp"
const now = () => Math.floor(Date.now() / 1000)

const request = (authorization?: string, headers: Record<string, string> = {}) =>
  new Request(RESOURCE, {
    method: "POST",
    headers: authorization === undefined ? headers : { ...headers, authorization }
  })

const expectRefused = (outcome: Auth.Outcome, reason: Auth.AuditReason): Auth.Refused => {
  expect(outcome._tag).toBe("Refused")
  const refused = outcome as Auth.Refused
  expect(refused.reason).toBe(reason)
  expect(refused.detail.length).toBeGreaterThan(0)
  return refused
}

/** A 401 whose challenge names the metadata, with `error="invalid_token"` exactly when a token was presented. */
const expectChallenge = (refused: Auth.Refused, tokenPresented: boolean) => {
  expect(refused.status).toBe(401)
  expect(refused.response.status).toBe(401)
  const challenge = refused.response.headers.get("www-authenticate") ?? ""
  expect(challenge.startsWith("Bearer ")).toBe(true)
  expect(challenge).toContain(`resource_metadata="${METADATA_URL}"`)
  if (tokenPresented) expect(challenge).toContain('error="invalid_token"')
  else expect(challenge).toBe(`Bearer resource_metadata="${METADATA_URL}"`)
}

describe("Auth", () => {
  let issuer: Awaited<ReturnType<typeof startIssuer>>
  let current: SigningKey
  let stranger: SigningKey
  let rsa: SigningKey
  let auth: Auth.Authenticator
  const apiKey = Auth.generateApiKey("etl-nightly")
  const revokedKey = Auth.generateApiKey("old_job")
  const expiredKey = Auth.generateApiKey("expired.job")
  // Every credential a test sends: none of them may show up in an outcome.
  const presented: Array<string> = []
  const outcomes: Array<Auth.Outcome> = []

  const authenticate = async (authorization?: string, authenticator = auth) => {
    if (authorization !== undefined) presented.push(authorization.replace(/^Bearer /, ""))
    const outcome = await authenticator.authenticate(request(authorization))
    outcomes.push(outcome)
    return outcome
  }
  // `undefined` drops a claim (JSON.stringify leaves it out)
  const claims = (extra: Record<string, unknown> = {}): JWTPayload => ({
    iss: issuer.url,
    aud: RESOURCE,
    sub: "user-42",
    client_id: "agent-app",
    scope: "pipelines:list pipelines:run",
    jti: "jti-1",
    iat: now(),
    exp: now() + 300,
    ...extra
  })

  beforeAll(async () => {
    issuer = await startIssuer()
    current = await makeKey("key-1")
    stranger = await makeKey("ghost")
    rsa = await makeKey("rsa-1", "RS256")
    issuer.state.keys = [current.jwk, rsa.jwk]
    auth = Auth.make({
      resource: RESOURCE,
      issuer: issuer.url,
      scopesSupported: ["pipelines:list", "pipelines:run"],
      resourceName: "Warehouse pipelines",
      apiKeys: [
        {
          id: "etl-nightly",
          hash: apiKey.hash,
          roles: ["runner"],
          pipelines: "orders_*",
          tenant: "acme",
          expiresAt: "2099-01-01T00:00:00Z"
        },
        { id: "old_job", hash: revokedKey.hash, roles: ["runner"], expiresAt: "2099-01-01", revoked: true },
        { id: "expired.job", hash: expiredKey.hash, roles: ["runner"], expiresAt: "2020-01-01T00:00:00Z" }
      ]
    })
  })
  afterAll(async () => {
    await close(issuer.server)
  })

  describe("bearer JWTs", () => {
    it("accepts a valid token, discovering the JWKS once, and builds the principal from its claims", async () => {
      const token = await sign(current, claims())
      const outcome = await authenticate(`Bearer ${token}`)
      expect(outcome._tag).toBe("Authenticated")
      const { principal } = outcome as Auth.Authenticated
      expect(principal).toMatchObject({
        kind: "jwt",
        subject: "user-42",
        clientId: "agent-app",
        scopes: ["pipelines:list", "pipelines:run"],
        roles: [],
        jti: "jti-1"
      })
      expect(principal.tenant).toBeUndefined()
      expect(principal.claims.sub).toBe("user-42")
      expect(principal.expiresAt).toBeGreaterThan(now())
      // a second token: discovery and keys come from the cache
      expect((await authenticate(`Bearer ${await sign(rsa, claims({ scp: ["a"], scope: undefined }))}`))._tag).toBe(
        "Authenticated"
      )
      expect(issuer.state.discoveryHits).toBe(1)
      expect(issuer.state.jwksHits).toBe(1)
    })

    it("reads scp when there is no scope, azp when there is no client_id, and [] scopes when neither", async () => {
      const scp = await authenticate(
        `Bearer ${await sign(current, claims({ scope: undefined, scp: "a b", client_id: undefined, azp: "spa" }))}`
      )
      expect((scp as Auth.Authenticated).principal).toMatchObject({ scopes: ["a", "b"], clientId: "spa" })
      const none = await authenticate(`Bearer ${await sign(current, claims({ scope: undefined }))}`)
      expect((none as Auth.Authenticated).principal.scopes).toEqual([])
    })

    it("accepts a token within the clock tolerance (exp 10 s ago, nbf 10 s ahead)", async () => {
      const outcome = await authenticate(`Bearer ${await sign(current, claims({ exp: now() - 10, nbf: now() + 10 }))}`)
      expect(outcome._tag).toBe("Authenticated")
    })

    it("refuses an expired token", async () => {
      const refused = expectRefused(
        await authenticate(`Bearer ${await sign(current, claims({ exp: now() - 120 }))}`),
        "expired"
      )
      expectChallenge(refused, true)
      expect(refused.detail).toMatch(/^exp \d{4}-/)
    })

    it("refuses a token that is not yet valid", async () => {
      const refused = expectRefused(
        await authenticate(`Bearer ${await sign(current, claims({ nbf: now() + 120 }))}`),
        "not_yet_valid"
      )
      expectChallenge(refused, true)
    })

    it("refuses a token from another issuer", async () => {
      const refused = expectRefused(
        await authenticate(`Bearer ${await sign(current, claims({ iss: "https://evil.example" }))}`),
        "wrong_issuer"
      )
      expectChallenge(refused, true)
      expect(refused.detail).toContain('"https://evil.example"')
    })

    it("refuses a token for another audience", async () => {
      const refused = expectRefused(
        await authenticate(`Bearer ${await sign(current, claims({ aud: "https://other.example/mcp" }))}`),
        "wrong_audience"
      )
      expectChallenge(refused, true)
    })

    it("refuses a token signed by a key the JWKS does not have (within the cooldown: no refetch)", async () => {
      const hits = issuer.state.jwksHits
      const refused = expectRefused(await authenticate(`Bearer ${await sign(stranger, claims())}`), "unknown_kid")
      expectChallenge(refused, true)
      expect(refused.detail).toContain('kid "ghost"')
      expect(issuer.state.jwksHits).toBe(hits)
    })

    it("refuses alg: none", async () => {
      const token = new UnsecuredJWT(claims()).encode()
      const refused = expectRefused(await authenticate(`Bearer ${token}`), "alg_not_allowed")
      expectChallenge(refused, true)
      expect(refused.detail).toContain('alg "none"')
    })

    it("refuses HS256 signed with the issuer's public key (algorithm confusion)", async () => {
      const secret = new TextEncoder().encode(await exportSPKI(rsa.pair.publicKey))
      const token = await new SignJWT(claims()).setProtectedHeader({ alg: "HS256", kid: rsa.kid }).sign(secret)
      const refused = expectRefused(await authenticate(`Bearer ${token}`), "alg_not_allowed")
      expectChallenge(refused, true)
    })

    it("refuses a tampered payload", async () => {
      const [header, , signature] = (await sign(current, claims())).split(".")
      const forged = base64url.encode(JSON.stringify(claims({ sub: "admin", scope: "pipelines:operate" })))
      const refused = expectRefused(await authenticate(`Bearer ${header}.${forged}.${signature}`), "bad_signature")
      expectChallenge(refused, true)
    })

    it("refuses a token without exp or sub, and garbage", async () => {
      expectChallenge(
        expectRefused(await authenticate(`Bearer ${await sign(current, claims({ exp: undefined }))}`), "malformed"),
        true
      )
      expectChallenge(
        expectRefused(await authenticate(`Bearer ${await sign(current, claims({ sub: undefined }))}`), "malformed"),
        true
      )
      expectChallenge(expectRefused(await authenticate("Bearer not.a.jwt"), "malformed"), true)
      expectChallenge(expectRefused(await authenticate("Bearer abc"), "malformed"), true)
    })
  })

  describe("missing or malformed credentials", () => {
    it("refuses a request without Authorization, naming the metadata and no error code", async () => {
      const refused = expectRefused(await authenticate(), "missing")
      expectChallenge(refused, false)
    })

    it("refuses another scheme and a malformed Bearer header", async () => {
      const basic = expectRefused(await authenticate("Basic dXNlcjpwYXNz"), "malformed")
      expectChallenge(basic, true)
      expect(basic.detail).toBe("Authorization scheme Basic is not Bearer")
      expectChallenge(expectRefused(await authenticate("Bearer a b"), "malformed"), true)
      expectChallenge(expectRefused(await authenticate("Bearer"), "malformed"), true)
    })
  })

  describe("API keys", () => {
    it("accepts a valid key with its roles, pipeline pattern, tenant and expiry", async () => {
      const outcome = await authenticate(`Bearer ${apiKey.key}`)
      expect(outcome._tag).toBe("Authenticated")
      expect((outcome as Auth.Authenticated).principal).toEqual({
        kind: "apiKey",
        subject: "etl-nightly",
        tenant: "acme",
        roles: ["runner"],
        claims: {},
        pipelines: "orders_*",
        expiresAt: Date.parse("2099-01-01T00:00:00Z") / 1000
      })
    })

    it("refuses an unknown key, and a known id with the wrong secret", async () => {
      const unknown = Auth.generateApiKey("nobody")
      const refused = expectRefused(await authenticate(`Bearer ${unknown.key}`), "unknown_api_key")
      expectChallenge(refused, true)
      expect(refused.detail).toBe('no API key with id "nobody"')
      const forged = Auth.generateApiKey("etl-nightly")
      expectChallenge(expectRefused(await authenticate(`Bearer ${forged.key}`), "unknown_api_key"), true)
    })

    it("refuses a revoked key", async () => {
      const refused = expectRefused(await authenticate(`Bearer ${revokedKey.key}`), "revoked_api_key")
      expectChallenge(refused, true)
    })

    it("refuses an expired key", async () => {
      const refused = expectRefused(await authenticate(`Bearer ${expiredKey.key}`), "expired_api_key")
      expectChallenge(refused, true)
      expect(refused.detail).toContain("2020-01-01T00:00:00.000Z")
    })

    it("refuses a dmk_ token of the wrong shape", async () => {
      expectChallenge(expectRefused(await authenticate("Bearer dmk_etl-nightly_short"), "malformed"), true)
    })

    it("hashes and generates keys in the documented format", () => {
      expect(apiKey.key).toMatch(/^dmk_etl-nightly_[A-Za-z0-9_-]{43}$/)
      expect(apiKey.hash).toMatch(/^sha256:[0-9a-f]{64}$/)
      expect(Auth.hashApiKey(apiKey.key)).toBe(apiKey.hash)
      expect(Auth.generateApiKey("etl-nightly").key).not.toBe(apiKey.key)
      expect(() => Auth.hashApiKey("hunter2")).toThrow(Config.ConfigError)
      expect(() => Auth.generateApiKey("bad id")).toThrow(Config.ConfigError)
      try {
        Auth.hashApiKey("dmk_x_tooShortSecret")
      } catch (e) {
        expect(String(e)).not.toContain("tooShortSecret")
      }
    })

    it("accepts only API keys when no issuer is configured", async () => {
      const keysOnly = Auth.make({
        resource: RESOURCE,
        apiKeys: [{ id: "etl-nightly", hash: apiKey.hash, roles: [], expiresAt: "2099-01-01" }]
      })
      expect((await authenticate(`Bearer ${apiKey.key}`, keysOnly))._tag).toBe("Authenticated")
      const jwt = await sign(current, claims())
      const refused = expectRefused(await authenticate(`Bearer ${jwt}`, keysOnly), "malformed")
      expectChallenge(refused, true)
      expect(refused.detail).toContain("no issuer configured")
    })
  })

  describe("the verified-token cache", () => {
    // An issuer whose single key the test drops, and an authenticator that refetches keys after 1 s; the clock is
    // faked (Date only) so the test moves past exp and cache ages without waiting.
    const withDroppingIssuer = async (
      kid: string,
      options: Partial<Auth.AuthOptions>,
      body: (
        dropping: Awaited<ReturnType<typeof startIssuer>>,
        key: SigningKey,
        auth: Auth.Authenticator
      ) => Promise<void>
    ) => {
      const dropping = await startIssuer()
      vi.useFakeTimers({ toFake: ["Date"] })
      try {
        const key = await makeKey(kid)
        dropping.state.keys = [key.jwk]
        const droppingAuth = Auth.make({
          resource: RESOURCE,
          issuer: dropping.url,
          jwksUri: `${dropping.url}/jwks`,
          jwksCacheMaxAgeMs: 1_000,
          jwksCooldownMs: 0,
          ...options
        })
        await body(dropping, key, droppingAuth)
      } finally {
        vi.useRealTimers()
        await close(dropping.server)
      }
    }

    it("serves a verified token again only before its exp and for at most verifiedTokenCacheMs", () =>
      withDroppingIssuer(
        "cached-1",
        { clockToleranceSeconds: 0, verifiedTokenCacheMs: 60_000 },
        async (dropping, key, cachedAuth) => {
          const token = (extra: Record<string, unknown>) => sign(key, claims({ iss: dropping.url, ...extra }))
          const longLived = await token({ exp: now() + 3_600 })
          const shortLived = await token({ exp: now() + 5 })
          expect((await authenticate(`Bearer ${longLived}`, cachedAuth))._tag).toBe("Authenticated")
          expect((await authenticate(`Bearer ${shortLived}`, cachedAuth))._tag).toBe("Authenticated")

          vi.setSystemTime(Date.now() + 10_000)
          // past its exp: never served from the cache
          expectRefused(await authenticate(`Bearer ${shortLived}`, cachedAuth), "expired")

          // the issuer drops the key; the key set's cache is stale, so a token not yet seen is checked and refused
          dropping.state.keys = []
          vi.setSystemTime(Date.now() + 2_000)
          expectRefused(await authenticate(`Bearer ${await token({ jti: "fresh" })}`, cachedAuth), "unknown_kid")
          // the remembered token is still accepted within verifiedTokenCacheMs (the documented trade-off) …
          expect((await authenticate(`Bearer ${longLived}`, cachedAuth))._tag).toBe("Authenticated")
          // … and verified again after it: refused
          vi.setSystemTime(Date.now() + 50_000)
          expectRefused(await authenticate(`Bearer ${longLived}`, cachedAuth), "unknown_kid")
        }
      ))

    it("verifiedTokenCacheMs: 0 verifies every request", () =>
      withDroppingIssuer("uncached-1", { verifiedTokenCacheMs: 0 }, async (dropping, key, uncachedAuth) => {
        const token = await sign(key, claims({ iss: dropping.url }))
        expect((await authenticate(`Bearer ${token}`, uncachedAuth))._tag).toBe("Authenticated")
        dropping.state.keys = []
        vi.setSystemTime(Date.now() + 2_000)
        expectRefused(await authenticate(`Bearer ${token}`, uncachedAuth), "unknown_kid")
      }))
  })

  describe("the issuer's keys", () => {
    it("picks up a rotated key: a token with the new kid refetches the JWKS once, past the cooldown", async () => {
      const rotating = await startIssuer()
      try {
        const first = await makeKey("2026-a")
        const second = await makeKey("2026-b")
        rotating.state.keys = [first.jwk]
        const rotatingAuth = Auth.make({
          resource: RESOURCE,
          issuer: rotating.url,
          jwksUri: `${rotating.url}/jwks`,
          jwksCooldownMs: 200
        })
        const token = (key: SigningKey) => sign(key, claims({ iss: rotating.url }))
        expect((await authenticate(`Bearer ${await token(first)}`, rotatingAuth))._tag).toBe("Authenticated")
        expect(rotating.state.jwksHits).toBe(1)
        expect(rotating.state.discoveryHits).toBe(0) // jwksUri configured: no discovery

        rotating.state.keys = [second.jwk] // the issuer rotates; the server is not restarted
        await new Promise((resolve) => setTimeout(resolve, 250))
        expect((await authenticate(`Bearer ${await token(second)}`, rotatingAuth))._tag).toBe("Authenticated")
        expect(rotating.state.jwksHits).toBe(2)
        // the new set is cached: another token with the new kid fetches nothing
        expect((await authenticate(`Bearer ${await token(second)}`, rotatingAuth))._tag).toBe("Authenticated")
        // an unknown kid right after a fetch is refused without refetching (the cooldown)
        expectRefused(await authenticate(`Bearer ${await token(stranger)}`, rotatingAuth), "unknown_kid")
        expect(rotating.state.jwksHits).toBe(2)
      } finally {
        await close(rotating.server)
      }
    })

    it("answers 503 jwks_unavailable when the JWKS server is down, at once", async () => {
      const gone = await startIssuer()
      await close(gone.server) // nothing listens on that port any more
      const downAuth = Auth.make({ resource: RESOURCE, issuer: gone.url, jwksUri: `${gone.url}/jwks` })
      const started = Date.now()
      const refused = expectRefused(
        await authenticate(`Bearer ${await sign(current, claims({ iss: gone.url }))}`, downAuth),
        "jwks_unavailable"
      )
      expect(Date.now() - started).toBeLessThan(2_000)
      expect(refused.status).toBe(503)
      expect(refused.response.status).toBe(503)
      expect(refused.response.headers.get("retry-after")).toBe("5")
      expect(refused.detail).toMatch(/^JWKS: /)
    })

    it("shares one discovery and one JWKS fetch among concurrent first requests", async () => {
      const fresh = await startIssuer()
      try {
        fresh.state.keys = [current.jwk]
        const freshAuth = Auth.make({ resource: RESOURCE, issuer: fresh.url })
        const token = await sign(current, claims({ iss: fresh.url }))
        const results = await Promise.all(Array.from({ length: 20 }, () => authenticate(`Bearer ${token}`, freshAuth)))
        expect(results.every((o) => o._tag === "Authenticated")).toBe(true)
        expect(fresh.state.discoveryHits).toBe(1)
        expect(fresh.state.jwksHits).toBe(1)
      } finally {
        await close(fresh.server)
      }
    })

    it("refuses to use a discovery document that names another issuer", async () => {
      const impostor = await startIssuer()
      try {
        impostor.state.keys = [current.jwk]
        impostor.state.documentIssuer = "https://idp.example"
        const impostorAuth = Auth.make({ resource: RESOURCE, issuer: impostor.url })
        const refused = expectRefused(
          await authenticate(`Bearer ${await sign(current, claims({ iss: impostor.url }))}`, impostorAuth),
          "jwks_unavailable"
        )
        expect(refused.detail).toContain('names another issuer ("https://idp.example")')
        expect(impostor.state.jwksHits).toBe(0)
      } finally {
        await close(impostor.server)
      }
    })

    it("answers jwks_unavailable when discovery fails", async () => {
      const gone = await startIssuer()
      await close(gone.server)
      const downAuth = Auth.make({ resource: RESOURCE, issuer: gone.url })
      const refused = expectRefused(
        await authenticate(`Bearer ${await sign(current, claims({ iss: gone.url }))}`, downAuth),
        "jwks_unavailable"
      )
      expect(refused.detail).toContain("openid-configuration")
    })

    it("does not hang on a JWKS server that never answers: the timeout refuses", async () => {
      const hanging = await startIssuer()
      hanging.state.hang = true
      try {
        const hangAuth = Auth.make({
          resource: RESOURCE,
          issuer: hanging.url,
          jwksUri: `${hanging.url}/jwks`,
          jwksTimeoutMs: 300
        })
        const started = Date.now()
        const refused = expectRefused(
          await authenticate(`Bearer ${await sign(current, claims({ iss: hanging.url }))}`, hangAuth),
          "jwks_unavailable"
        )
        expect(Date.now() - started).toBeLessThan(3_000)
        expect(refused.detail).toBe("JWKS: timed out")
        // discovery that hangs is bounded the same way
        const discoverAuth = Auth.make({ resource: RESOURCE, issuer: hanging.url, jwksTimeoutMs: 300 })
        const viaDiscovery = expectRefused(
          await authenticate(`Bearer ${await sign(current, claims({ iss: hanging.url }))}`, discoverAuth),
          "jwks_unavailable"
        )
        expect(viaDiscovery.detail).toContain("timed out")
      } finally {
        await close(hanging.server)
      }
    })
  })

  describe("protected-resource metadata (RFC 9728)", () => {
    it("serves the document at the path-aware and the root well-known paths", async () => {
      expect(auth.metadataUrl).toBe(METADATA_URL)
      for (const url of [METADATA_URL, "http://127.0.0.1:3333/.well-known/oauth-protected-resource"]) {
        const response = auth.metadata(new Request(url))
        expect(response?.status).toBe(200)
        expect(response?.headers.get("content-type")).toBe("application/json")
        expect(await response?.json()).toEqual({
          resource: RESOURCE,
          authorization_servers: [issuer.url],
          scopes_supported: ["pipelines:list", "pipelines:run"],
          bearer_methods_supported: ["header"],
          resource_name: "Warehouse pipelines"
        })
      }
      const head = auth.metadata(new Request(METADATA_URL, { method: "HEAD" }))
      expect(head?.status).toBe(200)
      expect(await head?.text()).toBe("")
      expect(auth.metadata(new Request(`${METADATA_URL}/`))?.status).toBe(200)
      const preflight = auth.metadata(
        new Request(METADATA_URL, {
          method: "OPTIONS",
          headers: { "access-control-request-headers": "mcp-protocol-version" }
        })
      )
      expect(preflight?.status).toBe(204)
      expect(preflight?.headers.get("access-control-allow-headers")).toBe("mcp-protocol-version")
    })

    it("leaves other requests alone", () => {
      expect(auth.metadata(new Request(RESOURCE))).toBeUndefined()
      expect(auth.metadata(new Request("http://127.0.0.1:3333/.well-known/oauth-authorization-server"))).toBeUndefined()
      expect(auth.metadata(new Request(METADATA_URL, { method: "POST", body: "{}" }))).toBeUndefined()
    })
  })

  describe("configuration", () => {
    const fails = (options: unknown, path: string) => {
      try {
        Auth.make(options as Auth.AuthOptions)
      } catch (e) {
        expect(e).toBeInstanceOf(Config.ConfigError)
        expect((e as Config.ConfigError).component).toBe("auth")
        expect((e as Config.ConfigError).path).toBe(path)
        return
      }
      expect.fail(`expected a ConfigError at ${path}`)
    }
    const key = { id: "a", hash: apiKey.hash, roles: [], expiresAt: "2099-01-01" }

    it("throws a ConfigError naming the field", () => {
      fails({ issuer: "https://idp.example" }, "resource")
      fails({ resource: RESOURCE }, "issuer")
      fails({ resource: RESOURCE, issuer: "https://idp.example", algorithms: ["RS256", "HS256"] }, "algorithms.1")
      fails({ resource: RESOURCE, issuer: "https://idp.example", algorithms: ["none"] }, "algorithms.0")
      fails({ resource: RESOURCE, issuer: "http://idp.example" }, "issuer")
      fails({ resource: "http://api.example/mcp", apiKeys: [] }, "resource")
      fails({ resource: RESOURCE, jwksUri: "https://idp.example/jwks", apiKeys: [] }, "jwksUri")
      fails({ resource: RESOURCE, issuer: "https://idp.example", clockToleranceSeconds: 3600 }, "clockToleranceSeconds")
      fails({ resource: RESOURCE, apiKeys: [{ ...key, hash: "md5:abc" }] }, "apiKeys.0.hash")
      fails({ resource: RESOURCE, apiKeys: [{ ...key, expiresAt: "tomorrow" }] }, "apiKeys.0.expiresAt")
      fails({ resource: RESOURCE, apiKeys: [key, key] }, "apiKeys.1.id")
      fails({ resource: RESOURCE, apiKeys: [], isuer: "https://idp.example" }, "isuer")
    })

    it("documents every API key field in the README (the table is Config.optionsTable(Auth.ApiKeyEntry))", () => {
      const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8")
      expect(readme).toContain(`Each entry of \`apiKeys\`:\n\n${Config.optionsTable(Auth.ApiKeyEntry)}\n`)
    })

    it("accepts http off loopback only with allowInsecureHttp", () => {
      expect(
        Auth.make({ resource: "http://mcp.internal/mcp", issuer: "http://idp.internal", allowInsecureHttp: true })
          .metadataUrl
      ).toBe("http://mcp.internal/.well-known/oauth-protected-resource/mcp")
    })
  })

  // Runs last: every credential sent above against every outcome recorded above.
  it("never puts a token or key in an outcome's detail, response body, headers or principal", async () => {
    expect(outcomes.length).toBeGreaterThan(30)
    expect(outcomes.some((o) => o._tag === "Refused")).toBe(true)
    const secrets = presented.filter((s) => s.length >= 16)
    for (const outcome of outcomes) {
      const texts =
        outcome._tag === "Refused"
          ? [outcome.detail, await outcome.response.clone().text(), JSON.stringify([...outcome.response.headers])]
          : [JSON.stringify(outcome.principal)]
      for (const text of texts) {
        for (const secret of secrets) {
          expect(text).not.toContain(secret)
          // nor a JWT's signature or an API key's secret alone
          const tail = secret.split(/[._]/).at(-1) ?? ""
          if (tail.length >= 16) expect(text).not.toContain(tail)
        }
      }
    }
  })
})
