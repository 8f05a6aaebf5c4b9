/**
 * The request context says who is calling: a `Caller` with a subject, an optional tenant and client id, and the
 * permissions the call may use. Every tool and resource receives it, so runs record their caller, callers see
 * their own runs only, and the security layer (bearer JWTs, API keys, RBAC) plugs in by producing a `Caller`
 * from the verified `AuthInfo` — nothing else changes.
 *
 * @since 0.1.0
 */
import type { AuthInfo } from "@modelcontextprotocol/server"

/**
 * A permission a call may need (DESIGN §7). `runs:read:any` / `runs:cancel:any` reach other callers' runs;
 * `pipelines:operate` reveals pipelines with `exposure: "operator"`.
 *
 * @category models
 * @since 0.1.0
 */
export type Permission =
  | "pipelines:list"
  | "pipelines:read"
  | "pipelines:preview"
  | "pipelines:run"
  | "pipelines:register"
  | "pipelines:operate"
  | "runs:read"
  | "runs:read:any"
  | "runs:cancel"
  | "runs:cancel:any"
  | "deadletters:read"

/**
 * Every permission.
 *
 * @category constants
 * @since 0.1.0
 */
export const allPermissions: ReadonlyArray<Permission> = [
  "pipelines:list",
  "pipelines:read",
  "pipelines:preview",
  "pipelines:run",
  "pipelines:register",
  "pipelines:operate",
  "runs:read",
  "runs:read:any",
  "runs:cancel",
  "runs:cancel:any",
  "deadletters:read"
]

/**
 * What an agent may do on its own runs: everything except reaching other callers' runs and operator pipelines.
 *
 * @category constants
 * @since 0.1.0
 */
export const agentPermissions: ReadonlyArray<Permission> = allPermissions.filter(
  (p) => p !== "runs:read:any" && p !== "runs:cancel:any" && p !== "pipelines:operate"
)

/**
 * Who is calling.
 *
 * @category models
 * @since 0.1.0
 */
export interface Caller {
  /** A stable id of the caller (a token's `sub`, an API key's id, `"local"` for stdio). Runs record it. */
  readonly subject: string
  /** The tenant the caller acts for; runs and registered pipelines are partitioned by it. */
  readonly tenant?: string | undefined
  /** The OAuth client the caller uses, when known. */
  readonly clientId?: string | undefined
  /** Permissions granted for every pipeline. */
  readonly permissions: ReadonlySet<Permission>
  /** Permissions granted only for pipelines whose name matches a pattern (`orders_*`), from an RBAC policy. */
  readonly grants?: ReadonlyArray<Grant> | undefined
  /**
   * The verified token's scopes. A permission the roles grant is usable only when the scope of the same name is
   * among them (else the call gets 403 `insufficient_scope`). `undefined`: not limited by scopes (API keys, stdio).
   */
  readonly scopes?: ReadonlySet<string> | undefined
  /** The verified token's claims, for params bound to a claim (`mcp.bind`). */
  readonly claims?: Readonly<Record<string, unknown>> | undefined
  /** The token's id (`jti`), for audit. */
  readonly tokenId?: string | undefined
}

/**
 * A permission granted for the pipelines whose name matches `pipelines` (a glob: `*` any run of characters, `?`
 * one character; no pattern: every pipeline).
 *
 * @category models
 * @since 0.1.0
 */
export interface Grant {
  readonly permission: Permission
  readonly pipelines?: string | undefined
  /** A second pattern the name must match as well (a credential limited to some pipelines, e.g. an API key's). */
  readonly within?: string | undefined
}

/**
 * What a `CallerResolver` sees of a request.
 *
 * @category models
 * @since 0.1.0
 */
export interface RequestInfo {
  /** Validated authentication, passed by the host's auth middleware (never read from headers here). */
  readonly authInfo?: AuthInfo | undefined
  /** The HTTP request, when served over HTTP. */
  readonly request?: Request | undefined
  readonly transport: "http" | "stdio"
}

/**
 * Maps a request to its caller. The default is `fromRequest`.
 *
 * @category models
 * @since 0.1.0
 */
export type CallerResolver = (info: RequestInfo) => Caller

/**
 * Makes a caller.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (options: {
  readonly subject: string
  readonly tenant?: string | undefined
  readonly clientId?: string | undefined
  readonly permissions: Iterable<Permission>
  readonly grants?: ReadonlyArray<Grant> | undefined
  readonly scopes?: Iterable<string> | undefined
  readonly claims?: Readonly<Record<string, unknown>> | undefined
  readonly tokenId?: string | undefined
}): Caller => ({
  subject: options.subject,
  tenant: options.tenant,
  clientId: options.clientId,
  permissions: new Set(options.permissions),
  ...(options.grants === undefined || options.grants.length === 0 ? {} : { grants: options.grants }),
  ...(options.scopes === undefined ? {} : { scopes: new Set(options.scopes) }),
  ...(options.claims === undefined ? {} : { claims: options.claims }),
  ...(options.tokenId === undefined ? {} : { tokenId: options.tokenId })
})

/**
 * A caller from verified `AuthInfo`, without an RBAC policy. From this adapter's `auth` (`extra.principal`): the
 * principal's subject, tenant and claims, with the token's scopes (or an API key's roles) that name a permission
 * as its permissions. From a host's own auth middleware: `extra.sub` (else the client id), `extra.tenant`, and
 * the token's scopes that name a permission.
 *
 * @category constructors
 * @since 0.1.0
 */
const known = new Set<string>(allPermissions)

export const fromAuthInfo = (authInfo: AuthInfo): Caller => {
  const extra = authInfo.extra ?? {}
  const principal = extra.principal as
    | {
        readonly subject: string
        readonly tenant?: string
        readonly clientId?: string
        readonly scopes?: ReadonlyArray<string>
        readonly roles: ReadonlyArray<string>
        readonly claims: Readonly<Record<string, unknown>>
        readonly jti?: string
      }
    | undefined
  if (principal !== undefined)
    // Verified by this adapter's `auth`: a token's scopes, or an API key's roles, that name a permission.
    return make({
      subject: principal.subject,
      tenant: principal.tenant,
      clientId: principal.clientId,
      permissions: (principal.scopes ?? principal.roles).filter((s): s is Permission => known.has(s)),
      claims: principal.claims,
      tokenId: principal.jti
    })
  const sub = typeof extra.sub === "string" ? extra.sub : authInfo.clientId
  const tenant = typeof extra.tenant === "string" ? extra.tenant : undefined
  return make({
    subject: sub,
    tenant,
    clientId: authInfo.clientId,
    permissions: authInfo.scopes.filter((s): s is Permission => known.has(s))
  })
}

/**
 * The default resolver: `fromAuthInfo` when the host verified a token, else `anonymous`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const fromRequest =
  (anonymous: Caller): CallerResolver =>
  (info) =>
    info.authInfo === undefined ? anonymous : fromAuthInfo(info.authInfo)

/**
 * Whether the caller holds a permission.
 *
 * @category guards
 * @since 0.1.0
 */
export const grants = (caller: Caller, permission: Permission, pipeline?: string): boolean =>
  roleGrants(caller, permission, pipeline) && missingScope(caller, permission, pipeline) === undefined

const patterns = new Map<string, RegExp>()

/**
 * Whether a pipeline name matches a grant's glob (`*` any run of characters, `?` one character).
 *
 * @category utils
 * @since 0.1.0
 */
export const matches = (pattern: string, name: string): boolean => {
  let re = patterns.get(pattern)
  if (re === undefined) {
    const body = pattern
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replaceAll("*", ".*")
      .replaceAll("?", ".")
    re = new RegExp(`^${body}$`)
    patterns.set(pattern, re)
  }
  return re.test(name)
}

/**
 * Whether the caller's roles grant a permission: for every pipeline, or (with `pipeline`) for that one, or (without
 * `pipeline`) for some pipelines — e.g. `pipelines:list` through a pattern grant lets a caller list what it matches.
 *
 * @category utils
 * @since 0.1.0
 */
export const roleGrants = (caller: Caller, permission: Permission, pipeline?: string): boolean =>
  caller.permissions.has(permission) ||
  (caller.grants ?? []).some(
    (g) =>
      g.permission === permission &&
      (pipeline === undefined ||
        ((g.pipelines === undefined || matches(g.pipelines, pipeline)) &&
          (g.within === undefined || matches(g.within, pipeline))))
  )

/**
 * The scope a call lacks: the caller's roles grant `permission` but its token's scopes do not include the scope of
 * that name. `undefined` when nothing is missing (or the roles do not grant it at all, which is a plain denial).
 *
 * @category utils
 * @since 0.1.0
 */
export const missingScope = (caller: Caller, permission: Permission, pipeline?: string): string | undefined =>
  caller.scopes !== undefined && !caller.scopes.has(permission) && roleGrants(caller, permission, pipeline)
    ? permission
    : undefined

/**
 * A claim of a verified token by name, or by a dotted path into nested claims (`realm_access.roles`).
 *
 * @category utils
 * @since 0.1.0
 */
export const claimAt = (claims: Readonly<Record<string, unknown>> | undefined, path: string): unknown => {
  let value: unknown = claims
  for (const key of path.split(".")) {
    if (typeof value !== "object" || value === null || !Object.hasOwn(value, key)) return undefined
    value = (value as Record<string, unknown>)[key]
  }
  return value
}
