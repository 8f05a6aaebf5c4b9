/**
 * The registry holds the pipelines a process offers, by name and semver version, each with a content hash of
 * its definition. Registering the same name and version with a different definition is an error — a changed
 * description is a changed definition — so a tool cannot be swapped under an agent silently. Versions can be
 * deprecated (still runnable by exact version, no longer the default) and removed. Entries are kept by a
 * `RegistryStore` (memory, or a file under `.data-mcp/` so the hash rule holds across restarts); the pipeline
 * values themselves live in the process that registered them.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Ref, Schema, type Scope, Semaphore } from "effect"
import type { Json } from "./Checkpoint.ts"
import * as FileStore from "./internal/fileStore.ts"
import * as Pipeline from "./Pipeline.ts"
import type { StateError } from "./StateStore.ts"

/**
 * One registered version.
 *
 * @category models
 * @since 0.1.0
 */
export interface Entry {
  readonly name: string
  readonly version: string
  /** The content hash of the definition (see `Pipeline.contentHash`). */
  readonly hash: string
  readonly description: string
  readonly registeredAt: string
  readonly deprecated?: { readonly reason: string; readonly at: string } | undefined
  /** For pipelines instantiated from templates: the tenant that owns them. */
  readonly tenant?: string | undefined
  /** For pipelines stored as data (from templates): their spec. */
  readonly spec?: Json | undefined
}

/**
 * Why a registry operation failed.
 *
 * @category errors
 * @since 0.1.0
 */
export class RegistryError extends Schema.TaggedError<RegistryError>("@data-mcp/core/RegistryError")("RegistryError", {
  reason: Schema.Literals(["Conflict", "NotFound", "InvalidReference"]),
  reference: Schema.String,
  detail: Schema.String
}) {
  get retryable(): boolean {
    return false
  }

  override get message(): string {
    return `Registry ${this.reason} for ${this.reference}: ${this.detail}`
  }
}

/**
 * Where registry entries are kept.
 *
 * @category models
 * @since 0.1.0
 */
export interface RegistryStoreShape {
  readonly all: Effect.Effect<ReadonlyArray<Entry>, StateError>
  /** Inserts or replaces the entry with this name and version. */
  readonly put: (entry: Entry) => Effect.Effect<void, StateError>
  /** Removes an entry; returns whether it existed. */
  readonly remove: (name: string, version: string) => Effect.Effect<boolean, StateError>
}

/**
 * The registry's storage service.
 *
 * @category services
 * @since 0.1.0
 */
export class RegistryStore extends Context.Service<RegistryStore, RegistryStoreShape>()(
  "@data-mcp/core/RegistryStore"
) {
  /** Entries in memory (the embedded default for code pipelines). */
  static readonly layerMemory: Layer.Layer<RegistryStore> = Layer.effect(
    RegistryStore,
    Effect.map(Ref.make<ReadonlyArray<Entry>>([]), (ref) =>
      RegistryStore.of({
        all: Ref.get(ref),
        put: (entry) =>
          Ref.update(ref, (all) => [
            ...all.filter((e) => !(e.name === entry.name && e.version === entry.version)),
            entry
          ]),
        remove: (name, version) =>
          Ref.modify(ref, (all) => {
            const rest = all.filter((e) => !(e.name === name && e.version === version))
            return [rest.length !== all.length, rest]
          })
      })
    )
  )

  /** Entries in `<directory>/registry.json`, written atomically, the directory locked against other processes. */
  static readonly layerFile = (options: { readonly directory: string }): Layer.Layer<RegistryStore, StateError> =>
    Layer.effect(RegistryStore, makeFileStore(options.directory))
}

const makeFileStore = (directory: string): Effect.Effect<RegistryStoreShape, StateError, Scope.Scope> =>
  Effect.gen(function* () {
    yield* FileStore.ensureDir(directory)
    yield* FileStore.lock(directory, "registry")
    const file = FileStore.join(directory, "registry.json")
    const read = Effect.map(FileStore.readJson(file), (json) =>
      json === undefined ? [] : (json as ReadonlyArray<Entry>)
    )
    const write = (entries: ReadonlyArray<Entry>) => FileStore.atomicWrite(file, JSON.stringify(entries, null, 2))
    return {
      all: read,
      put: (entry) =>
        Effect.flatMap(read, (all) =>
          write([...all.filter((e) => !(e.name === entry.name && e.version === entry.version)), entry])
        ),
      remove: (name, version) =>
        Effect.flatMap(read, (all) => {
          const rest = all.filter((e) => !(e.name === name && e.version === version))
          return Effect.as(write(rest), rest.length !== all.length)
        })
    }
  })

/**
 * A reference to a pipeline: `name` (the newest non-deprecated version) or `name@version`.
 *
 * @category models
 * @since 0.1.0
 */
export type Reference = string

const parseReference = (reference: Reference): { readonly name: string; readonly version?: string } => {
  const at = reference.indexOf("@")
  return at < 0 ? { name: reference } : { name: reference.slice(0, at), version: reference.slice(at + 1) }
}

// major.minor.patch[-pre.release][+build]: the build is cut first, so a '-' inside it is not a pre-release.
const semverParts = (version: string) => {
  const plus = version.indexOf("+")
  const core = plus < 0 ? version : version.slice(0, plus)
  const dash = core.indexOf("-")
  return {
    release: (dash < 0 ? core : core.slice(0, dash)).split("."),
    pre: dash < 0 ? [] : core.slice(dash + 1).split("."),
    build: plus < 0 ? "" : version.slice(plus + 1)
  }
}

const NUMERIC = /^\d+$/

// One dot-separated identifier: numbers compare numerically and sort before alphanumerics (semver §11).
const compareIdentifiers = (a: string, b: string): number => {
  const [na, nb] = [NUMERIC.test(a), NUMERIC.test(b)]
  if (na && nb) {
    const [x, y] = [BigInt(a), BigInt(b)]
    return x < y ? -1 : x > y ? 1 : 0
  }
  if (na !== nb) return na ? -1 : 1
  return a < b ? -1 : a > b ? 1 : 0
}

/**
 * Orders semver versions by precedence (semver §11): major, minor and patch numerically, a pre-release before
 * its release, pre-release identifiers one by one (`rc.2` before `rc.10`); build metadata does not count for
 * precedence and only breaks ties, so the order is total.
 *
 * @category utils
 * @since 0.1.0
 */
export const compareVersions = (a: string, b: string): number => {
  const [pa, pb] = [semverParts(a), semverParts(b)]
  for (let i = 0; i < 3; i++) {
    const d = compareIdentifiers(pa.release[i] ?? "0", pb.release[i] ?? "0")
    if (d !== 0) return d
  }
  if (pa.pre.length === 0 || pb.pre.length === 0) {
    if (pa.pre.length !== pb.pre.length) return pa.pre.length === 0 ? 1 : -1
  } else {
    for (let i = 0; i < Math.min(pa.pre.length, pb.pre.length); i++) {
      const d = compareIdentifiers(pa.pre[i]!, pb.pre[i]!)
      if (d !== 0) return d
    }
    if (pa.pre.length !== pb.pre.length) return pa.pre.length - pb.pre.length
  }
  return pa.build < pb.build ? -1 : pa.build > pb.build ? 1 : 0
}

/**
 * What the registry does.
 *
 * @category models
 * @since 0.1.0
 */
export interface PipelineRegistryShape {
  /** Registers a pipeline version; the same name and version with another definition is a `Conflict`. */
  readonly register: (
    pipeline: Pipeline.Any,
    options?: { readonly tenant?: string; readonly spec?: Json }
  ) => Effect.Effect<Entry, RegistryError | StateError>
  /** Every entry, newest version first per name; deprecated ones only when asked. */
  readonly list: (options?: { readonly includeDeprecated?: boolean }) => Effect.Effect<ReadonlyArray<Entry>, StateError>
  /** The entry and pipeline for `name` (newest non-deprecated) or `name@version`. */
  readonly get: (
    reference: Reference
  ) => Effect.Effect<{ readonly entry: Entry; readonly pipeline: Pipeline.Any | undefined }, RegistryError | StateError>
  /** Every version of a name, newest first. */
  readonly versions: (name: string) => Effect.Effect<ReadonlyArray<Entry>, StateError>
  /** Marks `name@version` deprecated with a reason. */
  readonly deprecate: (reference: Reference, reason: string) => Effect.Effect<Entry, RegistryError | StateError>
  /** Removes `name@version` (or every version of `name`); returns how many went. */
  readonly remove: (reference: Reference) => Effect.Effect<number, RegistryError | StateError>
}

/**
 * The pipeline registry service.
 *
 * @category services
 * @since 0.1.0
 */
export class PipelineRegistry extends Context.Service<PipelineRegistry, PipelineRegistryShape>()(
  "@data-mcp/core/PipelineRegistry"
) {}

/**
 * Builds the registry over the `RegistryStore` in context.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make: Effect.Effect<PipelineRegistryShape, never, RegistryStore> = Effect.gen(function* () {
  const store = yield* RegistryStore
  const pipelines = new Map<string, Pipeline.Any>()
  // Writes are read-check-write over the store: one at a time, or two registrations of one version with
  // different definitions could both pass the hash check (the file store reads and writes asynchronously).
  const writes = yield* Semaphore.make(1)
  const serial = writes.withPermits(1)
  const keyOf = (name: string, version: string) => `${name}@${version}`
  const sorted = (entries: ReadonlyArray<Entry>) =>
    [...entries].sort((a, b) => (a.name === b.name ? compareVersions(b.version, a.version) : a.name < b.name ? -1 : 1))

  const find = (reference: Reference) =>
    Effect.gen(function* () {
      const { name, version } = parseReference(reference)
      if (name === "" || version === "") {
        return yield* new RegistryError({ reason: "InvalidReference", reference, detail: "use name or name@version" })
      }
      const all = sorted((yield* store.all).filter((e) => e.name === name))
      const entry =
        version === undefined
          ? (all.find((e) => e.deprecated === undefined) ?? all[0])
          : all.find((e) => e.version === version)
      if (entry === undefined) {
        return yield* new RegistryError({
          reason: "NotFound",
          reference,
          detail: "no such pipeline or version is registered"
        })
      }
      return entry
    })

  return {
    register: (pipeline, options) =>
      serial(
        Effect.gen(function* () {
          const hash = Pipeline.contentHash(pipeline)
          const existing = (yield* store.all).find((e) => e.name === pipeline.name && e.version === pipeline.version)
          if (existing !== undefined && existing.hash !== hash) {
            return yield* new RegistryError({
              reason: "Conflict",
              reference: keyOf(pipeline.name, pipeline.version),
              detail: "this version is registered with a different definition; bump the version to change it"
            })
          }
          // Absent fields are left out (not `undefined`), so an entry reads back from a file store unchanged.
          const entry: Entry = existing ?? {
            name: pipeline.name,
            version: pipeline.version,
            hash,
            description: pipeline.description,
            registeredAt: new Date().toISOString(),
            ...(options?.tenant === undefined ? {} : { tenant: options.tenant }),
            ...(options?.spec === undefined ? {} : { spec: options.spec })
          }
          if (existing === undefined) yield* store.put(entry)
          pipelines.set(keyOf(pipeline.name, pipeline.version), pipeline)
          return entry
        })
      ),
    list: (options) =>
      Effect.map(store.all, (all) =>
        sorted(options?.includeDeprecated === true ? all : all.filter((e) => e.deprecated === undefined))
      ),
    get: (reference) =>
      Effect.map(find(reference), (entry) => ({ entry, pipeline: pipelines.get(keyOf(entry.name, entry.version)) })),
    versions: (name) => Effect.map(store.all, (all) => sorted(all.filter((e) => e.name === name))),
    deprecate: (reference, reason) =>
      serial(
        Effect.gen(function* () {
          const entry = yield* find(reference)
          const updated: Entry = { ...entry, deprecated: { reason, at: new Date().toISOString() } }
          yield* store.put(updated)
          return updated
        })
      ),
    remove: (reference) =>
      serial(
        Effect.gen(function* () {
          const { name, version } = parseReference(reference)
          const targets = (yield* store.all).filter(
            (e) => e.name === name && (version === undefined || e.version === version)
          )
          if (targets.length === 0) {
            return yield* new RegistryError({
              reason: "NotFound",
              reference,
              detail: "no such pipeline or version is registered"
            })
          }
          for (const entry of targets) {
            yield* store.remove(entry.name, entry.version)
            pipelines.delete(keyOf(entry.name, entry.version))
          }
          return targets.length
        })
      )
  }
})

/**
 * The registry as a layer over a `RegistryStore`.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer: Layer.Layer<PipelineRegistry, never, RegistryStore> = Layer.effect(PipelineRegistry, make)

/**
 * The registry with in-memory storage.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerMemory: Layer.Layer<PipelineRegistry> = layer.pipe(Layer.provide(RegistryStore.layerMemory))
