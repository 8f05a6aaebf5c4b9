// Params bound to the caller's verified token (`mcp.bind`, DESIGN §7): hidden from tool schemas, refused when a
// caller sets them, filled from the token's claims, and handed to the runner as bound values (part of the state
// key and the run record), so runs and state are partitioned by them.
import type { Checkpoint, Pipeline } from "@data-mcp/core"
import { Effect } from "effect"
import { InvalidInput, MissingClaim } from "../McpError.ts"
import { type Caller, claimAt } from "../RequestContext.ts"

/** The params of a pipeline bound to claims: param → claim path. */
export const bindingsOf = (pipeline: Pipeline.Any): ReadonlyArray<{ readonly param: string; readonly claim: string }> =>
  Object.entries(pipeline.options.mcp?.bind ?? {}).map(([param, ref]) => ({ param, claim: ref.slice("claim:".length) }))

export interface Bound {
  /** The params with the bound ones filled from the token. */
  readonly params: unknown
  /** The bound values alone (for the state key and the run record). */
  readonly bound: Readonly<Record<string, Checkpoint.Json>>
}

/**
 * Fills a pipeline's bound params from the caller's claims. A caller that sets one is refused (naming the field);
 * a token without the claim is refused too — a bound pipeline never runs unpartitioned.
 */
export const bind = (
  pipeline: Pipeline.Any,
  caller: Caller,
  given: unknown,
  field = "params"
): Effect.Effect<Bound, InvalidInput | MissingClaim> =>
  Effect.suspend((): Effect.Effect<Bound, InvalidInput | MissingClaim> => {
    const bindings = bindingsOf(pipeline)
    if (bindings.length === 0) return Effect.succeed({ params: given, bound: {} })
    const params: Record<string, unknown> =
      typeof given === "object" && given !== null ? { ...(given as Record<string, unknown>) } : {}
    const bound: Record<string, Checkpoint.Json> = {}
    for (const { param, claim } of bindings) {
      if (Object.hasOwn(params, param))
        return Effect.fail(
          new InvalidInput({
            field: `${field}.${param}`,
            detail: `${param} is bound to your token's ${claim} claim: it cannot be set, leave it out`
          })
        )
      const value = claimAt(caller.claims, claim)
      if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean")
        return Effect.fail(new MissingClaim({ pipeline: pipeline.name, param, claim }))
      params[param] = value
      bound[param] = value
    }
    return Effect.succeed({ params, bound })
  })

/** A JSON Schema of params without the bound ones (what agents see). */
export const withoutBound = (pipeline: Pipeline.Any, schema: Record<string, unknown>): Record<string, unknown> => {
  const bindings = bindingsOf(pipeline)
  if (bindings.length === 0 || typeof schema.properties !== "object" || schema.properties === null) return schema
  const hidden = new Set(bindings.map((b) => b.param))
  const properties = Object.fromEntries(
    Object.entries(schema.properties as Record<string, unknown>).filter(([k]) => !hidden.has(k))
  )
  const required = Array.isArray(schema.required)
    ? (schema.required as ReadonlyArray<string>).filter((k) => !hidden.has(k))
    : undefined
  return { ...schema, properties, ...(required === undefined ? {} : { required }) }
}
