// A local OIDC issuer stand-in for tests: signing keys made with jose, a discovery document and a JWKS the test can
// swap (rotation), fetch counters, and a switch that makes it stop answering.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from "jose"

export type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>
export interface SigningKey {
  readonly kid: string
  readonly alg: string
  readonly pair: KeyPair
  readonly jwk: JWK
}

export const makeKey = async (kid: string, alg = "ES256"): Promise<SigningKey> => {
  const pair = await generateKeyPair(alg, { extractable: true })
  return { kid, alg, pair, jwk: { ...(await exportJWK(pair.publicKey)), kid, alg, use: "sig" } }
}

/** An OIDC issuer stand-in: discovery document and a JWKS that the test can swap; counts the fetches. */
export const startIssuer = async () => {
  const state = {
    keys: [] as Array<JWK>,
    jwksHits: 0,
    discoveryHits: 0,
    hang: false,
    documentIssuer: undefined as string | undefined
  }
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (state.hang) return // never answers
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    if (req.url === "/.well-known/openid-configuration") {
      state.discoveryHits++
      res.writeHead(200, { "content-type": "application/json" })
      res.end(JSON.stringify({ issuer: state.documentIssuer ?? base, jwks_uri: `${base}/jwks` }))
    } else if (req.url === "/jwks") {
      state.jwksHits++
      res.writeHead(200, { "content-type": "application/json" })
      res.end(JSON.stringify({ keys: state.keys }))
    } else {
      res.writeHead(404).end()
    }
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return { server, url, state }
}

export const close = (server: Server) =>
  new Promise<void>((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  })

export const sign = (key: SigningKey, claims: JWTPayload, header: Record<string, unknown> = {}) =>
  new SignJWT(claims)
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: "JWT", ...header })
    .sign(key.pair.privateKey)
