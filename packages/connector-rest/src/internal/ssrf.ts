// The SSRF guard: which addresses an HTTP connector may connect to. Loopback, link-local (cloud metadata lives at
// 169.254.169.254 and fd00:ec2::254), private, CGNAT, unspecified and multicast addresses are refused unless the
// config allows private networks or names the host. The check runs on the URL of every hop (IP literals never
// reach DNS) and again inside the socket's DNS lookup, so a name that resolves to a private address is refused
// before any connect, and no DNS rebinding can slip between the check and the connect.

import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from "node:dns"
import { isIP } from "node:net"

const v4 = (address: string): number | undefined => {
  const parts = address.split(".")
  if (parts.length !== 4) return undefined
  let n = 0
  for (const p of parts) {
    const octet = Number(p)
    if (!/^\d{1,3}$/.test(p) || octet > 255) return undefined
    n = n * 256 + octet
  }
  return n
}

const inV4 = (n: number, base: string, bits: number): boolean => {
  const b = v4(base)!
  const size = 2 ** (32 - bits)
  return Math.floor(n / size) === Math.floor(b / size)
}

const V4_BLOCKED: ReadonlyArray<readonly [string, number, string]> = [
  ["0.0.0.0", 8, "unspecified"],
  ["10.0.0.0", 8, "private"],
  ["100.64.0.0", 10, "shared (CGNAT)"],
  ["127.0.0.0", 8, "loopback"],
  ["169.254.0.0", 16, "link-local (cloud metadata)"],
  ["172.16.0.0", 12, "private"],
  ["192.0.0.0", 24, "IETF protocol assignments"],
  ["192.168.0.0", 16, "private"],
  ["198.18.0.0", 15, "benchmarking"],
  ["224.0.0.0", 4, "multicast"],
  ["240.0.0.0", 4, "reserved"]
]

/** Expands an IPv6 address to 8 16-bit groups (an embedded IPv4 tail included). */
const v6Groups = (address: string): ReadonlyArray<number> | undefined => {
  let text = address.toLowerCase().split("%")[0]!
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)
  if (tail !== null) {
    const n = v4(tail[1]!)
    if (n === undefined) return undefined
    text = `${text.slice(0, -tail[1]!.length)}${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`
  }
  const [head, rest] = text.split("::") as [string, string | undefined]
  const a = head === "" ? [] : head.split(":")
  const b = rest === undefined || rest === "" ? [] : rest.split(":")
  const fill = rest === undefined ? 0 : 8 - a.length - b.length
  const groups = [...a, ...Array<string>(Math.max(0, fill)).fill("0"), ...b].map((g) => Number.parseInt(g, 16))
  return groups.length === 8 && groups.every((g) => g >= 0 && g <= 0xffff) ? groups : undefined
}

/**
 * Why an IP address is refused (`"loopback"`, `"private"`, …), or `undefined` when it is a public address.
 * A string that is not an IP address is refused as `"not an IP address"`.
 */
export const blockedReason = (address: string): string | undefined => {
  const family = isIP(address.split("%")[0]!)
  if (family === 4) {
    const n = v4(address)!
    return V4_BLOCKED.find(([base, bits]) => inV4(n, base, bits))?.[2]
  }
  if (family !== 6) return "not an IP address"
  const g = v6Groups(address)
  if (g === undefined) return "not an IP address"
  if (g.every((x) => x === 0)) return "unspecified"
  if (g.slice(0, 7).every((x) => x === 0) && g[7] === 1) return "loopback"
  // IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible (::a.b.c.d): judge the IPv4 address
  if (g.slice(0, 5).every((x) => x === 0) && (g[5] === 0xffff || g[5] === 0)) {
    return blockedReason(`${g[6]! >>> 8}.${g[6]! & 0xff}.${g[7]! >>> 8}.${g[7]! & 0xff}`)
  }
  if (g[0] === 0x64 && g[1] === 0xff9b) return "NAT64"
  if ((g[0]! & 0xffc0) === 0xfe80) return "link-local"
  if ((g[0]! & 0xfe00) === 0xfc00) return "private (unique local, incl. fd00:ec2::254 metadata)"
  if ((g[0]! & 0xff00) === 0xff00) return "multicast"
  return undefined
}

/** What the guard allows besides public addresses. */
export interface Policy {
  /** Allow every address (tests against a loopback server, trusted internal APIs). */
  readonly allowPrivateNetworks: boolean
  /** Host names or IP literals allowed even when private (lower case, IPv6 without brackets). */
  readonly allowHosts: ReadonlyArray<string>
}

const unbracket = (host: string) => (host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host)

/** Why a URL's host is refused before any DNS lookup (an IP literal that is private), or `undefined`. */
export const checkHost = (hostname: string, policy: Policy): string | undefined => {
  if (policy.allowPrivateNetworks) return undefined
  const host = unbracket(hostname.toLowerCase())
  if (policy.allowHosts.includes(host)) return undefined
  if (host === "localhost" || host.endsWith(".localhost")) return `${host} is loopback`
  if (isIP(host) === 0) return undefined // a name: judged on its resolved addresses in `lookup`
  const reason = blockedReason(host)
  return reason === undefined ? undefined : `${host} is ${reason}`
}

/** The error the guarded lookup fails a connect with; `code` lets the classifier tell it from DNS failures. */
export class Refused extends Error {
  readonly code = "DATA_MCP_SSRF_REFUSED"
  constructor(readonly detail: string) {
    super(`refused to connect: ${detail} (set allowPrivateNetworks or allowHosts to allow it)`)
    this.name = "SsrfRefused"
  }
}

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | Array<LookupAddress>,
  family?: number
) => void

/**
 * A `dns.lookup` for sockets that refuses names resolving to a blocked address (any of them), so the connection
 * is never opened.
 */
export const lookup =
  (policy: Policy) =>
  (hostname: string, options: LookupOptions, callback: LookupCallback): void => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error !== null) return callback(error, [])
      const allowed = policy.allowPrivateNetworks || policy.allowHosts.includes(hostname.toLowerCase())
      if (!allowed) {
        for (const { address } of addresses) {
          if (policy.allowHosts.includes(address)) continue
          const reason = blockedReason(address)
          if (reason !== undefined) return callback(new Refused(`${hostname} resolves to ${reason} ${address}`), [])
        }
      }
      if (options.all === true) return callback(null, addresses)
      const first = addresses[0]
      if (first === undefined)
        return callback(Object.assign(new Error(`${hostname} has no address`), { code: "ENOTFOUND" }), [])
      return callback(null, first.address, first.family)
    })
  }
