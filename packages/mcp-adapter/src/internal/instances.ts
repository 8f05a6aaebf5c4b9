// Template instances (register_pipeline): built from an offered template and params, owned by a tenant, and —
// when the server has a `PipelineRegistry` — recorded there with their template and params, so they outlive the
// process and are found by every replica that shares the registry's store (restored at start, and by name on a
// miss). Only data is stored; the pipeline is rebuilt from the template the server offers now.
import { createHash } from "node:crypto"
import {
  type Checkpoint,
  type ConnectorCatalog,
  Pipeline,
  PipelineRegistry,
  PipelineSpec,
  type SecretProvider,
  type StateStore
} from "@data-mcp/core"
import { Effect, Option, Schema } from "effect"
import { NotFound } from "../McpError.ts"
import type { Entry } from "./catalog.ts"

export interface InstanceOptions {
  readonly templates: ReadonlyArray<PipelineSpec.Template>
  readonly connectors: ConnectorCatalog.ConnectorCatalog
  readonly secrets: SecretProvider.SecretProviderShape
  readonly registry: Option.Option<PipelineRegistry.PipelineRegistryShape>
}

/** What the registry keeps of an instance (its entry's `spec`). */
const Stored = Schema.Struct({ template: Schema.String, params: Schema.Unknown })

const hash = (value: unknown): string => createHash("sha256").update(JSON.stringify(value)).digest("hex").slice(0, 8)

/** The newest offered template for `name` or `name@version`. */
export const findTemplate = (
  templates: ReadonlyArray<PipelineSpec.Template>,
  reference: string
): PipelineSpec.Template | undefined => {
  const at = reference.indexOf("@")
  const name = at < 0 ? reference : reference.slice(0, at)
  const version = at < 0 ? undefined : reference.slice(at + 1)
  return templates
    .filter((t) => t.name === name && (version === undefined || t.version === version))
    .sort((a, b) => PipelineRegistry.compareVersions(b.version, a.version))[0]
}

/** An instance's name: the template's name and a hash of its version, the tenant and the params. */
export const instanceName = (template: PipelineSpec.Template, tenant: string | undefined, params: unknown): string =>
  `${template.name}_${hash([template.version, tenant ?? null, params])}`

/** Builds the instance of `template` with `params` for `tenant`. */
export const build = (
  options: InstanceOptions,
  template: PipelineSpec.Template,
  params: unknown,
  tenant: string | undefined
): Effect.Effect<Entry, PipelineSpec.SpecError | unknown> =>
  Effect.gen(function* () {
    const built = yield* PipelineSpec.instantiate(template, params, {
      catalog: options.connectors,
      secrets: options.secrets
    })
    const name = instanceName(template, tenant, params)
    const pipeline = yield* Effect.try({
      try: () => Pipeline.make({ ...built, name }) as Pipeline.Any,
      catch: (error) => error
    })
    return { pipeline, owner: { tenant }, origin: { template: `${template.name}@${template.version}`, params } }
  })

/** Records an instance in the registry (no-op without one). Registering it again is harmless. */
export const save = (
  options: InstanceOptions,
  entry: Entry
): Effect.Effect<void, PipelineRegistry.RegistryError | StateStore.StateError> =>
  Option.match(options.registry, {
    onNone: () => Effect.void,
    onSome: (registry) =>
      registry
        .register(entry.pipeline, {
          ...(entry.owner?.tenant === undefined ? {} : { tenant: entry.owner.tenant }),
          spec: { template: entry.origin?.template ?? "", params: (entry.origin?.params ?? {}) as Checkpoint.Json }
        })
        .pipe(Effect.asVoid)
  })

/** Forgets a removed instance (no-op without a registry, or for a pipeline the registry does not hold). */
export const forget = (
  options: InstanceOptions,
  name: string
): Effect.Effect<void, PipelineRegistry.RegistryError | StateStore.StateError> =>
  Option.match(options.registry, {
    onNone: () => Effect.void,
    onSome: (registry) =>
      Effect.flatMap(registry.versions(name), (versions) =>
        versions.some((e) => e.spec !== undefined) ? Effect.asVoid(registry.remove(name)) : Effect.void
      )
  })

// Rebuilds a stored instance; one whose template is no longer offered, or no longer builds, is left out with a
// warning (it stays in the registry: offering the template again brings it back).
const rebuild = (options: InstanceOptions, entry: PipelineRegistry.Entry): Effect.Effect<Entry | undefined> =>
  Effect.gen(function* () {
    const stored = Schema.decodeUnknownOption(Stored)(entry.spec)
    if (Option.isNone(stored)) return undefined
    const template = findTemplate(options.templates, stored.value.template)
    if (template === undefined || `${template.name}@${template.version}` !== stored.value.template) {
      yield* Effect.logWarning(
        `registered pipeline ${entry.name} is not served: its template ${stored.value.template} is not offered`
      )
      return undefined
    }
    const built = yield* Effect.result(build(options, template, stored.value.params, entry.tenant))
    if (built._tag === "Failure") {
      yield* Effect.logWarning(`registered pipeline ${entry.name} is not served: it no longer builds from its template`)
      return undefined
    }
    return built.success.pipeline.name === entry.name ? built.success : undefined
  })

/** Every stored instance the server can serve (at start). */
export const restoreAll = (options: InstanceOptions): Effect.Effect<ReadonlyArray<Entry>, StateStore.StateError> =>
  Option.match(options.registry, {
    onNone: () => Effect.succeed([]),
    onSome: (registry) =>
      Effect.gen(function* () {
        const entries = (yield* registry.list()).filter((e) => e.spec !== undefined)
        const out: Array<Entry> = []
        for (const entry of entries) {
          const rebuilt = yield* rebuild(options, entry)
          if (rebuilt !== undefined) out.push(rebuilt)
        }
        return out
      })
  })

/** A stored instance by name (registered by another replica, or since this one started), if it can be served. */
export const restore = (
  options: InstanceOptions,
  name: string
): Effect.Effect<Entry | undefined, StateStore.StateError> =>
  Option.match(options.registry, {
    onNone: () => Effect.succeed(undefined),
    onSome: (registry) =>
      Effect.gen(function* () {
        const entry = (yield* registry.versions(name)).find((e) => e.spec !== undefined)
        return entry === undefined ? undefined : yield* rebuild(options, entry)
      })
  })

/** The error for a template reference no offered template matches. */
export const unknownTemplate = (reference: string) => new NotFound({ kind: "template", reference })
