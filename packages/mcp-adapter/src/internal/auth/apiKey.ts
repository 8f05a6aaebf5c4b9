// Static API keys for service accounts. A key is `dmk_<id>_<secret>`: the id names the configured entry (it is
// not secret: it shows in audit as the subject), the secret is 32 random bytes in base64url (43 characters).
// Config holds only `sha256:<hex>` of the whole key. SHA-256 rather than a slow KDF: a slow KDF protects
// guessable passwords, and these secrets carry 256 bits of randomness, so a stolen hash cannot be reversed by
// brute force however fast the hash is — while a per-request KDF would cost milliseconds on every call.
// Hashes are compared with `timingSafeEqual`; an unknown id is compared against a dummy so both paths cost the same.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto"
import type { AuditReason } from "../../Auth.ts"

export const PREFIX = "dmk_"
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/
export const HASH_PATTERN = /^sha256:[0-9a-f]{64}$/
const KEY_PATTERN = /^dmk_([A-Za-z0-9][A-Za-z0-9_.-]{0,63})_([A-Za-z0-9_-]{43})$/

/** The id of a well-formed key, else `undefined`. */
export const idOf = (key: string): string | undefined => KEY_PATTERN.exec(key)?.[1]

const digest = (key: string): Buffer => createHash("sha256").update(key, "utf8").digest()

/** `sha256:<hex>` of a key (the caller has checked its format). */
export const hash = (key: string): string => `sha256:${digest(key).toString("hex")}`

/** A new key for an id (the caller has checked the id). */
export const generate = (id: string): { readonly key: string; readonly hash: string } => {
  const key = `${PREFIX}${id}_${randomBytes(32).toString("base64url")}`
  return { key, hash: hash(key) }
}

export interface Entry {
  readonly id: string
  /** The stored digest (32 bytes). */
  readonly digest: Buffer
  readonly roles: ReadonlyArray<string>
  readonly pipelines: string
  readonly tenant: string | undefined
  /** Epoch seconds. */
  readonly expiresAt: number
  readonly revoked: boolean
}

export type Lookup =
  | { readonly ok: true; readonly entry: Entry }
  | { readonly ok: false; readonly reason: AuditReason; readonly detail: string }

const DUMMY = Buffer.alloc(32)

/** Finds the entry a presented key proves, or says why none. */
export const makeLookup = (entries: ReadonlyArray<Entry>): ((key: string, nowSeconds: number) => Lookup) => {
  const byId = new Map(entries.map((entry) => [entry.id, entry]))
  return (key, nowSeconds) => {
    const id = idOf(key)
    if (id === undefined) return { ok: false, reason: "malformed", detail: "not a dmk_<id>_<secret> API key" }
    const entry = byId.get(id)
    const matches = timingSafeEqual(digest(key), entry?.digest ?? DUMMY)
    if (entry === undefined || !matches)
      return {
        ok: false,
        reason: "unknown_api_key",
        detail: entry === undefined ? `no API key with id "${id}"` : `API key "${id}": the secret does not match`
      }
    if (entry.revoked) return { ok: false, reason: "revoked_api_key", detail: `API key "${id}" is revoked` }
    if (entry.expiresAt <= nowSeconds)
      return {
        ok: false,
        reason: "expired_api_key",
        detail: `API key "${id}" expired at ${new Date(entry.expiresAt * 1000).toISOString()}`
      }
    return { ok: true, entry }
  }
}
