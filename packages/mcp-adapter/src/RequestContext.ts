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
  readonly permissions: ReadonlySet<Permission>
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
}): Caller => ({
  subject: options.subject,
  tenant: options.tenant,
  clientId: options.clientId,
  permissions: new Set(options.permissions)
})

const known = new Set<string>(allPermissions)

/**
 * A caller from verified `AuthInfo`: the subject is `extra.sub` (else the client id), the tenant `extra.tenant`,
 * and the permissions are the token's scopes that name a permission.
 *
 * @category constructors
 * @since 0.1.0
 */
export const fromAuthInfo = (authInfo: AuthInfo): Caller => {
  const extra = authInfo.extra ?? {}
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
export const grants = (caller: Caller, permission: Permission): boolean => caller.permissions.has(permission)
