// Where the command keeps state, run history, dead letters and the registry: files under the state directory
// (the default), or PostgreSQL through @data-mcp/connector-postgres's stores, imported only when the config asks
// for them (a file-backed project never loads a database driver). The connection's secrets are named in the
// config (`{ secret: NAME }`) and resolved here with the project's secret provider; they never reach output.
import { DeadLetter, PipelineRegistry, RunStore, type RunStore as RunStoreNs, StateStore } from "@data-mcp/core"
import { Effect, Layer } from "effect"
import type * as CliConfig from "../CliConfig.ts"
import type * as Project from "../Project.ts"

export type Stores =
  | StateStore.StateStore
  | RunStoreNs.RunStore
  | DeadLetter.DeadLetterStore
  | PipelineRegistry.RegistryStore

const SECRET_FIELDS = ["password", "connectionString"] as const

const isReference = (u: unknown): u is { readonly secret: string } =>
  typeof u === "object" && u !== null && typeof (u as { secret?: unknown }).secret === "string"

/** The mistakes in `state` the schema cannot see: a missing connection, a secret written in clear text. */
export const problems = (config: CliConfig.Loaded, file: string): Array<CliConfig.Problem> => {
  const state = config.config.state
  if (state === undefined) return []
  const at = (segments: ReadonlyArray<string>, message: string): CliConfig.Problem => {
    const where = config.locate(["state", ...segments])
    return { file, line: where?.line, column: where?.column, path: ["state", ...segments].join("."), message }
  }
  const connection = state.connection
  if (state.backend === "file") {
    return [
      ...(connection === undefined ? [] : [at(["connection"], "only with backend postgres")]),
      ...(state.schema === undefined ? [] : [at(["schema"], "only with backend postgres")])
    ]
  }
  if (connection === undefined) return [at(["backend"], "postgres needs state.connection (host, user, database, …)")]
  const out: Array<CliConfig.Problem> = []
  for (const field of SECRET_FIELDS) {
    const value = connection[field]
    if (value !== undefined && !isReference(value)) {
      // The value is never quoted: it may be the secret itself.
      out.push(
        at(
          ["connection", field],
          "write { secret: NAME } and put the value in the environment or secretsFile: the config never holds a secret in clear text"
        )
      )
    }
  }
  if (connection.host === undefined && connection.connectionString === undefined) {
    out.push(at(["connection"], "give host (with user, database, …) or connectionString"))
  }
  return out
}

/** A line for humans naming where state lives, without any secret. */
export const describe = (project: Project.Project): string => {
  const state = project.config.config.state
  if (state?.backend !== "postgres") return `files under ${project.directory}`
  const c = state.connection
  const server =
    c?.host === undefined ? "connectionString" : `${c.host}:${c.port ?? 5432}/${c.database ?? c.user ?? ""}`
  return `postgres ${server} schema ${state.schema ?? "data_mcp"}`
}

const resolveConnection = (project: Project.Project, connection: typeof CliConfig.PostgresConnectionSchema.Type) =>
  Effect.gen(function* () {
    const resolved: Record<string, unknown> = {}
    for (const [key, value] of Object.entries(connection)) {
      resolved[key] = isReference(value) ? yield* project.secrets.resolve(value.secret) : value
    }
    return resolved
  })

const postgres = (project: Project.Project): Layer.Layer<Stores, unknown> =>
  Layer.unwrap(
    Effect.gen(function* () {
      const state = project.config.config.state!
      const module = yield* Effect.tryPromise({
        try: () => import("@data-mcp/connector-postgres"),
        catch: () =>
          new Error(
            "state.backend postgres needs @data-mcp/connector-postgres next to the CLI: npm install @data-mcp/connector-postgres"
          )
      })
      const connection = (yield* resolveConnection(project, state.connection ?? {})) as Parameters<
        typeof module.PostgresStateStore.layer
      >[0]
      const options = state.schema === undefined ? {} : { schema: state.schema }
      return Layer.mergeAll(
        module.PostgresStateStore.layer(connection, options),
        module.PostgresRunStore.layer(connection, options),
        module.PostgresDeadLetterStore.layer(connection, options),
        module.PostgresRegistryStore.layer(connection, options)
      )
    })
  )

/** The project's stores, as one layer. */
export const layer = (project: Project.Project): Layer.Layer<Stores, unknown> =>
  project.config.config.state?.backend === "postgres"
    ? postgres(project)
    : Layer.mergeAll(
        StateStore.layerFile({ directory: project.directory }),
        RunStore.layerFile({ directory: project.directory }),
        DeadLetter.layerFile({ directory: project.directory }),
        PipelineRegistry.RegistryStore.layerFile({ directory: project.directory })
      )
