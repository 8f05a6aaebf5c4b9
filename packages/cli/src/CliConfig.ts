/**
 * The project config of the `data-mcp` command: `data-mcp.config.yaml` (or `.yml` / `.json`) names the pipeline
 * spec files, where state lives and how `data-mcp serve` serves them. It is validated with Schema when read; every
 * mistake is a `Problem` naming the file, the line and the field, and what to fix. The config never carries a
 * secret: API keys are stored as hashes, and pipeline specs name their secrets.
 *
 * @since 0.1.0
 */
import * as fsp from "node:fs/promises"
import * as nodePath from "node:path"
import { PipelineSpec } from "@data-mcp/core"
import { Exit, Schema, SchemaIssue } from "effect"
import { isMap, isSeq, LineCounter, type Node, parseDocument } from "yaml"

const NonEmpty = Schema.String.check(Schema.isMinLength(1))

/**
 * A secret named, not written: `{ secret: NAME }`, resolved from the environment (or `secretsFile`) when used,
 * as pipeline specs name theirs.
 *
 * @category schemas
 * @since 0.1.0
 */
export const SecretReference = Schema.Struct({
  secret: NonEmpty.annotate({ description: "The secret's name: an environment variable or a key of `secretsFile`." })
})

/**
 * The PostgreSQL server of `state.backend: postgres`. The password and the connection string are secrets: the
 * config names them (`{ secret: PG_PASSWORD }`), it never holds them.
 *
 * @category schemas
 * @since 0.1.0
 */
export const PostgresConnectionSchema = Schema.Struct({
  connectionString: Schema.optionalKey(
    Schema.Unknown.annotate({
      description:
        "A libpq URL (`postgres://user:password@host/db`), as a secret reference `{ secret: NAME }`. Give this or `host`."
    })
  ),
  host: Schema.optionalKey(NonEmpty.annotate({ description: "The server's host name or IP address." })),
  port: Schema.optionalKey(
    Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 65535 })).annotate({
      description: "The server's port (default 5432)."
    })
  ),
  user: Schema.optionalKey(NonEmpty.annotate({ description: "The user name." })),
  password: Schema.optionalKey(
    Schema.Unknown.annotate({
      description: "The password, as a secret reference `{ secret: NAME }` (default: none, for trust auth)."
    })
  ),
  database: Schema.optionalKey(NonEmpty.annotate({ description: "The database." })),
  ssl: Schema.optionalKey(
    Schema.Boolean.annotate({ description: "Require TLS with certificate checks (default off)." })
  )
})

/**
 * Where runs keep state, run history, dead letters and the pipeline registry.
 *
 * @category schemas
 * @since 0.1.0
 */
export const StateSchema = Schema.Struct({
  backend: Schema.Literals(["file", "postgres"]).annotate({
    description:
      'The state backend: `file` (under `directory`; OS lock files, crash-safe writes) or `postgres` (tables in `schema` on `connection`, safe for several processes) (default "file").'
  }),
  directory: Schema.optionalKey(
    NonEmpty.annotate({
      description:
        "The state directory, relative to the config file (default `.data-mcp`). With `postgres`, only the audit log is kept there."
    })
  ),
  connection: Schema.optionalKey(
    PostgresConnectionSchema.annotate({ description: "`postgres`: the server (required with `postgres`)." })
  ),
  schema: Schema.optionalKey(
    NonEmpty.annotate({
      description: "`postgres`: the schema of the state tables, created if missing (default `data_mcp`)."
    })
  )
})

/**
 * How `data-mcp serve` serves the pipelines.
 *
 * @category schemas
 * @since 0.1.0
 */
export const ServerSchema = Schema.Struct({
  host: Schema.optionalKey(
    NonEmpty.annotate({ description: "The interface to listen on (default `127.0.0.1`, loopback only)." })
  ),
  port: Schema.optionalKey(
    Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 65535 })).annotate({
      description: "The TCP port (default 3333; 0 picks a free one)."
    })
  ),
  path: Schema.optionalKey(
    Schema.String.check(Schema.isPattern(/^\/[^\s?#]*$/, { message: "Expected a path starting with /" })).annotate({
      description: "The MCP endpoint's path (default `/mcp`)."
    })
  ),
  auth: Schema.optionalKey(
    Schema.Record(Schema.String, Schema.Unknown).annotate({
      description:
        "Authentication: the options of the adapter's `Auth.make` (`issuer`, `apiKeys` with hashes, …). `resource` defaults to the endpoint URL. Without it the server is open to any local client."
    })
  ),
  policy: Schema.optionalKey(
    Schema.Record(Schema.String, Schema.Unknown).annotate({
      description: "The RBAC policy: the adapter's `Policy` input (roles, permissions, pipeline patterns, tenants)."
    })
  ),
  metrics: Schema.optionalKey(
    Schema.Boolean.annotate({ description: "Serve Prometheus metrics at `/metrics` (default true)." })
  ),
  waitSeconds: Schema.optionalKey(
    Schema.Number.check(Schema.isBetween({ minimum: 0, maximum: 50 })).annotate({
      description: "How long a run tool call waits before returning the run id, in seconds (default 20)."
    })
  )
})

/**
 * The whole config file.
 *
 * @category schemas
 * @since 0.1.0
 */
export const ConfigSchema = Schema.Struct({
  pipelines: Schema.optionalKey(
    Schema.Array(NonEmpty).annotate({
      description:
        "Pipeline spec and template files (YAML or JSON), relative to the config file. A file with `params` is a template: `run --param k=v` instantiates it."
    })
  ),
  connectors: Schema.optionalKey(
    Schema.Array(NonEmpty).annotate({
      description:
        "Modules whose exported connector definitions (or catalogs) join core's built-ins: a path relative to the config file (`./connectors/mine.mjs`), or a package installed next to the CLI (`@data-mcp/connector-postgres`)."
    })
  ),
  state: Schema.optionalKey(
    StateSchema.annotate({ description: "Where state, runs, dead letters and the registry live (default: files)." })
  ),
  server: Schema.optionalKey(ServerSchema.annotate({ description: "The MCP server of `data-mcp serve`." })),
  secretsFile: Schema.optionalKey(
    NonEmpty.annotate({
      description:
        "A dotenv-style file of secrets, relative to the config file, tried after environment variables (default: none)."
    })
  )
})

/**
 * A decoded config.
 *
 * @category models
 * @since 0.1.0
 */
export type Config = typeof ConfigSchema.Type

/**
 * The file names looked for, in order, when no `--config` is given.
 *
 * @category constants
 * @since 0.1.0
 */
export const fileNames: ReadonlyArray<string> = ["data-mcp.config.yaml", "data-mcp.config.yml", "data-mcp.config.json"]

/**
 * One mistake in a config or spec file: where it is and what to fix.
 *
 * @category models
 * @since 0.1.0
 */
export interface Problem {
  readonly file: string
  readonly line?: number | undefined
  readonly column?: number | undefined
  /** The field: `server.port`, `pipelines[1]`, `transforms[2].filter`; empty for the whole file. */
  readonly path: string
  readonly message: string
}

/**
 * Formats a problem as `file:line:column: path: message`.
 *
 * @category utils
 * @since 0.1.0
 */
export const formatProblem = (problem: Problem): string =>
  `${problem.file}${problem.line === undefined ? "" : `:${problem.line}:${problem.column ?? 1}`}: ${
    problem.path === "" ? "" : `${problem.path}: `
  }${problem.message}`

type Segment = string | number

/**
 * Formats path segments as `a.b[2].c`.
 *
 * @category utils
 * @since 0.1.0
 */
export const formatPath: (segments: ReadonlyArray<Segment>) => string = PipelineSpec.formatPath

/**
 * A parsed YAML/JSON document that can say on which line a path is.
 *
 * @category models
 * @since 0.1.0
 */
export interface Located {
  readonly value: unknown
  readonly locate: (segments: ReadonlyArray<Segment>) => { line: number; column: number } | undefined
}

/**
 * Parses YAML or JSON text, keeping positions; a syntax error is a `Problem`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const parseLocated = (text: string, file: string): Located | Problem => {
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { lineCounter, prettyErrors: false })
  const error = doc.errors[0]
  if (error !== undefined) {
    const at = lineCounter.linePos(error.pos[0])
    return { file, line: at.line, column: at.col, path: "", message: `syntax error: ${error.message.split("\n")[0]}` }
  }
  const locate = (segments: ReadonlyArray<Segment>) => {
    let node: unknown = doc.contents
    let best: Node | undefined = doc.contents ?? undefined
    for (const segment of segments) {
      if (isMap(node)) {
        const pair = node.items.find((p) => (isScalarLike(p.key) ? String(p.key.value) : String(p.key)) === segment)
        if (pair === undefined) break
        best = (isNodeLike(pair.key) ? pair.key : undefined) ?? best
        node = pair.value
        if (isNodeLike(node) && !isMap(node) && !isSeq(node)) best = node
      } else if (isSeq(node) && typeof segment === "number") {
        const item = node.items[segment]
        if (item === undefined) break
        node = item
        if (isNodeLike(item)) best = item
      } else break
    }
    const offset = best?.range?.[0]
    if (offset === undefined) return undefined
    const pos = lineCounter.linePos(offset)
    return { line: pos.line, column: pos.col }
  }
  return { value: doc.toJS(), locate }
}

const isNodeLike = (u: unknown): u is Node => typeof u === "object" && u !== null && "range" in u
const isScalarLike = (u: unknown): u is { value: unknown } => typeof u === "object" && u !== null && "value" in u

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

/**
 * Decodes `input` with `schema` (unknown keys refused, all issues collected) into problems located in `doc`.
 *
 * @category utils
 * @since 0.1.0
 */
export const decodeLocated = <S extends Schema.Top & { readonly DecodingServices: never }>(
  schema: S,
  input: unknown,
  file: string,
  locate: Located["locate"],
  prefix: ReadonlyArray<Segment> = []
): { readonly ok: true; readonly value: S["Type"] } | { readonly ok: false; readonly problems: Array<Problem> } => {
  const exit = Schema.decodeUnknownExit(schema)(input, { onExcessProperty: "error", errors: "all" })
  if (Exit.isSuccess(exit)) return { ok: true, value: exit.value }
  const problems: Array<Problem> = []
  for (const reason of exit.cause.reasons) {
    if (reason._tag !== "Fail") continue
    for (const issue of formatter(reason.error.issue).issues) {
      const segments: Array<Segment> = [
        ...prefix,
        ...(issue.path ?? []).map((key): Segment => {
          const k = typeof key === "object" && key !== null && "key" in key ? key.key : key
          return typeof k === "number" ? k : String(k)
        })
      ]
      const message =
        issue.message === "Unexpected key" || issue.message.startsWith("Expected no excess")
          ? "unknown key (check the spelling)"
          : issue.message === "Missing key"
            ? "is required"
            : issue.message
      const at = locate(segments)
      problems.push({ file, line: at?.line, column: at?.column, path: formatPath(segments), message })
    }
  }
  if (problems.length === 0) problems.push({ file, path: formatPath(prefix), message: "invalid value" })
  return { ok: false, problems }
}

/**
 * A config file read and validated, with the directory its relative paths start from.
 *
 * @category models
 * @since 0.1.0
 */
export interface Loaded {
  /** The config file, or `undefined` when none was found (defaults apply). */
  readonly file: string | undefined
  /** The directory relative paths start from (the config file's, else the working directory). */
  readonly root: string
  readonly config: Config
  readonly locate: Located["locate"]
}

/**
 * Finds the config: `explicit` if given (it must exist), else the first of `fileNames` in `cwd`.
 *
 * @category utils
 * @since 0.1.0
 */
export const find = async (cwd: string, explicit: string | undefined): Promise<string | undefined | Problem> => {
  if (explicit !== undefined) {
    const file = nodePath.resolve(cwd, explicit)
    return (await exists(file)) ? file : { file: explicit, path: "", message: "the config file does not exist" }
  }
  for (const name of fileNames) {
    const file = nodePath.join(cwd, name)
    if (await exists(file)) return file
  }
  return undefined
}

const exists = (file: string) =>
  fsp.stat(file).then(
    (s) => s.isFile(),
    () => false
  )

/**
 * Reads a text file, or the `Problem` of a file that cannot be read (`shown` names it in the message).
 *
 * @category utils
 * @since 0.1.0
 */
export const readText = (file: string, shown: string): Promise<string | Problem> =>
  fsp.readFile(file, "utf8").catch(
    (cause: unknown): Problem => ({
      file: shown,
      path: "",
      message: `cannot read the file (${(cause as { code?: string }).code ?? "error"})`
    })
  )

/**
 * Reads and validates a config file.
 *
 * @category constructors
 * @since 0.1.0
 */
export const load = async (
  file: string | undefined,
  cwd: string
): Promise<
  { readonly ok: true; readonly loaded: Loaded } | { readonly ok: false; readonly problems: Array<Problem> }
> => {
  if (file === undefined)
    return { ok: true, loaded: { file: undefined, root: cwd, config: {}, locate: () => undefined } }
  const shown = nodePath.relative(cwd, file) || file
  const text = await readText(file, shown)
  if (typeof text !== "string") return { ok: false, problems: [text] }
  const parsed = parseLocated(text, shown)
  if (!("value" in parsed)) return { ok: false, problems: [parsed] }
  const value = parsed.value ?? {}
  if (typeof value !== "object" || Array.isArray(value)) {
    return { ok: false, problems: [{ file: shown, line: 1, path: "", message: "Expected a mapping of options" }] }
  }
  const decoded = decodeLocated(ConfigSchema, value, shown, parsed.locate)
  if (!decoded.ok) return decoded
  return { ok: true, loaded: { file, root: nodePath.dirname(file), config: decoded.value, locate: parsed.locate } }
}
