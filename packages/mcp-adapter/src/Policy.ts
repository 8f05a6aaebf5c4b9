/**
 * The RBAC policy (DESIGN §7): data, validated when it is made, that maps a verified identity to a `Caller`.
 * Roles grant permissions, for every pipeline or for the pipelines whose name matches a pattern; an identity gets
 * roles from its token's claims (`claims` rules) or directly (an API key's roles). Deny by default: an identity
 * that no rule gives a role can do nothing. The roles' permissions are then limited by the token's scopes: a
 * permission whose scope the token lacks answers 403 `insufficient_scope` naming the scope.
 *
 * **Example** (Analysts read everything and run the `orders_*` pipelines; operators do all)
 *
 * ```ts
 * import { Policy } from "@data-mcp/mcp-adapter"
 *
 * const policy = Policy.make({
 *   roles: {
 *     analyst: [
 *       { permissions: ["pipelines:list", "pipelines:read", "pipelines:preview", "runs:read"] },
 *       { permissions: ["pipelines:run", "runs:cancel"], pipelines: "orders_*" }
 *     ],
 *     operator: [{ permissions: ["*"] }]
 *   },
 *   claims: [
 *     { claim: "groups", includes: "data-analysts", roles: ["analyst"] },
 *     { claim: "groups", includes: "data-ops", roles: ["operator"] }
 *   ],
 *   tenantClaim: "org"
 * })
 * ```
 *
 * @since 0.1.0
 */
import { Config } from "@data-mcp/core"
import { Effect, Schema } from "effect"
import * as RequestContext from "./RequestContext.ts"

const { claimAt } = RequestContext

const PermissionName = Schema.Literals([...RequestContext.allPermissions, "*"])

const GrantSchema = Schema.Struct({
  permissions: Schema.Array(PermissionName)
    .check(Schema.isMinLength(1))
    .annotate({ description: 'Permissions of DESIGN §7, or "*" for all.' }),
  pipelines: Schema.optionalKey(
    Schema.String.check(Schema.isMinLength(1)).annotate({
      description: "Only for pipelines whose name matches this glob (* and ?); every pipeline when absent."
    })
  )
})

const ClaimRule = Schema.Struct({
  claim: Schema.String.check(Schema.isMinLength(1)).annotate({
    description: "A claim of the verified token (a dotted path into nested claims: realm_access.roles)."
  }),
  equals: Schema.optionalKey(Schema.String.annotate({ description: "The claim's value is exactly this." })),
  includes: Schema.optionalKey(
    Schema.String.annotate({ description: "The claim (an array, or space-separated text) contains this." })
  ),
  roles: Schema.Array(Schema.String).check(Schema.isMinLength(1))
})

/**
 * The policy as data. The README's options table is generated from these descriptions.
 *
 * @category schemas
 * @since 0.1.0
 */
export const PolicySchema = Schema.Struct({
  roles: Schema.Record(Schema.String, Schema.Array(GrantSchema)).annotate({
    description: "Role name → the permissions it grants, each optionally for a pipeline-name pattern."
  }),
  claims: Schema.optionalKey(
    Schema.Array(ClaimRule).annotate({
      description: "Rules giving roles from token claims; an identity gets the roles of every rule it matches."
    })
  ),
  tenantClaim: Schema.optionalKey(
    Schema.String.annotate({
      description: "The claim naming the caller's tenant (runs, state and instances are partitioned by it)."
    })
  ),
  scopes: Schema.optionalKey(
    Schema.Literals(["intersect", "ignore"]).annotate({
      description: "intersect (default): a permission needs the token scope of the same name too; ignore: roles alone."
    })
  ),
  anonymous: Schema.optionalKey(
    Schema.Array(Schema.String).annotate({
      description: "Roles of callers without credentials (default none: denied)."
    })
  )
})

/**
 * The policy's input.
 *
 * @category models
 * @since 0.1.0
 */
export type PolicyInput = typeof PolicySchema.Encoded

/**
 * A validated policy.
 *
 * @category models
 * @since 0.1.0
 */
export interface Policy {
  readonly input: typeof PolicySchema.Type
}

/**
 * A verified identity, as the authentication layer hands it over (`Auth.Principal` is one).
 *
 * @category models
 * @since 0.1.0
 */
export interface Identity {
  readonly subject: string
  readonly clientId?: string | undefined
  /** A tenant the credential itself carries (an API key's); else the policy's `tenantClaim` names it. */
  readonly tenant?: string | undefined
  /** The token's scopes (`undefined`: a credential without scopes, e.g. an API key). */
  readonly scopes?: ReadonlyArray<string> | undefined
  /** Roles the credential grants directly (an API key's). */
  readonly roles?: ReadonlyArray<string> | undefined
  readonly claims?: Readonly<Record<string, unknown>> | undefined
  readonly jti?: string | undefined
  /** A pipeline-name pattern the credential is limited to (an API key's). */
  readonly pipelines?: string | undefined
}

/**
 * Validates a policy; a bad one throws `ConfigError` naming the field (an unknown role in a claim rule, an unknown
 * permission, a rule with neither `equals` nor `includes`).
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (input: PolicyInput): Policy => {
  const decoded = Config.decodeSync("policy", PolicySchema, input)
  const known = new Set(Object.keys(decoded.roles))
  const rules = decoded.claims ?? []
  rules.forEach((rule, i) => {
    if (rule.equals === undefined && rule.includes === undefined)
      throw new Config.ConfigError({
        component: "policy",
        path: `claims.${i}`,
        detail: "give equals or includes: a rule matching any value of the claim would grant too much by accident"
      })
    rule.roles.forEach((role, j) => {
      if (!known.has(role))
        throw new Config.ConfigError({
          component: "policy",
          path: `claims.${i}.roles.${j}`,
          detail: `unknown role "${role}"; the roles are ${[...known].join(", ") || "none"}`
        })
    })
  })
  ;(decoded.anonymous ?? []).forEach((role, i) => {
    if (!known.has(role))
      throw new Config.ConfigError({ component: "policy", path: `anonymous.${i}`, detail: `unknown role "${role}"` })
  })
  return { input: decoded }
}

const ruleMatches = (
  rule: { readonly claim: string; readonly equals?: string; readonly includes?: string },
  claims: Readonly<Record<string, unknown>> | undefined
): boolean => {
  const value = claimAt(claims, rule.claim)
  if (rule.equals !== undefined && value === rule.equals) return true
  if (rule.includes !== undefined) {
    if (Array.isArray(value)) return value.includes(rule.includes)
    if (typeof value === "string") return value.split(" ").includes(rule.includes)
  }
  return false
}

/**
 * The roles an identity holds under the policy: its own (an API key's, when the policy defines them) and those of
 * every claim rule it matches.
 *
 * @category utils
 * @since 0.1.0
 */
export const rolesOf = (policy: Policy, identity: Identity | undefined): ReadonlyArray<string> => {
  const { roles, claims, anonymous } = policy.input
  if (identity === undefined) return anonymous ?? []
  const out = new Set<string>()
  for (const role of identity.roles ?? []) if (Object.hasOwn(roles, role)) out.add(role)
  for (const rule of claims ?? []) if (ruleMatches(rule, identity.claims)) for (const role of rule.roles) out.add(role)
  return [...out]
}

/**
 * The caller an identity is under the policy (`undefined`: no credentials): its roles' permissions — for every
 * pipeline, or per pipeline pattern, and within the credential's own pipeline pattern — its token's scopes
 * (unless the policy ignores scopes), claims and tenant.
 *
 * @category constructors
 * @since 0.1.0
 */
export const callerOf = (policy: Policy, identity: Identity | undefined): RequestContext.Caller => {
  const permissions = new Set<RequestContext.Permission>()
  const grants: Array<RequestContext.Grant> = []
  for (const role of rolesOf(policy, identity)) {
    for (const grant of policy.input.roles[role] ?? []) {
      const names = grant.permissions.includes("*")
        ? RequestContext.allPermissions
        : (grant.permissions as ReadonlyArray<RequestContext.Permission>)
      const pattern = grant.pipelines ?? identity?.pipelines
      // A credential limited to a pattern (an API key's) narrows a role's pattern further: both must match.
      const within = grant.pipelines !== undefined ? identity?.pipelines : undefined
      for (const permission of names) {
        if (pattern === undefined) permissions.add(permission)
        else grants.push({ permission, pipelines: pattern, ...(within === undefined ? {} : { within }) })
      }
    }
  }
  const tenantClaim = policy.input.tenantClaim
  const claimed = tenantClaim === undefined ? undefined : claimAt(identity?.claims, tenantClaim)
  const tenant = identity?.tenant ?? (typeof claimed === "string" && claimed !== "" ? claimed : undefined)
  return RequestContext.make({
    subject: identity?.subject ?? "anonymous",
    tenant,
    clientId: identity?.clientId,
    permissions,
    grants: grants.filter((g) => !permissions.has(g.permission)),
    scopes: policy.input.scopes === "ignore" ? undefined : identity?.scopes,
    claims: identity?.claims,
    tokenId: identity?.jti
  })
}

/**
 * The policy as an Effect that validates (for config loaded at run time).
 *
 * @category constructors
 * @since 0.1.0
 */
export const decode = (input: unknown): Effect.Effect<Policy, Config.ConfigError> =>
  Effect.try({ try: () => make(input as PolicyInput), catch: (e) => e as Config.ConfigError })
