/**
 * A pipeline is a named, versioned description of one data movement: a `params` Schema (what a caller may
 * choose, and the MCP tool's input schema), a source, transforms and a sink — the source and sink optionally
 * built from the decoded params — plus options for state, batching, retries, the dead-letter budget and
 * exposure. A pipeline is a value; the `Runner` runs it.
 *
 * @since 0.1.0
 */
import { createHash } from "node:crypto"
import { Effect, Redacted, Schema } from "effect"
import type { Json } from "./Checkpoint.ts"
import type * as ColumnNames from "./ColumnNames.ts"
import * as Config from "./Config.ts"
import type * as DeadLetter from "./DeadLetter.ts"
import { OptionsSchema } from "./internal/pipelineOptions.ts"
import * as PipelineSpec from "./PipelineSpec.ts"
import type * as RateLimiter from "./RateLimiter.ts"
import type * as RetryPolicy from "./RetryPolicy.ts"
import type * as SchemaContract from "./SchemaContract.ts"
import type * as Sink from "./Sink.ts"
import type * as Source from "./Source.ts"
import * as Transform from "./Transform.ts"

/**
 * How records are grouped into batches: a batch closes at `rows` records, `bytes` bytes or `maxWaitMs` after its
 * first record, whichever comes first (defaults 5,000 / 8 MiB / 1,000 ms).
 *
 * @category models
 * @since 0.1.0
 */
export interface BatchOptions {
  readonly rows?: number | undefined
  readonly bytes?: number | undefined
  readonly maxWaitMs?: number | undefined
}

/**
 * A pipeline's schedule: a cron expression in a time zone. `misfire` says what to do with runs missed while
 * the process was down: `skip` them or run `once`.
 *
 * @category models
 * @since 0.1.0
 */
export interface Schedule {
  readonly cron: string
  readonly timeZone?: string | undefined
  readonly misfire?: "skip" | "once" | undefined
}

/**
 * How a pipeline shows up over MCP.
 *
 * @category models
 * @since 0.1.0
 */
export interface McpOptions {
  /** `agent`: visible to agents with the right permissions; `operator`: only to callers with `pipelines:operate`. */
  readonly exposure?: "agent" | "operator" | undefined
  /** Also expose a dedicated `run_<name>` tool. */
  readonly tool?: boolean | undefined
  /**
   * Params bound to the caller's verified token: param name → `"claim:<name>"` (a dotted path into nested claims).
   * A bound param disappears from the tool schemas, cannot be set by the caller, is filled from the claim, and is
   * part of the state key and the run record — runs and state are partitioned by it.
   */
  readonly bind?: Readonly<Record<string, string>> | undefined
}

/**
 * A pipeline's options. Every field is optional.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options<P> {
  /** The params the state key depends on (default: all). Params not listed share one state. */
  readonly stateKeyParams?: ReadonlyArray<keyof P & string> | undefined
  /** Bump to start over with fresh state (the state key changes). Default 1. */
  readonly stateVersion?: number | undefined
  readonly batch?: BatchOptions | undefined
  readonly retry?: Partial<RetryPolicy.RetryPolicy> | undefined
  readonly deadLetterBudget?: DeadLetter.Budget | undefined
  /** Batches transformed at once (default: the transforms' `mapEffect` concurrency, else 1). */
  readonly concurrency?: number | undefined
  /** Runs of this pipeline at once, over all state keys (default unlimited; one per state key always). */
  readonly maxConcurrentRuns?: number | undefined
  /** A run fails with `RunTimeout` after this many ms (default 6 hours). */
  readonly timeoutMs?: number | undefined
  /** Paces reads (records per second) of the source instance and writes of the sink instance. */
  readonly rateLimit?: { readonly source?: RateLimiter.Rate; readonly sink?: RateLimiter.Rate } | undefined
  /** Field names (params or record fields) masked in run records, previews, dead-letter views and logs. */
  readonly sensitive?: ReadonlyArray<string> | undefined
  readonly schedule?: Schedule | undefined
  readonly mcp?: McpOptions | undefined
  /**
   * Track and enforce each stream's schema (opt-in): `{ tables, columns, dataType }`, each `evolve | freeze |
   * discardRow | discardValue` (defaults evolve, evolve, freeze). Changes become versioned snapshots with a
   * diff, a `SchemaChanged` event and a summary line; `freeze` fails the run with a readable diff.
   */
  readonly schemaContract?: SchemaContract.Contract | undefined
  /** Nested objects: kept as JSON values (`"json"`, the default) or flattened to `parent__child` fields. */
  readonly nested?: ColumnNames.Nesting | undefined
}

/**
 * A source of `A` with any checkpoint type.
 *
 * @category models
 * @since 0.1.0
 */
// biome-ignore lint/suspicious/noExplicitAny: a pipeline accepts a source whatever its checkpoint type
export type AnySource<A> = Source.Source<A, any>

/**
 * A pipeline with params `P`, source records `A` and sink records `B`.
 *
 * @category models
 * @since 0.1.0
 */
export interface Pipeline<P, A, B> {
  /** Lowercase letters, digits, `_` and `-`, starting with a letter (it becomes an MCP tool name). */
  readonly name: string
  /** A semver version; registering the same name and version with a different definition is an error. */
  readonly version: string
  readonly description: string
  readonly params: Schema.Decoder<P, never>
  readonly source: AnySource<A> | ((params: P) => AnySource<A>)
  /** Transforms see the source's valid records: the runner dead-letters `InvalidRecord`s first. */
  readonly transforms: Transform.Transform<Source.Valid<A>, B, unknown>
  readonly sink: Sink.Sink<B> | ((params: P) => Sink.Sink<B>)
  readonly options: Options<P>
}

/**
 * Any pipeline.
 *
 * @category models
 * @since 0.1.0
 */
// biome-ignore lint/suspicious/noExplicitAny: the widest pipeline type, for sets and registries
export type Any = Pipeline<any, any, any>

const NAME = /^[a-z][a-z0-9_-]{0,62}$/
const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/

const MakeOptionsSchema = Schema.Struct({ options: OptionsSchema })

/**
 * What `make` takes.
 *
 * @category models
 * @since 0.1.0
 */
export interface MakeOptions<P, A, B> {
  readonly name: string
  readonly version: string
  readonly description: string
  readonly params?: Schema.Decoder<P, never> | undefined
  readonly source: AnySource<A> | ((params: P) => AnySource<A>)
  readonly transforms?: Transform.Transform<Source.Valid<A>, B, unknown> | undefined
  readonly sink: Sink.Sink<B> | ((params: P) => Sink.Sink<B>)
  readonly options?: Options<P> | undefined
}

/**
 * Makes a pipeline, validating its name, version and options (a bad option throws a `ConfigError` naming it).
 *
 * **Example** (CSV in, validated, JSONL out)
 *
 * ```ts
 * import { Csv, Jsonl, Pipeline, Transform } from "@data-mcp/core"
 * import { Schema } from "effect"
 *
 * const Row = Schema.Struct({ id: Schema.NumberFromString, email: Schema.String })
 * const pipeline = Pipeline.make({
 *   name: "users_to_jsonl",
 *   version: "1.0.0",
 *   description: "Copies users.csv to users.jsonl, dropping rows that are not valid users.",
 *   params: Schema.Struct({ input: Schema.String }),
 *   source: ({ input }) => Csv.source({ path: input }),
 *   transforms: Transform.identity<unknown>().pipe(Transform.validate(Row)),
 *   sink: Jsonl.sink({ path: "out/users.jsonl" })
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export function make<A, B = A, P = {}>(options: MakeOptions<P, A, B>): Pipeline<P, A, B> {
  const component = `pipeline ${JSON.stringify(options.name)}`
  if (typeof options.name !== "string" || !NAME.test(options.name)) {
    throw new Config.ConfigError({
      component: "pipeline",
      path: "name",
      detail: "must be 1-63 lowercase letters, digits, '_' or '-', starting with a letter"
    })
  }
  if (typeof options.version !== "string" || !SEMVER.test(options.version)) {
    throw new Config.ConfigError({ component, path: "version", detail: "must be a semver version such as 1.0.0" })
  }
  if (typeof options.description !== "string" || options.description.trim() === "") {
    throw new Config.ConfigError({ component, path: "description", detail: "must say what the pipeline does" })
  }
  // Decoded under an `options` key so that a ConfigError's path names the field as the caller wrote it
  // (`options.batch.rows`, `options.batchSize`), not relative to the options object.
  const pipelineOptions = (
    options.options === undefined
      ? {}
      : Config.decodeSync(component, MakeOptionsSchema, { options: options.options }).options
  ) as Options<P>
  // A bound param must be one of the params: a typo would leave the pipeline unpartitioned.
  const declared = (options.params as { readonly fields?: Readonly<Record<string, unknown>> } | undefined)?.fields
  for (const param of Object.keys(pipelineOptions.mcp?.bind ?? {})) {
    if (declared === undefined || !Object.hasOwn(declared, param))
      throw new Config.ConfigError({
        component,
        path: `options.mcp.bind.${param}`,
        detail: `${param} is not a param of this pipeline; bind one of ${Object.keys(declared ?? {}).join(", ") || "its params (it has none)"}`
      })
  }
  return {
    name: options.name,
    version: options.version,
    description: options.description.trim(),
    params: options.params ?? (Schema.Struct({}) as unknown as Schema.Decoder<P, never>),
    source: options.source,
    transforms:
      options.transforms ?? (Transform.identity<A>() as unknown as Transform.Transform<Source.Valid<A>, B, unknown>),
    sink: options.sink,
    options: pipelineOptions
  }
}

/**
 * Decodes a caller's params with the pipeline's schema. Unknown keys are an error; the `ConfigError` names the
 * field and never quotes the value.
 *
 * @category utils
 * @since 0.1.0
 */
export const decodeParams = <P, A, B>(
  pipeline: Pipeline<P, A, B>,
  input: unknown
): Effect.Effect<P, Config.ConfigError> =>
  Config.decode(`params of ${pipeline.name}`, pipeline.params, input ?? {}) as Effect.Effect<P, Config.ConfigError>

/**
 * The source for decoded params.
 *
 * @category utils
 * @since 0.1.0
 */
export const sourceOf = <P, A, B>(pipeline: Pipeline<P, A, B>, params: P): AnySource<A> =>
  typeof pipeline.source === "function" ? pipeline.source(params) : pipeline.source

/**
 * The sink for decoded params.
 *
 * @category utils
 * @since 0.1.0
 */
export const sinkOf = <P, A, B>(pipeline: Pipeline<P, A, B>, params: P): Sink.Sink<B> =>
  typeof pipeline.sink === "function" ? pipeline.sink(params) : pipeline.sink

/**
 * Encodes params to JSON (for the state key and run records), with `sensitive` fields masked when asked.
 *
 * @category utils
 * @since 0.1.0
 */
export const paramsToJson = (
  pipeline: Any,
  params: unknown,
  options?: { readonly mask?: boolean; readonly only?: ReadonlyArray<string> | undefined }
): Json => {
  const sensitive = new Set(pipeline.options.sensitive ?? [])
  const encoded = Schema.encodeUnknownSync(pipeline.params as unknown as Schema.Codec<unknown, unknown>)(params)
  const out: Record<string, Json> = {}
  if (typeof encoded !== "object" || encoded === null) return null
  const decoded = (typeof params === "object" && params !== null ? params : {}) as Record<string, unknown>
  for (const key of Object.keys(encoded).sort()) {
    if (options?.only !== undefined && !options.only.includes(key)) continue
    // A Redacted param is a secret: its codec encodes back to the plain value, so it is always masked.
    const secret = Redacted.isRedacted(decoded[key])
    const value = (encoded as Record<string, unknown>)[key]
    out[key] =
      secret || (options?.mask === true && sensitive.has(key))
        ? "***"
        : (JSON.parse(canonicalJson(value) ?? "null") as Json)
  }
  return out
}

const canonicalJson = (value: unknown): string | undefined =>
  JSON.stringify(value, (_, v) => {
    if (typeof v === "bigint") return v.toString()
    if (v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof Date)) {
      return Object.fromEntries(
        Object.keys(v)
          .sort()
          .map((k) => [k, (v as Record<string, unknown>)[k]])
      )
    }
    return v
  })

const sha256 = (text: string): string => createHash("sha256").update(text).digest("hex")

/**
 * The state key of a run: a hash of the pipeline's name, its `stateVersion` and the params its state depends
 * on (`stateKeyParams`, default all) plus any params bound to the caller (a tenant). Two runs with the same
 * key share checkpoints and exclude each other. `Redacted` params (secrets) never count: rotating a password
 * keeps the state.
 *
 * @category utils
 * @since 0.1.0
 */
export const stateKey = (pipeline: Any, params: unknown, bound?: Readonly<Record<string, Json>>): string => {
  const only = pipeline.options.stateKeyParams as ReadonlyArray<string> | undefined
  const relevant = paramsToJson(pipeline, params, { only })
  const material = canonicalJson({
    pipeline: pipeline.name,
    stateVersion: pipeline.options.stateVersion ?? 1,
    params: relevant,
    bound: bound ?? {}
  })
  return `${pipeline.name}:${sha256(material ?? "").slice(0, 16)}`
}

const describeStage = (stage: unknown): Json => {
  if (typeof stage === "function") return { fn: sha256(stage.toString()).slice(0, 16) }
  const s = stage as { name?: unknown; disposition?: unknown; capabilities?: unknown }
  return JSON.parse(canonicalJson({ name: s.name, disposition: s.disposition, capabilities: s.capabilities }) ?? "null")
}

/**
 * A content hash of the pipeline's definition: name, version, description, params schema, options, source,
 * transform steps and sink. A changed description is a changed definition.
 *
 * @category utils
 * @since 0.1.0
 */
export const contentHash = (pipeline: Any): string => {
  let paramsSchema: unknown
  try {
    paramsSchema = Schema.toJsonSchemaDocument(pipeline.params as unknown as Schema.Top)
  } catch {
    paramsSchema = "unrepresentable"
  }
  const material = canonicalJson({
    name: pipeline.name,
    version: pipeline.version,
    description: pipeline.description,
    params: paramsSchema,
    options: pipeline.options,
    source: describeStage(pipeline.source),
    transforms: pipeline.transforms.steps.map((step) => `${step._tag}:${step.name}`),
    sink: describeStage(pipeline.sink)
  })
  return sha256(material ?? "")
}

/**
 * Builds a pipeline from a spec (data: JSON or YAML parsed with `PipelineSpec.parse`/`load`): connectors by kind
 * from the catalog, declarative transform steps with CEL filters and derives compiled once, secrets resolved by
 * reference through the `SecretProvider`. Mistakes fail with a `SpecError` naming the file, path and field.
 *
 * **Example** (From a YAML file)
 *
 * ```ts
 * import { ConnectorCatalog, Pipeline, PipelineSpec, SecretProvider } from "@data-mcp/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const spec = yield* PipelineSpec.load("pipelines/orders.yaml")
 *   return yield* Pipeline.fromSpec(spec, { catalog: ConnectorCatalog.builtins, secrets: SecretProvider.fromEnv() })
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const fromSpec = (
  spec: PipelineSpec.PipelineSpec,
  options: Parameters<typeof PipelineSpec.build>[1]
): Effect.Effect<Any, PipelineSpec.SpecError | Config.ConfigError> =>
  Effect.flatMap(PipelineSpec.build(spec, options), (built) =>
    Effect.try({
      try: () => make(built as MakeOptions<unknown, unknown, unknown>) as Any,
      catch: (error) => error as Config.ConfigError
    })
  )
