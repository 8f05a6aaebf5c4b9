// The pipelines a server offers: the set's, plus those registered at run time (code via `register`, template
// instances via register_pipeline, which belong to a tenant). Visibility per caller: a tenant sees only its
// own instances; operator-exposed pipelines need `pipelines:operate`.
import type { Pipeline, Source } from "@data-mcp/core"
import { type Caller, roleGrants } from "../RequestContext.ts"
import { sinkOf } from "./connectors.ts"

export interface Entry {
  readonly pipeline: Pipeline.Any
  /** Set for template instances: the tenant that registered it (`null`: registered without a tenant). */
  readonly owner?: { readonly tenant: string | undefined } | undefined
  /** Template instances: `template@version` and the params. */
  readonly origin?: { readonly template: string; readonly params: unknown } | undefined
}

/**
 * Who sees a pipeline: as declared, else operators only when its source holds private data or its sink sends
 * records out of the organisation (open-world), else agents. A sink built from params is judged from the
 * default params, when there are some.
 */
export const exposureOf = (pipeline: Pipeline.Any): "agent" | "operator" => {
  const declared = pipeline.options.mcp?.exposure
  if (declared !== undefined) return declared
  let judged = exposures.get(pipeline)
  if (judged === undefined) {
    const source = typeof pipeline.source === "function" ? undefined : (pipeline.source as Source.Any)
    judged = source?.sensitive === true || sinkOf(pipeline)?.capabilities.openWorld === true ? "operator" : "agent"
    exposures.set(pipeline, judged)
  }
  return judged
}

const exposures = new WeakMap<Pipeline.Any, "agent" | "operator">()

export class Catalog {
  readonly #entries = new Map<string, Entry>()
  readonly #listeners = new Set<() => void>()

  constructor(pipelines: ReadonlyArray<Pipeline.Any>) {
    for (const pipeline of pipelines) this.#entries.set(pipeline.name, { pipeline })
  }

  /** Called after every change (registration or removal). */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  #changed(): void {
    for (const listener of this.#listeners) listener()
  }

  has(name: string): boolean {
    return this.#entries.has(name)
  }

  add(entry: Entry): void {
    this.#entries.set(entry.pipeline.name, entry)
    this.#changed()
  }

  remove(name: string): boolean {
    const removed = this.#entries.delete(name)
    if (removed) this.#changed()
    return removed
  }

  // Deny by default: a pipeline is visible only when the caller's roles let it list or read that very pipeline
  // (a pattern grant reaches only the names it matches), in the caller's tenant, and — for operator pipelines —
  // with `pipelines:operate` for it.
  isVisible(caller: Caller, entry: Entry): boolean {
    const name = entry.pipeline.name
    if (entry.owner !== undefined && entry.owner.tenant !== caller.tenant) return false
    if (!roleGrants(caller, "pipelines:list", name) && !roleGrants(caller, "pipelines:read", name)) return false
    return exposureOf(entry.pipeline) === "agent" || roleGrants(caller, "pipelines:operate", name)
  }

  /** Every entry the caller may see, by name. */
  visible(caller: Caller): Array<Entry> {
    return [...this.#entries.values()]
      .filter((e) => this.isVisible(caller, e))
      .sort((a, b) => (a.pipeline.name < b.pipeline.name ? -1 : 1))
  }

  /** The entry if the caller may see it. */
  get(caller: Caller, name: string): Entry | undefined {
    const entry = this.#entries.get(name)
    return entry !== undefined && this.isVisible(caller, entry) ? entry : undefined
  }

  /** Every entry regardless of caller (per-pipeline tools are filtered per request). */
  all(): Array<Entry> {
    return [...this.#entries.values()]
  }
}
