// What every tool and resource of one server shares: the catalog, the detached-run service, resolved options
// and a way to run Effects with the server's services.
import type {
  ConnectorCatalog,
  DeadLetter,
  PipelineSpec,
  Runner,
  RunStore,
  SecretProvider,
  StateStore
} from "@data-mcp/core"
import type { Effect, Exit } from "effect"
import type { Runs } from "../Runs.ts"
import type { Catalog } from "./catalog.ts"

/** The services the adapter runs with. */
export type Services = Runner.Runner | RunStore.RunStore | StateStore.StateStore | DeadLetter.DeadLetterStore

export interface Resolved {
  readonly waitSeconds: number
  readonly maxResultBytes: number
  readonly maxPipelineTools: number
  readonly templates: ReadonlyArray<PipelineSpec.Template>
  readonly connectors: ConnectorCatalog.ConnectorCatalog
  readonly secrets: SecretProvider.SecretProviderShape
}

export interface Env {
  readonly catalog: Catalog
  readonly runs: Runs
  readonly options: Resolved
  readonly run: <A, E>(effect: Effect.Effect<A, E, Services>) => Promise<Exit.Exit<A, E>>
}
