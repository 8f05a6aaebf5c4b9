/**
 * A connector definition is how a connector plugs into data-mcp as data: a lowercase `kind` (`csv`,
 * `postgres`), and for each role it plays — `source`, `sink` — a config `Schema` and a constructor from the
 * decoded config. Pipeline specs name connectors by kind and pass options that the config schema validates,
 * so a bad option fails with the field named before anything runs. A definition is cheap to import:
 * validating a config never opens a driver; only `make`, `check` and `discover` touch the outside world.
 * Secret fields of a config schema are `Redacted` (`Schema.Redacted(Schema.String)`), and specs may only
 * fill them with a secret reference.
 *
 * @since 0.1.0
 */
import { Effect, type Schema, SchemaAST } from "effect"
import * as Config from "./Config.ts"
import type { ConnectorError } from "./ConnectorError.ts"
import type * as Sink from "./Sink.ts"
import type * as Source from "./Source.ts"

/**
 * A source of any records with any checkpoint type.
 *
 * @category models
 * @since 0.1.0
 */
// biome-ignore lint/suspicious/noExplicitAny: a definition builds sources of whatever records and checkpoints
export type AnySource = Source.Source<any, any>

/**
 * A sink of any records.
 *
 * @category models
 * @since 0.1.0
 */
// biome-ignore lint/suspicious/noExplicitAny: a definition builds sinks of whatever records
export type AnySink = Sink.Sink<any>

/**
 * One role of a connector: the config schema (a `Schema.Struct` whose fields carry descriptions) and the
 * constructor from the decoded config.
 *
 * @category models
 * @since 0.1.0
 */
export interface Role<C, Out> {
  /** The config schema: decoded with unknown keys refused. Secret fields are `Redacted`. */
  readonly config: Schema.Decoder<C, never>
  /** Builds the source or sink from a decoded config. Must not do I/O until the runner uses it. */
  readonly make: (config: C) => Out
}

/**
 * What `check` is asked to check: a source or a sink config.
 *
 * @category models
 * @since 0.1.0
 */
export type CheckTarget<SC, KC> =
  | { readonly role: "source"; readonly config: SC }
  | { readonly role: "sink"; readonly config: KC }

/**
 * A connector as a plug-in: its kind and the roles it plays.
 *
 * @category models
 * @since 0.1.0
 */
export interface ConnectorDefinition<SC = unknown, KC = unknown> {
  /** Lowercase letters, digits and `-`, starting with a letter: `csv`, `postgres`, `s3`. */
  readonly kind: string
  /** One line for catalogs and generated docs. */
  readonly description?: string | undefined
  readonly source?: Role<SC, AnySource> | undefined
  readonly sink?: Role<KC, AnySink> | undefined
  /** Checks that the system can be reached with a config (credentials, the file or table exists). */
  readonly check?: ((target: CheckTarget<SC, KC>) => Effect.Effect<void, ConnectorError>) | undefined
  /** Lists the streams a source config offers, and their shapes. */
  readonly discover?: ((config: SC) => Effect.Effect<ReadonlyArray<Source.StreamInfo>, ConnectorError>) | undefined
}

/**
 * Any connector definition, for catalogs.
 *
 * @category models
 * @since 0.1.0
 */
// biome-ignore lint/suspicious/noExplicitAny: a catalog holds definitions of every config type
export type Any = ConnectorDefinition<any, any>

const KIND = /^[a-z][a-z0-9-]{0,62}$/

/**
 * Makes a connector definition, checking that the kind is lowercase and that it plays at least one role (a
 * bad definition throws a `ConfigError`).
 *
 * **Example** (A connector package's definition)
 *
 * ```ts
 * import { Connector, Csv } from "@data-mcp/core"
 *
 * export const csv = Connector.make({
 *   kind: "csv",
 *   description: "CSV files",
 *   source: { config: Csv.SourceOptions, make: Csv.source },
 *   sink: { config: Csv.SinkOptions, make: Csv.sink }
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = <SC = unknown, KC = unknown>(
  definition: ConnectorDefinition<SC, KC>
): ConnectorDefinition<SC, KC> => {
  if (typeof definition.kind !== "string" || !KIND.test(definition.kind)) {
    throw new Config.ConfigError({
      component: "connector",
      path: "kind",
      detail: "must be 1-63 lowercase letters, digits or '-', starting with a letter"
    })
  }
  if (definition.source === undefined && definition.sink === undefined) {
    throw new Config.ConfigError({
      component: `connector ${definition.kind}`,
      path: "",
      detail: "must define a source, a sink or both"
    })
  }
  return definition
}

/**
 * The roles a connector plays.
 *
 * @category utils
 * @since 0.1.0
 */
export const roles = (definition: Any): ReadonlyArray<"source" | "sink"> => [
  ...(definition.source !== undefined ? (["source"] as const) : []),
  ...(definition.sink !== undefined ? (["sink"] as const) : [])
]

const roleOf = (definition: Any, role: "source" | "sink"): Role<unknown, unknown> | undefined =>
  role === "source" ? definition.source : definition.sink

const notARole = (definition: Any, role: "source" | "sink") =>
  new Config.ConfigError({
    component: `${definition.kind} ${role}`,
    path: "",
    detail: `the ${definition.kind} connector has no ${role}`
  })

/**
 * Decodes a config for one role of a connector, failing with a `ConfigError` that names the field (unknown
 * keys are refused). Opens nothing.
 *
 * @category utils
 * @since 0.1.0
 */
export const decodeConfig = (
  definition: Any,
  role: "source" | "sink",
  input: unknown
): Effect.Effect<unknown, Config.ConfigError> => {
  const r = roleOf(definition, role)
  return r === undefined
    ? Effect.fail(notARole(definition, role))
    : Config.decode(`${definition.kind} ${role}`, r.config, input)
}

const construct = <Out>(
  definition: Any,
  role: "source" | "sink",
  input: unknown
): Effect.Effect<Out, Config.ConfigError> => {
  const r = roleOf(definition, role)
  if (r === undefined) return Effect.fail(notARole(definition, role))
  return Effect.flatMap(Config.decode(`${definition.kind} ${role}`, r.config, input), (config) =>
    Effect.try({
      try: () => r.make(config) as Out,
      catch: (cause) =>
        cause instanceof Config.ConfigError
          ? cause
          : new Config.ConfigError({
              component: `${definition.kind} ${role}`,
              path: "",
              detail: `the connector refused its config (${cause instanceof Error ? cause.name : "error"})`
            })
    })
  )
}

/**
 * Decodes a source config and builds the source.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeSource = (definition: Any, input: unknown): Effect.Effect<AnySource, Config.ConfigError> =>
  construct<AnySource>(definition, "source", input)

/**
 * Decodes a sink config and builds the sink.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeSink = (definition: Any, input: unknown): Effect.Effect<AnySink, Config.ConfigError> =>
  construct<AnySink>(definition, "sink", input)

const isRedactedAst = (ast: SchemaAST.AST): boolean => {
  if (ast._tag === "Declaration") {
    const representation = (ast.annotations as { readonly representation?: { readonly id?: unknown } } | undefined)
      ?.representation
    return representation?.id === "effect/schema/Redacted"
  }
  if (ast._tag === "Union") return ast.types.some(isRedactedAst)
  return false
}

/**
 * The paths of the `Redacted` (secret) fields of a config schema, nested objects included (`auth.password`).
 * A spec may fill these only with `{ secret: NAME }`, and a secret reference may fill nothing else.
 *
 * @category utils
 * @since 0.1.0
 */
export const secretFields = (schema: Schema.Top): ReadonlyArray<string> => {
  const out: Array<string> = []
  const walk = (ast: SchemaAST.AST, prefix: string) => {
    if (ast._tag === "Objects") {
      for (const property of ast.propertySignatures) {
        const path = prefix === "" ? String(property.name) : `${prefix}.${String(property.name)}`
        if (isRedactedAst(property.type)) out.push(path)
        else walk(property.type, path)
      }
    } else if (ast._tag === "Union") {
      for (const member of ast.types) walk(member, prefix)
    }
  }
  walk(SchemaAST.toType(schema.ast), "")
  return [...new Set(out)]
}
