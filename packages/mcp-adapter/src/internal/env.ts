// What every tool and resource of one server shares: the catalog, the detached-run service, resolved options
// and a way to run Effects with the server's services.
import type {
  ConnectorCatalog,
  DeadLetter,
  PipelineRegistry,
  PipelineSpec,
  Runner,
  RunStore,
  SecretProvider,
  StateStore
} from "@data-mcp/core"
import type { Effect, Exit, Option } from "effect"
import type * as Metrics from "../Metrics.ts"
import type { Runs } from "../Runs.ts"
import type { Catalog } from "./catalog.ts"
import type { Observer } from "./observe.ts"

/** The services the adapter runs with. */
export type Services = Runner.Runner | RunStore.RunStore | StateStore.StateStore | DeadLetter.DeadLetterStore

export interface Resolved {
  readonly waitSeconds: number
  readonly maxResultBytes: number
  readonly maxPipelineTools: number
  readonly templates: ReadonlyArray<PipelineSpec.Template>
  readonly connectors: ConnectorCatalog.ConnectorCatalog
  readonly secrets: SecretProvider.SecretProviderShape
  /** Where template instances are recorded (from the context, when it holds a `PipelineRegistry`). */
  readonly registry: Option.Option<PipelineRegistry.PipelineRegistryShape>
}

export interface Env {
  readonly catalog: Catalog
  readonly runs: Runs
  readonly options: Resolved
  readonly run: <A, E>(effect: Effect.Effect<A, E, Services>) => Promise<Exit.Exit<A, E>>
  /** Sees every tool call (audit, metrics), when configured. */
  readonly observer?: Observer | undefined
  /** The server's metrics, when configured (connector health gauges). */
  readonly metrics?: Metrics.Metrics | undefined
}
