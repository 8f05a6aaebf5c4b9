/**
 * A connector catalog is the set of connectors a host makes available to pipeline specs, keyed by kind. It is
 * a value, not a global: the host builds it explicitly (`ConnectorCatalog.make([postgres, s3])`, or
 * `ConnectorCatalog.builtins.with(postgres)`), and nothing registers itself on import. Two definitions of one
 * kind are an error; asking for an unknown kind fails with the list of known ones.
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import * as Config from "./Config.ts"
import type * as Connector from "./Connector.ts"
import * as Definitions from "./connectors/definitions.ts"

/**
 * No connector of this kind is in the catalog. The message lists the kinds that are.
 *
 * @category errors
 * @since 0.1.0
 */
export class UnknownConnector extends Schema.TaggedError<UnknownConnector>("@data-mcp/core/UnknownConnector")(
  "UnknownConnector",
  { kind: Schema.String, known: Schema.Array(Schema.String) }
) {
  /** The catalog does not change by retrying. */
  get retryable(): boolean {
    return false
  }

  override get message(): string {
    return `Unknown connector kind ${JSON.stringify(this.kind)}; known kinds: ${
      this.known.length === 0 ? "none" : this.known.join(", ")
    }`
  }
}

const TypeId = "~@data-mcp/core/ConnectorCatalog"

/**
 * A set of connector definitions keyed by kind.
 *
 * @category models
 * @since 0.1.0
 */
export interface ConnectorCatalog {
  readonly [TypeId]: typeof TypeId
  /** The kinds in the catalog, sorted. */
  readonly kinds: ReadonlyArray<string>
  /** The definitions, in the order they were added. */
  readonly definitions: ReadonlyArray<Connector.Any>
  /** The definition of `kind`, or `UnknownConnector` listing the known kinds. */
  readonly get: (kind: string) => Effect.Effect<Connector.Any, UnknownConnector>
  /** The definition of `kind`, or `undefined`. */
  readonly find: (kind: string) => Connector.Any | undefined
  readonly has: (kind: string) => boolean
  /** A new catalog with `definition` added (a kind already present throws a `ConfigError`). */
  readonly with: (definition: Connector.Any) => ConnectorCatalog
}

/**
 * Makes a catalog. A kind defined twice throws a `ConfigError` naming it.
 *
 * **Example** (A host's catalog)
 *
 * ```ts
 * import { Connector, ConnectorCatalog, Jsonl } from "@data-mcp/core"
 *
 * const audit = Connector.make({ kind: "audit", sink: { config: Jsonl.SinkOptions, make: Jsonl.sink } })
 * const catalog = ConnectorCatalog.make([...ConnectorCatalog.builtins.definitions, audit])
 * catalog.kinds // ["audit", "csv", "generator", "jsonl", "memory", "parquet"]
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (definitions: Iterable<Connector.Any>): ConnectorCatalog => {
  const list = [...definitions]
  const byKind = new Map<string, Connector.Any>()
  list.forEach((definition, i) => {
    if (byKind.has(definition.kind)) {
      throw new Config.ConfigError({
        component: "connector catalog",
        path: `[${i}].kind`,
        detail: `the kind ${JSON.stringify(definition.kind)} is defined twice; a catalog holds one definition per kind`
      })
    }
    byKind.set(definition.kind, definition)
  })
  const kinds = [...byKind.keys()].sort()
  const catalog: ConnectorCatalog = {
    [TypeId]: TypeId,
    kinds,
    definitions: list,
    find: (kind) => byKind.get(kind),
    has: (kind) => byKind.has(kind),
    get: (kind) => {
      const found = byKind.get(kind)
      return found === undefined ? Effect.fail(new UnknownConnector({ kind, known: kinds })) : Effect.succeed(found)
    },
    with: (definition) => make([...list, definition])
  }
  return catalog
}

/**
 * Whether a value is a catalog.
 *
 * @category guards
 * @since 0.1.0
 */
export const isConnectorCatalog = (u: unknown): u is ConnectorCatalog =>
  typeof u === "object" && u !== null && TypeId in u

/**
 * An empty catalog.
 *
 * @category constructors
 * @since 0.1.0
 */
export const empty: ConnectorCatalog = make([])

/**
 * Core's built-in connectors: `csv`, `jsonl`, `parquet`, `memory` (inline records / an in-process sink) and
 * `generator`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const builtins: ConnectorCatalog = make(Definitions.all)

/**
 * The built-in definitions, by name.
 *
 * @category connectors
 * @since 0.1.0
 */
export const { csv, jsonl, parquet, memory, generator } = Definitions
