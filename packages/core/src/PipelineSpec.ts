/**
 * A pipeline spec is a pipeline as data — YAML or JSON validated by Schema: connectors named by `kind` with
 * options their config schema checks, transforms from a closed set of declarative steps (`validate`, `rename`,
 * `cast`, `default`, `drop`, `filter` and `derive` with CEL expressions, `dedupe`), and the pipeline options
 * that make sense as data. A spec never carries a secret: it names one (`{ secret: "PG_URL" }`) that a
 * `SecretProvider` resolves when the spec is built. A **template** is a spec with declared `params` (a closed
 * mini-schema) that values may reference (`{ param: "table" }`), and the list of the only `secrets` it may
 * resolve. Every mistake is a `SpecError` naming the file, the line, the path and what to fix.
 *
 * @since 0.1.0
 */
import * as fsp from "node:fs/promises"
import * as nodePath from "node:path"
import { Effect, Schema } from "effect"
import { isMap, isSeq, LineCounter, parseDocument } from "yaml"
import type { ConfigError } from "./Config.ts"
import * as Connector from "./Connector.ts"
import type * as ConnectorCatalog from "./ConnectorCatalog.ts"
import * as Expression from "./Expression.ts"
import { decodeAt, formatPath, type Locator, type Segment, SpecError, specError } from "./internal/specError.ts"
import {
  ParamSpec as ParamSpecSchema,
  type ParamSpec as ParamSpecType,
  paramsSchemaOf,
  SpecOptions as SpecOptionsSchema
} from "./internal/specSchema.ts"
import * as Steps from "./internal/specSteps.ts"
import * as SecretProvider from "./SecretProvider.ts"
import type * as Transform from "./Transform.ts"

export {
  /**
   * Formats a path into a spec or config as the errors print it: `["transforms", 2, "filter"]` is
   * `transforms[2].filter`.
   *
   * @category utils
   * @since 0.1.0
   */
  formatPath,
  /**
   * A spec, template or mapping is wrong. `path` says where (`source.options.path`, `transforms[2].filter`,
   * `params.limit`), `reason` what kind of mistake, `detail` what to fix; `file`, `line` and `column` locate it
   * when known. The message reads `orders.yaml:14:13: transforms[5].filter: invalid CEL expression: …` and
   * never contains a secret or a record value.
   *
   * @category errors
   * @since 0.1.0
   */
  SpecError
}

/**
 * A connector used by a spec: its kind and its options (validated by the connector's config schema).
 *
 * @category models
 * @since 0.1.0
 */
export interface ConnectorSpec {
  readonly kind: string
  readonly options: Readonly<Record<string, unknown>>
}

/**
 * One declarative transform step: an object with one key, the step's name.
 *
 * - `{ validate: { fields: { order_id: "integer", note: { type: "string", optional: true } } } }`: each listed
 *   field must be present and castable to its type (`CastTarget`); the record passes unchanged
 * - `{ rename: { old: new } }`, `{ cast: { field: CastTarget } }`, `{ default: { field: value } }`,
 *   `{ drop: [field] }`, `{ derive: { field: "CEL" } }`: as in `Mapping`
 * - `{ filter: "CEL" }`: keeps the records for which the expression is true
 * - `{ dedupe: { key: field | [fields], window?: "batch" | n } }`: the first record per key wins, within a batch
 *   (the default) or among the last `n` keys
 *
 * @category models
 * @since 0.1.0
 */
export type Step = Steps.Step

/**
 * The pipeline options a spec may set: the same fields and checks as `Pipeline.make`'s options.
 *
 * @category models
 * @since 0.1.0
 */
export type SpecOptions = typeof SpecOptionsSchema.Type

/**
 * A decoded pipeline spec.
 *
 * @category models
 * @since 0.1.0
 */
export interface PipelineSpec {
  readonly name: string
  readonly version: string
  readonly description: string
  readonly source: ConnectorSpec
  readonly transforms: ReadonlyArray<Step>
  readonly sink: ConnectorSpec
  readonly options: SpecOptions
}

/**
 * One declared template param: a closed mini-schema.
 *
 * @category models
 * @since 0.1.0
 */
export type ParamSpec = ParamSpecType

/**
 * A template: a spec whose values may reference declared `params` (`{ param: "name" }`, in connector options and
 * `default` values only, never in expressions), and which may resolve only the listed `secrets`.
 *
 * @category models
 * @since 0.1.0
 */
export interface Template extends PipelineSpec {
  readonly params: Readonly<Record<string, ParamSpec>>
  readonly secrets: ReadonlyArray<string>
}

/**
 * A param value.
 *
 * @category models
 * @since 0.1.0
 */
export type ParamValue = string | number | boolean

/**
 * What `build` returns: exactly the fields of `Pipeline.MakeOptions`, ready for `Pipeline.make`.
 *
 * @category models
 * @since 0.1.0
 */
export interface BuiltPipeline {
  readonly name: string
  readonly version: string
  readonly description: string
  readonly params: Schema.Decoder<Readonly<Record<string, ParamValue>>, never>
  readonly source: Connector.AnySource
  readonly transforms: Transform.Transform<unknown, unknown, unknown>
  readonly sink: Connector.AnySink
  readonly options: SpecOptions
}

/**
 * Where `build` finds connectors and secrets.
 *
 * @category models
 * @since 0.1.0
 */
export interface BuildOptions {
  readonly catalog: ConnectorCatalog.ConnectorCatalog
  readonly secrets: SecretProvider.SecretProviderShape
  /** The file name for messages (default: the file the spec was parsed from, if any). */
  readonly file?: string | undefined
}

/**
 * How to parse spec text.
 *
 * @category models
 * @since 0.1.0
 */
export interface ParseOptions {
  /** The file name for messages. */
  readonly file?: string | undefined
  /** `yaml` (the default unless `file` ends in `.json`) or `json`. JSON is read by the YAML parser (JSON ⊂ YAML 1.2). */
  readonly format?: "yaml" | "json" | undefined
}

// ---------------------------------------------------------------------------------------------------------------
// Where a decoded spec came from, so that build errors can point at a line.

const origins = new WeakMap<object, Locator>()

const locatorFor = (spec: object, file: string | undefined): Locator => {
  const origin = origins.get(spec)
  return { file: file ?? origin?.file, locate: origin?.locate }
}

// ---------------------------------------------------------------------------------------------------------------
// References

const isRef = (u: unknown, key: "secret" | "param"): u is Readonly<Record<typeof key, string>> =>
  typeof u === "object" && u !== null && !Array.isArray(u) && Object.keys(u).length === 1 && Object.hasOwn(u, key)

type Found = { readonly segments: ReadonlyArray<Segment>; readonly kind: "secret" | "param"; readonly name: unknown }

const findRefs = (value: unknown, at: ReadonlyArray<Segment>, out: Array<Found> = []): Array<Found> => {
  if (isRef(value, "secret")) out.push({ segments: at, kind: "secret", name: value.secret })
  else if (isRef(value, "param")) out.push({ segments: at, kind: "param", name: value.param })
  else if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) findRefs(value[i], [...at, i], out)
  } else if (typeof value === "object" && value !== null) {
    for (const [k, v] of Object.entries(value)) findRefs(v, [...at, k], out)
  }
  return out
}

const mapRefs = (value: unknown, f: (ref: Found) => unknown, at: ReadonlyArray<Segment> = []): unknown => {
  if (isRef(value, "secret")) return f({ segments: at, kind: "secret", name: value.secret })
  if (isRef(value, "param")) return f({ segments: at, kind: "param", name: value.param })
  if (Array.isArray(value)) return value.map((v, i) => mapRefs(v, f, [...at, i]))
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mapRefs(v, f, [...at, k])]))
  }
  return value
}

// ---------------------------------------------------------------------------------------------------------------
// Decoding

const NAME = /^[a-z][a-z0-9_-]{0,62}$/
const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/

const ConnectorSpecSchema = Schema.Struct({
  kind: Schema.String.check(Schema.isMinLength(1)),
  options: Schema.optionalKey(Schema.Record(Schema.String, Schema.Unknown))
})

const Head = Schema.Struct({
  name: Schema.String.check(
    Schema.makeFilter((s: string) =>
      NAME.test(s) ? undefined : "Expected 1-63 lowercase letters, digits, '_' or '-', starting with a letter"
    )
  ),
  version: Schema.String.check(
    Schema.makeFilter((s: string) => (SEMVER.test(s) ? undefined : "Expected a semver version such as 1.0.0"))
  ),
  description: Schema.String.check(
    Schema.makeFilter((s: string) => (s.trim() !== "" ? undefined : "Expected a description of what the pipeline does"))
  ),
  source: ConnectorSpecSchema,
  transforms: Schema.optionalKey(Schema.Array(Schema.Unknown)),
  sink: ConnectorSpecSchema,
  options: Schema.optionalKey(SpecOptionsSchema),
  params: Schema.optionalKey(Schema.Record(Schema.String, Schema.Unknown)),
  secrets: Schema.optionalKey(Schema.Array(Schema.String))
})

const PARAM_NAME = /^[a-z_][a-z0-9_]{0,62}$/i

const decodeSpec = (input: unknown, locator: Locator, template: boolean): Effect.Effect<Template, SpecError> =>
  Effect.gen(function* () {
    const head = decodeAt(Head, input, [], locator)
    if (!head.ok) return yield* head.error
    const raw = head.value
    if (!template && raw.params !== undefined) {
      return yield* specError(locator, ["params"], "Invalid", "only templates declare params: use parseTemplate")
    }
    if (!template && raw.secrets !== undefined) {
      return yield* specError(locator, ["secrets"], "Invalid", "only templates declare secrets: use parseTemplate")
    }

    // Params (templates)
    const params: Record<string, ParamSpecType> = {}
    for (const [name, declared] of Object.entries(raw.params ?? {})) {
      if (!PARAM_NAME.test(name)) {
        return yield* specError(locator, ["params", name], "Invalid", "a param name is letters, digits and _")
      }
      const p = decodeAt(ParamSpecSchema, declared, ["params", name], locator)
      if (!p.ok) return yield* p.error
      params[name] = p.value
    }
    const secrets = raw.secrets ?? []
    for (let i = 0; i < secrets.length; i++) {
      if (!SecretProvider.isSecretName(secrets[i] as string)) {
        return yield* specError(locator, ["secrets", i], "Invalid", "not a valid secret name")
      }
    }

    // Transforms
    const transforms: Array<Step> = []
    const rawSteps = raw.transforms ?? []
    for (let i = 0; i < rawSteps.length; i++) {
      const step: unknown = rawSteps[i]
      const at: Array<Segment> = ["transforms", i]
      const keys = typeof step === "object" && step !== null && !Array.isArray(step) ? Object.keys(step) : []
      if (keys.length !== 1) {
        return yield* specError(
          locator,
          at,
          "InvalidStep",
          `a step is an object with exactly one key, its name (one of ${Steps.stepKinds.join(", ")})`
        )
      }
      const kind = keys[0] as string
      if (!(Steps.stepKinds as ReadonlyArray<string>).includes(kind)) {
        return yield* specError(
          locator,
          [...at, kind],
          "UnknownStep",
          `unknown transform step ${JSON.stringify(kind)}; known steps: ${Steps.stepKinds.join(", ")}`
        )
      }
      const body = decodeAt(
        Steps.bodies[kind as Steps.StepKind],
        (step as Record<string, unknown>)[kind],
        [...at, kind],
        locator,
        "InvalidStep"
      )
      if (!body.ok) return yield* body.error
      transforms.push({ [kind]: body.value } as Step)
    }

    // References: secrets only in connector options; params only in templates, in options and default values.
    const refs = [
      ...findRefs(raw.source.options ?? {}, ["source", "options"]),
      ...findRefs(raw.sink.options ?? {}, ["sink", "options"]),
      ...transforms.flatMap((step, i) =>
        Steps.kindOf(step) === "default"
          ? findRefs((step as { default: unknown }).default, ["transforms", i, "default"])
          : []
      )
    ]
    for (const ref of refs) {
      const inOptions = ref.segments[1] === "options"
      if (typeof ref.name !== "string") {
        return yield* specError(locator, [...ref.segments, ref.kind], "Invalid", `{ ${ref.kind}: NAME } needs a name`)
      }
      if (ref.kind === "secret") {
        if (!inOptions) {
          return yield* specError(locator, ref.segments, "Invalid", "a secret may only fill a connector option")
        }
        if (!SecretProvider.isSecretName(ref.name)) {
          return yield* specError(locator, [...ref.segments, "secret"], "Invalid", "not a valid secret name")
        }
        if (template && !secrets.includes(ref.name)) {
          return yield* specError(
            locator,
            [...ref.segments, "secret"],
            "SecretRefused",
            `the secret ${JSON.stringify(ref.name)} is not in the template's secrets (${secrets.join(", ") || "none"})`
          )
        }
      } else {
        if (!template) {
          return yield* specError(locator, ref.segments, "Invalid", "{ param: NAME } is only allowed in templates")
        }
        if (!Object.hasOwn(params, ref.name)) {
          return yield* specError(
            locator,
            [...ref.segments, "param"],
            "Invalid",
            `the param ${JSON.stringify(ref.name)} is not declared in params (${Object.keys(params).join(", ") || "none"})`
          )
        }
      }
    }

    // CEL is compiled here too, so a bad expression is reported with its line (build compiles it again).
    for (let i = 0; i < transforms.length; i++) {
      const step = transforms[i] as Step
      const kind = Steps.kindOf(step)
      const expressions: Array<[ReadonlyArray<Segment>, string, "filter" | "derive"]> =
        kind === "filter"
          ? [[["transforms", i, "filter"], (step as { filter: string }).filter, "filter"]]
          : kind === "derive"
            ? Object.entries((step as { derive: Record<string, string> }).derive).map(([field, source]) => [
                ["transforms", i, "derive", field],
                source,
                "derive"
              ])
            : []
      for (const [at, source, exprKind] of expressions) {
        const compiled = yield* Effect.result(Expression.compile(source, { kind: exprKind }))
        if (compiled._tag === "Failure") {
          return yield* specError(
            locator,
            at,
            "InvalidExpression",
            `invalid CEL expression: ${compiled.failure.reason}`
          )
        }
      }
    }

    const spec: Template = {
      name: raw.name,
      version: raw.version,
      description: raw.description.trim(),
      source: { kind: raw.source.kind, options: raw.source.options ?? {} },
      transforms,
      sink: { kind: raw.sink.kind, options: raw.sink.options ?? {} },
      options: raw.options ?? {},
      params,
      secrets
    }
    origins.set(spec, locator)
    return spec
  })

const parseText = (
  text: string,
  options: ParseOptions | undefined
): Effect.Effect<{ value: unknown; locator: Locator }, SpecError> =>
  Effect.suspend(() => {
    const file = options?.file
    const lineCounter = new LineCounter()
    const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true })
    const first = doc.errors[0]
    if (first !== undefined) {
      const pos = first.linePos?.[0] ?? lineCounter.linePos(first.pos[0])
      // The parser's message ends with a quote of the offending line: keep only the description.
      const description = first.message.split(/ at line \d+/)[0]?.split("\n")[0] ?? "invalid syntax"
      const format = options?.format ?? (file?.toLowerCase().endsWith(".json") ? "json" : "yaml")
      return Effect.fail(
        new SpecError({
          ...(file !== undefined ? { file } : {}),
          path: "",
          reason: "Syntax",
          detail: `${format === "json" ? "JSON" : "YAML"} syntax error: ${description} (${first.code})`,
          line: pos.line,
          column: pos.col
        })
      )
    }
    const locate = (segments: ReadonlyArray<Segment>) => {
      // The deepest node that exists on the path: a missing key points at its parent.
      let node: unknown = doc.contents
      for (const segment of segments) {
        const next = isMap(node)
          ? node.get(segment, true)
          : isSeq(node) && typeof segment === "number"
            ? node.get(segment, true)
            : undefined
        if (next === undefined || next === null) break
        node = next
      }
      const range = (node as { range?: [number, number, number] | null } | null)?.range
      if (range === undefined || range === null) return undefined
      const pos = lineCounter.linePos(range[0])
      return { line: pos.line, column: pos.col }
    }
    return Effect.succeed({ value: doc.toJS({ maxAliasCount: 100 }) as unknown, locator: { file, locate } })
  })

/**
 * Parses and validates a spec from YAML or JSON text. Structure, step bodies, references and CEL syntax are
 * checked here; connectors and secrets are checked by `build`.
 *
 * **Example** (A spec from YAML text)
 *
 * ```ts
 * import { PipelineSpec } from "@data-mcp/core"
 * import { Effect } from "effect"
 *
 * const spec = PipelineSpec.parse(
 *   `
 * name: orders_to_jsonl
 * version: 1.0.0
 * description: Loads orders.csv into orders.jsonl
 * source: { kind: csv, options: { path: data/orders.csv } }
 * transforms:
 *   - cast: { amount: number }
 *   - filter: "record.amount > 10.0"
 * sink: { kind: jsonl, options: { path: out/orders.jsonl } }
 * `,
 *   { file: "orders.yaml" }
 * )
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const parse = (text: string, options?: ParseOptions): Effect.Effect<PipelineSpec, SpecError> =>
  Effect.flatMap(parseText(text, options), ({ value, locator }) =>
    Effect.map(decodeSpec(value, locator, false), (template) => {
      const { params: _params, secrets: _secrets, ...spec } = template
      origins.set(spec, locator)
      return spec
    })
  )

/**
 * Parses and validates a template (a spec with `params` and `secrets`).
 *
 * @category constructors
 * @since 0.1.0
 */
export const parseTemplate = (text: string, options?: ParseOptions): Effect.Effect<Template, SpecError> =>
  Effect.flatMap(parseText(text, options), ({ value, locator }) => decodeSpec(value, locator, true))

/**
 * Validates a spec given as data (an object already parsed from JSON).
 *
 * @category constructors
 * @since 0.1.0
 */
export const decode = (input: unknown, options?: { readonly file?: string }): Effect.Effect<PipelineSpec, SpecError> =>
  Effect.map(decodeSpec(input, { file: options?.file }, false), ({ params: _p, secrets: _s, ...spec }) => spec)

/**
 * Validates a template given as data.
 *
 * @category constructors
 * @since 0.1.0
 */
export const decodeTemplate = (
  input: unknown,
  options?: { readonly file?: string }
): Effect.Effect<Template, SpecError> => decodeSpec(input, { file: options?.file }, true)

const readText = (path: string): Effect.Effect<string, SpecError> =>
  Effect.tryPromise({
    try: () => fsp.readFile(path, "utf8"),
    catch: (cause) =>
      new SpecError({
        file: path,
        path: "",
        reason: "Invalid",
        detail: `the file could not be read (${(cause as { code?: string }).code ?? "error"})`
      })
  })

const formatOf = (path: string): "yaml" | "json" => (nodePath.extname(path).toLowerCase() === ".json" ? "json" : "yaml")

/**
 * Reads and parses a spec file (`.yaml`, `.yml` or `.json`).
 *
 * @category constructors
 * @since 0.1.0
 */
export const load = (path: string): Effect.Effect<PipelineSpec, SpecError> =>
  Effect.flatMap(readText(path), (text) => parse(text, { file: path, format: formatOf(path) }))

/**
 * Reads and parses a template file.
 *
 * @category constructors
 * @since 0.1.0
 */
export const loadTemplate = (path: string): Effect.Effect<Template, SpecError> =>
  Effect.flatMap(readText(path), (text) => parseTemplate(text, { file: path, format: formatOf(path) }))

// ---------------------------------------------------------------------------------------------------------------
// Building

const EMPTY_PARAMS = Schema.Struct({}) as unknown as BuiltPipeline["params"]

const resolveOptions = (
  role: "source" | "sink",
  definition: Connector.Any,
  options: Readonly<Record<string, unknown>>,
  secrets: SecretProvider.SecretProviderShape,
  locator: Locator
): Effect.Effect<unknown, SpecError> =>
  Effect.gen(function* () {
    const config = role === "source" ? definition.source : definition.sink
    if (config === undefined) {
      return yield* specError(
        locator,
        [role, "kind"],
        "UnknownConnector",
        `the ${definition.kind} connector has no ${role}`
      )
    }
    const secretFields = new Set(Connector.secretFields(config.config))
    // A literal where a secret field is expected: the spec would carry the secret itself.
    for (const field of secretFields) {
      let value: unknown = options
      for (const key of field.split(".")) {
        value = typeof value === "object" && value !== null ? (value as Record<string, unknown>)[key] : undefined
      }
      if (value !== undefined && !isRef(value, "secret")) {
        return yield* specError(
          locator,
          [role, "options", ...field.split(".")],
          "LiteralSecret",
          `is a secret: reference it with { secret: NAME } instead of writing a value (a spec never carries a secret)`
        )
      }
    }
    const refs = findRefs(options, [])
    for (const ref of refs) {
      if (ref.kind === "param") {
        return yield* specError(
          locator,
          [role, "options", ...ref.segments],
          "Invalid",
          "unresolved { param } reference"
        )
      }
      if (!secretFields.has(ref.segments.join("."))) {
        return yield* specError(
          locator,
          [role, "options", ...ref.segments],
          "InvalidOption",
          `is not a secret option of the ${definition.kind} ${role}; { secret: NAME } may only fill ${
            secretFields.size === 0 ? "secret options (it has none)" : [...secretFields].join(", ")
          }`
        )
      }
    }
    const resolved = new Map<string, unknown>()
    for (const ref of refs) {
      const name = ref.name as string
      const value = yield* secrets.resolve(name).pipe(
        Effect.mapError((error) =>
          specError(locator, [role, "options", ...ref.segments, "secret"], "SecretRefused", error.message, {
            transient: error.retryable
          })
        )
      )
      resolved.set(ref.segments.join("."), value)
    }
    return mapRefs(options, (ref) => resolved.get(ref.segments.join(".")))
  })

const makeRole = (
  role: "source" | "sink",
  spec: ConnectorSpec,
  catalog: ConnectorCatalog.ConnectorCatalog,
  secrets: SecretProvider.SecretProviderShape,
  locator: Locator
) =>
  Effect.gen(function* () {
    const definition = yield* catalog
      .get(spec.kind)
      .pipe(Effect.mapError((error) => specError(locator, [role, "kind"], "UnknownConnector", error.message)))
    const options = yield* resolveOptions(role, definition, spec.options, secrets, locator)
    const made = role === "source" ? Connector.makeSource(definition, options) : Connector.makeSink(definition, options)
    return yield* (made as Effect.Effect<unknown, ConfigError>).pipe(
      Effect.mapError((error) =>
        specError(
          locator,
          [role, "options", ...(error.path === "" ? [] : error.path.split("."))],
          "InvalidOption",
          `${error.detail.startsWith("Expected no excess") ? "unknown option (check the spelling)" : error.detail} (${definition.kind} ${role} option${error.path === "" ? "s" : ` "${error.path}"`})`
        )
      )
    )
  })

/**
 * Builds a spec into the options of `Pipeline.make`: looks the connectors up in the catalog, checks their
 * options with their config schemas (a secret option must be a `{ secret: NAME }` reference), resolves the
 * referenced secrets into `Redacted` values, and builds the transforms. CEL is compiled once here and reused
 * by every run (compiled expressions are pure). A record on which an expression fails, or whose value cannot
 * be cast, becomes a dead letter whose reason names the step and field, never the value.
 *
 * **Example** (Spec → pipeline → run)
 *
 * ```ts
 * import { ConnectorCatalog, Pipeline, PipelineSpec, Runner, SecretProvider } from "@data-mcp/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const spec = yield* PipelineSpec.load("pipelines/orders.yaml")
 *   const built = yield* PipelineSpec.build(spec, {
 *     catalog: ConnectorCatalog.builtins,
 *     secrets: SecretProvider.fromEnv()
 *   })
 *   return yield* Runner.run(Pipeline.make(built), {})
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const build = (spec: PipelineSpec, options: BuildOptions): Effect.Effect<BuiltPipeline, SpecError> =>
  buildWith(spec, options, EMPTY_PARAMS)

const buildWith = (
  spec: PipelineSpec,
  options: BuildOptions,
  params: BuiltPipeline["params"]
): Effect.Effect<BuiltPipeline, SpecError> =>
  Effect.gen(function* () {
    const locator = locatorFor(spec, options.file)
    const source = (yield* makeRole(
      "source",
      spec.source,
      options.catalog,
      options.secrets,
      locator
    )) as Connector.AnySource
    const sink = (yield* makeRole("sink", spec.sink, options.catalog, options.secrets, locator)) as Connector.AnySink
    const transforms = yield* Steps.buildSteps(spec.transforms, ["transforms"], locator)
    return {
      name: spec.name,
      version: spec.version,
      description: spec.description,
      params,
      source,
      transforms,
      sink,
      options: spec.options
    }
  })

/**
 * The Effect Schema of a template's params: a struct of the declared params with their types and constraints,
 * required unless they have a default, unknown keys refused when decoded with `Config.decode`.
 *
 * @category utils
 * @since 0.1.0
 */
export const paramsSchema = (template: Template): Schema.Decoder<Readonly<Record<string, ParamValue>>, never> =>
  paramsSchemaOf(template.params)

/**
 * Instantiates a template: validates `params` strictly against the declared params (unknown keys, wrong types
 * and broken constraints are refused), substitutes them, and builds the result with a secret provider that
 * resolves only the template's declared secrets.
 *
 * **Details**
 *
 * The built pipeline's `params` schema is the template's (same names, types, constraints and descriptions, so
 * an MCP tool schema can be derived from it), with every param defaulting to the value it was instantiated
 * with. Running it with other values is refused: an instance's source, sink and transforms are fixed.
 *
 * **Example** (An agent's register call)
 *
 * ```ts
 * import { ConnectorCatalog, PipelineSpec, SecretProvider } from "@data-mcp/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const template = yield* PipelineSpec.loadTemplate("templates/export.yaml")
 *   return yield* PipelineSpec.instantiate(template, { table: "orders", limit: 100 }, {
 *     catalog: ConnectorCatalog.builtins,
 *     secrets: SecretProvider.fromEnv()
 *   })
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const instantiate = (
  template: Template,
  params: unknown,
  options: BuildOptions
): Effect.Effect<BuiltPipeline, SpecError> =>
  Effect.gen(function* () {
    const locator = locatorFor(template, options.file)
    const decoded = decodeAt(
      paramsSchema(template) as Schema.Decoder<Readonly<Record<string, ParamValue>>, never> & {
        readonly DecodingServices: never
      },
      params ?? {},
      ["params"],
      locator,
      "InvalidParams"
    )
    if (!decoded.ok) {
      // Point at the params the caller gave, not at the template's declaration.
      return yield* new SpecError({
        ...(locator.file !== undefined ? { file: locator.file } : {}),
        path: decoded.error.path,
        reason: "InvalidParams",
        detail: decoded.error.detail
      })
    }
    const values = decoded.value
    const substitute = (value: unknown) =>
      mapRefs(value, (ref) => (ref.kind === "param" ? values[ref.name as string] : { secret: ref.name }))
    const spec: PipelineSpec = {
      name: template.name,
      version: template.version,
      description: template.description,
      source: { kind: template.source.kind, options: substitute(template.source.options) as Record<string, unknown> },
      transforms: template.transforms.map((step) =>
        Steps.kindOf(step) === "default"
          ? ({ default: substitute((step as { default: unknown }).default) } as Step)
          : step
      ),
      sink: { kind: template.sink.kind, options: substitute(template.sink.options) as Record<string, unknown> },
      options: template.options
    }
    const origin = origins.get(template)
    if (origin !== undefined) origins.set(spec, origin)
    const bound = paramsSchemaOf(template.params, values).pipe(
      Schema.check(
        Schema.makeFilter((given: Readonly<Record<string, ParamValue>>) => {
          const changed = Object.keys(values).find((k) => given[k] !== values[k])
          return changed === undefined
            ? undefined
            : {
                path: [changed],
                issue: "this pipeline was instantiated with another value; instantiate the template again"
              }
        })
      )
    ) as unknown as BuiltPipeline["params"]
    return yield* buildWith(
      spec,
      { ...options, secrets: SecretProvider.allowOnly(options.secrets, template.secrets) },
      bound
    )
  })
