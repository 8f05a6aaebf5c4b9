/**
 * A project is what the `data-mcp` command works on: the config file, the pipeline specs and templates it names
 * (each parsed with `PipelineSpec`, so mistakes carry file, line and field), the state directory and the server
 * options. `Project.load` reads and checks all of it; `Project.pipeline` builds one pipeline for a run, a preview
 * or the MCP server.
 *
 * @since 0.1.0
 */
import * as nodePath from "node:path"
import { pathToFileURL } from "node:url"
import { type Connector, ConnectorCatalog, Pipeline, PipelineSet, PipelineSpec, SecretProvider } from "@data-mcp/core"
import { Auth, Policy } from "@data-mcp/mcp-adapter"
import { Effect } from "effect"
import { parse as parseYaml } from "yaml"
import * as CliConfig from "./CliConfig.ts"
import * as Stores from "./internal/stores.ts"

/**
 * One pipeline file of the project.
 *
 * @category models
 * @since 0.1.0
 */
export interface Entry {
  readonly name: string
  /** The file as shown in messages (relative to the working directory). */
  readonly file: string
  readonly kind: "spec" | "template"
  readonly spec: PipelineSpec.PipelineSpec | PipelineSpec.Template
}

/**
 * A loaded project.
 *
 * @category models
 * @since 0.1.0
 */
export interface Project {
  readonly config: CliConfig.Loaded
  /** The absolute state directory. */
  readonly directory: string
  readonly entries: ReadonlyArray<Entry>
  readonly secrets: SecretProvider.SecretProviderShape
  readonly catalog: ConnectorCatalog.ConnectorCatalog
}

/**
 * Bad input: a config, spec or param the user must fix (exit code 2).
 *
 * @category errors
 * @since 0.1.0
 */
export class InputError extends Error {
  readonly problems: ReadonlyArray<CliConfig.Problem>
  constructor(problems: ReadonlyArray<CliConfig.Problem> | string) {
    const list = typeof problems === "string" ? [{ file: "", path: "", message: problems }] : problems
    super(list.map((p) => (p.file === "" ? p.message : CliConfig.formatProblem(p))).join("\n"))
    this.name = "InputError"
    this.problems = list
  }
}

const specProblem = (error: PipelineSpec.SpecError, file: string): CliConfig.Problem => ({
  file: error.file ?? file,
  line: error.line,
  column: error.column,
  path: error.path,
  message: error.detail
})

/** A provider that resolves any well-formed name, for checking specs without their secrets. */
const placeholders: SecretProvider.SecretProviderShape = SecretProvider.make("validate", (name) =>
  Effect.succeed(`placeholder-${name}`)
)

const readEntry = async (
  path: string,
  root: string,
  cwd: string
): Promise<{ readonly entry: Entry } | { readonly problems: Array<CliConfig.Problem> }> => {
  const absolute = nodePath.resolve(root, path)
  const shown = nodePath.relative(cwd, absolute) || absolute
  const text = await CliConfig.readText(absolute, shown)
  if (typeof text !== "string") return { problems: [text] }
  let isTemplate = false
  try {
    const raw = parseYaml(text) as unknown
    isTemplate = typeof raw === "object" && raw !== null && ("params" in raw || "secrets" in raw)
  } catch {
    // PipelineSpec.parse reports the syntax error with its line.
  }
  const format = nodePath.extname(absolute).toLowerCase() === ".json" ? "json" : "yaml"
  const parsed = isTemplate
    ? PipelineSpec.parseTemplate(text, { file: shown, format })
    : PipelineSpec.parse(text, { file: shown, format })
  const result = await Effect.runPromise(Effect.result(parsed as Effect.Effect<PipelineSpec.PipelineSpec, unknown>))
  if (result._tag === "Failure") {
    const error = result.failure
    return {
      problems: [
        error instanceof PipelineSpec.SpecError
          ? specProblem(error, shown)
          : { file: shown, path: "", message: String(error) }
      ]
    }
  }
  return {
    entry: { name: result.success.name, file: shown, kind: isTemplate ? "template" : "spec", spec: result.success }
  }
}

/**
 * Options of `load`.
 *
 * @category models
 * @since 0.1.0
 */
export interface LoadOptions {
  readonly cwd: string
  /** `--config`: the config file (default: `data-mcp.config.yaml|yml|json` in `cwd`). */
  readonly config?: string | undefined
  /** Also build every spec (connector options, CEL, secret references) as `validate` does. */
  readonly check?: boolean | undefined
}

/**
 * Reads the config and every pipeline file. Fails with an `InputError` listing every problem found.
 *
 * @category constructors
 * @since 0.1.0
 */
export const load = async (options: LoadOptions): Promise<Project> => {
  const found = await CliConfig.find(options.cwd, options.config)
  if (typeof found === "object") throw new InputError([found])
  const loaded = await CliConfig.load(found, options.cwd)
  if (!loaded.ok) throw new InputError(loaded.problems)
  const { config, root } = loaded.loaded
  const configFile = found === undefined ? "" : nodePath.relative(options.cwd, found) || found
  const problems: Array<CliConfig.Problem> = []
  const entries: Array<Entry> = []
  const byName = new Map<string, Entry>()
  for (const [i, path] of (config.pipelines ?? []).entries()) {
    const read = await readEntry(path, root, options.cwd)
    if ("problems" in read) {
      // A missing file is the config's mistake: point at its line too.
      if (read.problems[0]?.path === "" && read.problems[0].line === undefined) {
        const at = loaded.loaded.locate(["pipelines", i])
        problems.push({
          file: configFile,
          line: at?.line,
          column: at?.column,
          path: `pipelines[${i}]`,
          message: `${path}: ${read.problems[0].message}`
        })
      } else problems.push(...read.problems)
      continue
    }
    const twin = byName.get(read.entry.name)
    if (twin !== undefined) {
      problems.push({
        file: read.entry.file,
        path: "name",
        message: `pipeline "${read.entry.name}" is also defined in ${twin.file}; names must be unique`
      })
      continue
    }
    byName.set(read.entry.name, read.entry)
    entries.push(read.entry)
  }
  const catalog = await loadConnectors(config.connectors ?? [], root, configFile, loaded.loaded.locate, problems)
  const secrets =
    config.secretsFile === undefined
      ? SecretProvider.fromEnv()
      : SecretProvider.orElse(
          SecretProvider.fromEnv(),
          SecretProvider.fromFile(nodePath.resolve(root, config.secretsFile))
        )
  const project: Project = {
    config: loaded.loaded,
    directory: nodePath.resolve(root, config.state?.directory ?? ".data-mcp"),
    entries,
    secrets,
    catalog
  }
  problems.push(...Stores.problems(loaded.loaded, configFile))
  if (options.check === true) {
    problems.push(...serverProblems(project, configFile))
    for (const entry of entries) {
      if (entry.kind !== "spec") continue
      const built = await Effect.runPromise(
        Effect.result(
          PipelineSpec.build(entry.spec, { catalog: project.catalog, secrets: placeholders, file: entry.file })
        )
      )
      if (built._tag === "Failure") problems.push(specProblem(built.failure, entry.file))
    }
  }
  if (problems.length > 0) throw new InputError(problems)
  return project
}

const isDefinition = (u: unknown): u is Connector.Any => {
  if (typeof u !== "object" || u === null) return false
  const d = u as { kind?: unknown; source?: { make?: unknown }; sink?: { make?: unknown } }
  return typeof d.kind === "string" && (typeof d.source?.make === "function" || typeof d.sink?.make === "function")
}

// The connectors of the config: every connector definition (or catalog) a listed module exports, after core's
// built-ins. Paths are relative to the config file; bare names are imported as packages from where the CLI is
// installed (a project's own node_modules when the CLI is one of its dependencies).
const loadConnectors = async (
  modules: ReadonlyArray<string>,
  root: string,
  configFile: string,
  locate: CliConfig.Located["locate"],
  problems: Array<CliConfig.Problem>
): Promise<ConnectorCatalog.ConnectorCatalog> => {
  const definitions: Array<Connector.Any> = [...ConnectorCatalog.builtins.definitions]
  for (const [i, specifier] of modules.entries()) {
    const at = locate(["connectors", i])
    const problem = (message: string) =>
      problems.push({ file: configFile, line: at?.line, column: at?.column, path: `connectors[${i}]`, message })
    const relative = specifier.startsWith(".") || nodePath.isAbsolute(specifier)
    let exports: Record<string, unknown>
    try {
      exports = (await import(relative ? pathToFileURL(nodePath.resolve(root, specifier)).href : specifier)) as Record<
        string,
        unknown
      >
    } catch (cause) {
      problem(
        `${specifier}: cannot load the module (${(cause as { code?: string }).code ?? (cause instanceof Error ? cause.message.split("\n")[0] : "error")})${relative ? "" : "; install it next to @data-mcp/cli"}`
      )
      continue
    }
    const found = Object.values(exports).flatMap((value) =>
      ConnectorCatalog.isConnectorCatalog(value) ? value.definitions : isDefinition(value) ? [value] : []
    )
    const unique = [...new Map(found.map((d) => [d.kind, d])).values()]
    if (unique.length === 0) {
      problem(`${specifier}: exports no connector definition (Connector.make) or catalog`)
      continue
    }
    for (const definition of unique) {
      const twin = definitions.find((d) => d.kind === definition.kind)
      if (twin === undefined) definitions.push(definition)
      else if (twin !== definition) problem(`${specifier}: the connector kind "${definition.kind}" is already defined`)
    }
  }
  return ConnectorCatalog.make(definitions)
}

/**
 * The endpoint URL `serve` listens on (with the configured host, port and path).
 *
 * @category utils
 * @since 0.1.0
 */
export const endpoint = (project: Project, port?: number): string => {
  const server = project.config.config.server
  const host = server?.host ?? "127.0.0.1"
  return `http://${host.includes(":") ? `[${host}]` : host}:${port ?? server?.port ?? 3333}${server?.path ?? "/mcp"}`
}

const serverProblems = (project: Project, configFile: string): Array<CliConfig.Problem> => {
  const server = project.config.config.server
  const problems: Array<CliConfig.Problem> = []
  const locate = project.config.locate
  if (server?.auth !== undefined) {
    const decoded = CliConfig.decodeLocated(
      Auth.OptionsSchema,
      { resource: endpoint(project), ...server.auth },
      configFile,
      locate,
      ["server", "auth"]
    )
    if (!decoded.ok) problems.push(...decoded.problems)
  }
  if (server?.policy !== undefined) {
    const decoded = CliConfig.decodeLocated(Policy.PolicySchema, server.policy, configFile, locate, [
      "server",
      "policy"
    ])
    if (!decoded.ok) problems.push(...decoded.problems)
  }
  return problems
}

/**
 * Checks the server options (auth, policy) and returns them ready for `createMcpServer`.
 *
 * @category utils
 * @since 0.1.0
 */
export const serverOptions = (
  project: Project,
  port?: number
): { readonly auth?: Auth.Authenticator; readonly policy?: Policy.PolicyInput } => {
  const configFile = project.config.file === undefined ? "" : project.config.file
  const problems = serverProblems(project, nodePath.relative(process.cwd(), configFile) || configFile)
  if (problems.length > 0) throw new InputError(problems)
  const server = project.config.config.server
  return {
    ...(server?.auth !== undefined
      ? { auth: Auth.make({ resource: endpoint(project, port), ...server.auth } as Auth.AuthOptions) }
      : {}),
    ...(server?.policy !== undefined ? { policy: server.policy as Policy.PolicyInput } : {})
  }
}

/**
 * Finds a pipeline by name, or an `InputError` naming the known ones.
 *
 * @category utils
 * @since 0.1.0
 */
export const entry = (project: Project, name: string): Entry => {
  const found = project.entries.find((e) => e.name === name)
  if (found !== undefined) return found
  const known = project.entries.map((e) => e.name)
  throw new InputError(
    `unknown pipeline "${name}"; ${known.length === 0 ? "the config names no pipelines" : `known: ${known.join(", ")}`}`
  )
}

/**
 * Parses `--param k=v` pairs.
 *
 * @category utils
 * @since 0.1.0
 */
export const parseParams = (pairs: ReadonlyArray<string>): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const pair of pairs) {
    const at = pair.indexOf("=")
    if (at <= 0) throw new InputError(`--param ${pair}: expected key=value`)
    out[pair.slice(0, at)] = pair.slice(at + 1)
  }
  return out
}

const coerce = (template: PipelineSpec.Template, raw: Readonly<Record<string, string>>): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const [key, text] of Object.entries(raw)) {
    const type = template.params[key]?.type
    if (type === "integer" || type === "number") {
      const n = Number(text)
      out[key] = text.trim() === "" || Number.isNaN(n) ? text : n
    } else if (type === "boolean") out[key] = text === "true" ? true : text === "false" ? false : text
    else out[key] = text
  }
  return out
}

/**
 * A built pipeline and the params to run it with.
 *
 * @category models
 * @since 0.1.0
 */
export interface Built {
  readonly pipeline: Pipeline.Any
  readonly params: Readonly<Record<string, unknown>>
}

/**
 * Builds one pipeline: a spec as is (it takes no params), a template instantiated with `params`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const pipeline = async (
  project: Project,
  entry: Entry,
  params: Readonly<Record<string, string>> = {}
): Promise<Built> => {
  const options = { catalog: project.catalog, secrets: project.secrets, file: entry.file }
  let effect: Effect.Effect<PipelineSpec.BuiltPipeline, PipelineSpec.SpecError>
  let values: Record<string, unknown> = {}
  if (entry.kind === "template") {
    values = coerce(entry.spec as PipelineSpec.Template, params)
    effect = PipelineSpec.instantiate(entry.spec as PipelineSpec.Template, values, options)
  } else {
    const given = Object.keys(params)
    if (given.length > 0) {
      throw new InputError(
        `pipeline "${entry.name}" takes no params (it is a spec, not a template): remove --param ${given.join(", ")}`
      )
    }
    effect = PipelineSpec.build(entry.spec, options)
  }
  const built = await Effect.runPromise(Effect.result(effect))
  if (built._tag === "Failure") {
    const error = built.failure
    const problem = specProblem(error, entry.file)
    throw new InputError([
      error.reason === "InvalidParams" ? { ...problem, file: "--param", line: undefined } : problem
    ])
  }
  return { pipeline: Pipeline.make(built.success as Pipeline.MakeOptions<unknown, unknown, unknown>), params: values }
}

/**
 * The set the MCP server serves: every spec of the project (templates are offered to `register_pipeline`).
 *
 * @category constructors
 * @since 0.1.0
 */
export const pipelineSet = async (
  project: Project,
  name = "data-mcp"
): Promise<{ readonly set: PipelineSet.PipelineSet; readonly templates: ReadonlyArray<PipelineSpec.Template> }> => {
  const pipelines: Array<Pipeline.Any> = []
  const templates: Array<PipelineSpec.Template> = []
  for (const e of project.entries) {
    if (e.kind === "template") templates.push(e.spec as PipelineSpec.Template)
    else pipelines.push((await pipeline(project, e)).pipeline)
  }
  return { set: PipelineSet.make(name, pipelines), templates }
}
