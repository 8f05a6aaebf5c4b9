/**
 * The `data-mcp` command: validate a project's config and specs, run, preview and inspect pipelines, and serve
 * them to agents over MCP — the same adapter a host app mounts. `Cli.main` parses the arguments and resolves with
 * the exit code: 0 success, 1 a run or command failed, 2 bad input (config, spec, params or arguments; the
 * message names file, line and field), 130 cancelled with Ctrl-C (the checkpoint is safe; a re-run resumes).
 *
 * @since 0.1.0
 */
import * as nodePath from "node:path"
import {
  type Checkpoint,
  Pipeline,
  PipelineRegistry,
  Runner,
  SchemaInference,
  SecretProvider,
  type StateStore
} from "@data-mcp/core"
import { createMcpServer, type DataMcpServer, Metrics, Preview } from "@data-mcp/mcp-adapter"
import { Command, CommanderError, Option } from "commander"
import { Effect, Layer, Logger, Schema } from "effect"
import * as CliConfig from "./CliConfig.ts"
import * as Infer from "./internal/infer.ts"
import * as Progress from "./internal/progress.ts"
import * as Reload from "./internal/reload.ts"
import * as Runtime from "./internal/runtime.ts"
import * as Scaffold from "./internal/scaffold.ts"
import * as Stores from "./internal/stores.ts"
import * as Project from "./Project.ts"

/**
 * The exit codes of the command.
 *
 * @category constants
 * @since 0.1.0
 */
export const ExitCode = { ok: 0, failed: 1, badInput: 2, cancelled: 130 } as const

/**
 * Where the command reads and writes (tests pass their own).
 *
 * @category models
 * @since 0.1.0
 */
export interface Io {
  readonly cwd: string
  readonly stdout: NodeJS.WriteStream
  readonly stderr: NodeJS.WriteStream
}

const version = "0.1.0"

type Json = Checkpoint.Json

const json = (value: unknown) => JSON.stringify(value, (_, v) => (typeof v === "bigint" ? v.toString() : v), 2)

const collect = (value: string, previous: Array<string>) => [...previous, value]

/**
 * Runs the command with `argv` (without `node` and the script) and resolves with the exit code. Long-running
 * commands (`serve`, `dev`) resolve when they are stopped.
 *
 * @category constructors
 * @since 0.1.0
 */
export const main = async (argv: ReadonlyArray<string>, io: Io): Promise<number> => {
  const out = (text: string) => io.stdout.write(`${text}\n`)
  const err = (text: string) => io.stderr.write(`${text}\n`)
  let code: number = ExitCode.ok
  const program = new Command("data-mcp")
    .description("Compose data pipelines from specs, run them, and serve them to AI agents over MCP.")
    .version(version)
    .option("-c, --config <file>", "the config file (default: data-mcp.config.yaml|yml|json here)")
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .showHelpAfterError("(run data-mcp --help for the commands)")

  const globalConfig = (): string | undefined => program.opts<{ config?: string }>().config
  // Relative paths in specs (a CSV file, an output file) are relative to the config file's directory.
  const load = async (check = false) => {
    const project = await Project.load({ cwd: io.cwd, config: globalConfig(), check })
    process.chdir(project.config.root)
    return project
  }
  const paramOption = () =>
    new Option("-p, --param <key=value>", "a template param (repeatable)").argParser(collect).default([])

  program
    .command("validate")
    .description("check the config and every pipeline spec (errors name file, line and field)")
    .option("--json", "print the result as JSON")
    .action(async (options: { json?: boolean }) => {
      try {
        const found = await CliConfig.find(io.cwd, globalConfig())
        if (found === undefined) {
          throw new Project.InputError(
            `no ${CliConfig.fileNames.join(", ")} in ${io.cwd}: run data-mcp init, or pass --config <file>`
          )
        }
        const project = await load(true)
        if (options.json === true) {
          out(
            json({
              ok: true,
              pipelines: project.entries.map((e) => ({ name: e.name, file: e.file, kind: e.kind })),
              connectors: project.catalog.kinds
            })
          )
        } else out(`OK: ${project.entries.length} pipeline(s) valid (${project.entries.map((e) => e.name).join(", ")})`)
      } catch (error) {
        if (error instanceof Project.InputError && options.json === true) {
          out(json({ ok: false, problems: error.problems }))
          code = ExitCode.badInput
          return
        }
        throw error
      }
    })

  program
    .command("list")
    .description("list the project's pipelines")
    .option("--json", "print JSON")
    .action(async (options: { json?: boolean }) => {
      const project = await load()
      const rows = project.entries.map((e) => ({
        name: e.name,
        version: e.spec.version,
        kind: e.kind,
        source: e.spec.source.kind,
        sink: e.spec.sink.kind,
        file: e.file,
        description: e.spec.description
      }))
      if (options.json === true) out(json(rows))
      else if (rows.length === 0) out("no pipelines (add spec files to `pipelines:` in the config)")
      else for (const r of rows) out(`${r.name}@${r.version}  ${r.source} → ${r.sink}  ${r.kind}  ${r.file}`)
    })

  program
    .command("run")
    .description("run a pipeline with live progress (Ctrl-C cancels safely; a re-run resumes)")
    .argument("<pipeline>", "the pipeline's name")
    .addOption(paramOption())
    .option("--json", "print the run summary as JSON (no progress)")
    .option("-q, --quiet", "no progress display")
    .option("--verbose", "also print the runner's log lines")
    .action(
      async (name: string, options: { param: Array<string>; json?: boolean; quiet?: boolean; verbose?: boolean }) => {
        code = await runCommand(name, options)
      }
    )

  const runCommand = async (
    name: string,
    options: { param: Array<string>; json?: boolean; quiet?: boolean; verbose?: boolean },
    bounds?: { readonly start?: Json | undefined; readonly end?: Json | undefined }
  ): Promise<number> => {
    const project = await load()
    const built = await Project.pipeline(project, Project.entry(project, name), Project.parseParams(options.param))
    const runner = Runtime.make(project, { verbose: options.verbose })
    const controller = new AbortController()
    let interrupted = false
    const onSignal = () => {
      if (interrupted) {
        err("stopping now (the last durable checkpoint is kept)")
        process.exit(ExitCode.cancelled)
      }
      interrupted = true
      err("\ncancelling: the batch in flight finishes, nothing past it is checkpointed (Ctrl-C again to stop now)")
      controller.abort()
    }
    process.on("SIGINT", onSignal)
    process.on("SIGTERM", onSignal)
    const progress = Progress.make(io.stdout, {
      pipeline: name,
      quiet: options.json === true || options.quiet === true
    })
    try {
      let handle: Runtime.Handle
      try {
        handle = await runner.start(built.pipeline, built.params, { signal: controller.signal, ...bounds })
      } catch (error) {
        if (interrupted) {
          err("cancelled before the run started")
          return ExitCode.cancelled
        }
        throw error
      }
      for await (const event of handle.events) {
        if (event._tag === "RunStarted")
          void estimate(built, event.checkpoint).then((rows) => rows !== undefined && progress.expect(rows))
        progress.event(event)
      }
      progress.stop()
      const summary = await handle.result.catch(async () => (await runner.getRun(handle.id))?.summary)
      if (summary === undefined) {
        err(`run ${handle.id} ended without a summary`)
        return ExitCode.failed
      }
      if (options.json === true) out(json(summary))
      else {
        const seconds = (summary.durationMs / 1000).toFixed(1)
        out(
          `${summary.status}: read ${summary.recordsRead}, written ${summary.recordsWritten}, dead letters ${summary.deadLetters}, retries ${summary.retries} in ${seconds}s (${summary.guarantee}); run ${summary.runId}`
        )
        if (summary.error !== undefined) err(`error: ${summary.error.message}`)
        if (summary.status === "cancelled") err(`checkpoint kept at ${json(summary.checkpointTo)}; run again to resume`)
      }
      return summary.status === "succeeded"
        ? ExitCode.ok
        : summary.status === "cancelled"
          ? ExitCode.cancelled
          : ExitCode.failed
    } finally {
      progress.stop()
      process.off("SIGINT", onSignal)
      process.off("SIGTERM", onSignal)
      await runner.dispose()
    }
  }

  program
    .command("backfill")
    .description(
      "a bounded run from --from and/or up to --to; it never reads or moves the pipeline's own checkpoint (a re-run resumes the backfill)"
    )
    .argument("<pipeline>", "the pipeline's name")
    .option("--from <checkpoint>", "the start position, as JSON (default: the beginning)")
    .option("--to <checkpoint>", "the end position, as JSON (e.g. 500, or a cursor object)")
    .addOption(paramOption())
    .option("--json", "print the run summary as JSON (no progress)")
    .option("-q, --quiet", "no progress display")
    .action(
      async (
        name: string,
        options: { from?: string; to?: string; param: Array<string>; json?: boolean; quiet?: boolean }
      ) => {
        if (options.from === undefined && options.to === undefined) {
          throw new Project.InputError("backfill needs --from <checkpoint>, --to <checkpoint> or both")
        }
        code = await runCommand(name, options, {
          start: options.from === undefined ? undefined : parseJson(options.from, "--from"),
          end: options.to === undefined ? undefined : parseJson(options.to, "--to")
        })
      }
    )

  program
    .command("runs")
    .description("list recent runs, newest first")
    .argument("[pipeline]", "only this pipeline's runs")
    .option("-n, --limit <n>", "how many", "20")
    .option("--json", "print JSON")
    .action(async (name: string | undefined, options: { limit: string; json?: boolean }) => {
      const project = await load()
      if (name !== undefined) Project.entry(project, name)
      await Runtime.use(project, async (runner) => {
        const page = await runner.listRuns({ pipeline: name, limit: positive(options.limit, "--limit") })
        if (options.json === true) out(json(page.runs))
        else if (page.runs.length === 0) out("no runs yet")
        else {
          for (const r of page.runs) {
            const s = r.summary
            out(
              `${r.id}  ${r.pipeline}@${r.version}  ${r.status}  ${r.createdAt}${s === undefined ? "" : `  read ${s.recordsRead} written ${s.recordsWritten} dead ${s.deadLetters}`}`
            )
          }
        }
      })
    })

  program
    .command("preview")
    .description("a dry run: sample records after transforms and the plan (nothing is written)")
    .argument("<pipeline>", "the pipeline's name")
    .addOption(paramOption())
    .option("-n, --limit <n>", "records to show (at most 100)", "10")
    .option("--json", "print JSON")
    .action(async (name: string, options: { param: Array<string>; limit: string; json?: boolean }) => {
      const project = await load()
      const built = await Project.pipeline(project, Project.entry(project, name), Project.parseParams(options.param))
      const limit = positive(options.limit, "--limit")
      const result = await Effect.runPromise(
        Preview.run(built.pipeline, built.params, { limit }).pipe(
          Effect.provide(
            Layer.mergeAll(
              Runner.layer({ purgeIntervalMs: 0 }).pipe(Layer.provideMerge(Stores.layer(project))),
              Logger.layer([])
            )
          )
        )
      )
      if (options.json === true) out(json(result))
      else {
        out(`records (${result.records.length} of ${result.recordsRead} read):`)
        for (const r of result.records) out(`  ${JSON.stringify(r)}`)
        for (const r of result.rejected) out(`  rejected at ${r.step}: ${r.reason}`)
        const plan = result.plan
        out("plan:")
        out(`  checkpoint: ${JSON.stringify(plan.checkpoint.from)} → ${JSON.stringify(plan.checkpoint.to)}`)
        if (plan.estimate !== null) out(`  estimate: ${JSON.stringify(plan.estimate)}`)
        out(
          `  target: ${plan.target.sink} (${plan.target.disposition})${plan.target.name ? ` ${plan.target.name}` : ""}`
        )
        for (const effect of plan.target.effects) out(`    ${effect}`)
        out(
          `  schema: ${Object.entries(plan.schema)
            .map(([k, t]) => `${k}: ${t}`)
            .join(", ")}`
        )
        out(`  guarantee: ${plan.guarantee}`)
      }
    })

  const state = program.command("state").description("show or reset a pipeline's checkpoint")
  const stateKeyOf = async (name: string, params: Array<string>) => {
    const project = await load()
    const built = await Project.pipeline(project, Project.entry(project, name), Project.parseParams(params))
    const decoded = await Effect.runPromise(Effect.result(Pipeline.decodeParams(built.pipeline, built.params)))
    if (decoded._tag === "Failure") throw new Project.InputError(`--param: ${decoded.failure.message}`)
    return { project, key: Pipeline.stateKey(built.pipeline, decoded.success) }
  }
  const withState = <A>(
    project: Project.Project,
    f: (store: StateStore.StateStore["Service"]) => Effect.Effect<A, unknown>
  ) => Runtime.use(project, (runtime) => runtime.state(f))
  state
    .command("show")
    .description("print the stored checkpoint")
    .argument("<pipeline>", "the pipeline's name")
    .addOption(paramOption())
    .option("--json", "print JSON")
    .action(async (name: string, options: { param: Array<string>; json?: boolean }) => {
      const { project, key } = await stateKeyOf(name, options.param)
      const checkpoint = await withState(project, (s) => s.load(key))
      if (options.json === true) out(json({ pipeline: name, stateKey: key, checkpoint: checkpoint ?? null }))
      else
        out(
          `${key}: ${checkpoint === undefined ? "no checkpoint (the next run starts from the beginning)" : json(checkpoint)}`
        )
    })
  state
    .command("reset")
    .description("clear the checkpoint: the next run starts from the beginning (needs --yes)")
    .argument("<pipeline>", "the pipeline's name")
    .addOption(paramOption())
    .option("-y, --yes", "really reset")
    .option("--json", "print JSON")
    .action(async (name: string, options: { param: Array<string>; yes?: boolean; json?: boolean }) => {
      const { project, key } = await stateKeyOf(name, options.param)
      if (options.yes !== true) {
        throw new Project.InputError(
          `state reset clears the checkpoint of ${key}; the next run re-reads everything. Add --yes to confirm`
        )
      }
      const before = await withState(project, (s) => s.load(key))
      await withState(project, (s) => s.set(key, undefined))
      const record = {
        at: new Date().toISOString(),
        action: "state.reset",
        pipeline: name,
        stateKey: key,
        before: before ?? null
      }
      await appendAudit(project.directory, record)
      if (options.json === true) out(json(record))
      else
        out(
          `reset ${key} (was ${json(before ?? null)}); recorded in ${nodePath.join(project.directory, "audit.jsonl")}`
        )
    })

  state
    .command("set")
    .description("overwrite the checkpoint (an operator action, audited; needs --yes)")
    .argument("<pipeline>", "the pipeline's name")
    .argument("<checkpoint>", "the new checkpoint, as JSON")
    .addOption(paramOption())
    .option("-y, --yes", "really set it")
    .option("--json", "print JSON")
    .action(async (name: string, text: string, options: { param: Array<string>; yes?: boolean; json?: boolean }) => {
      const checkpoint = parseJson(text, "<checkpoint>")
      const { project, key } = await stateKeyOf(name, options.param)
      if (options.yes !== true) {
        throw new Project.InputError(
          `state set overwrites the checkpoint of ${key}; runs resume from the new one. Add --yes to confirm`
        )
      }
      const before = await withState(project, (s) => s.load(key))
      await withState(project, (s) => s.set(key, checkpoint))
      const record = {
        at: new Date().toISOString(),
        action: "state.set",
        pipeline: name,
        stateKey: key,
        before: before ?? null,
        after: checkpoint
      }
      await appendAudit(project.directory, record)
      if (options.json === true) out(json(record))
      else out(`set ${key} to ${JSON.stringify(checkpoint)} (was ${JSON.stringify(before ?? null)})`)
    })

  const dlq = program.command("dlq").description("dead letters")
  dlq
    .command("purge")
    .description("delete a pipeline's dead letters (audited; needs --yes)")
    .argument("<pipeline>", "the pipeline's name")
    .option("-y, --yes", "really delete them")
    .option("--json", "print JSON")
    .action(async (name: string, options: { yes?: boolean; json?: boolean }) => {
      const project = await load()
      Project.entry(project, name)
      await Runtime.use(project, async (runner) => {
        const ids: Array<string> = []
        let cursor: string | undefined
        do {
          const page = await runner.deadLetters({ pipeline: name, limit: 500, cursor })
          ids.push(...page.letters.map((l) => l.id))
          cursor = page.nextCursor
        } while (cursor !== undefined)
        if (options.yes !== true) {
          throw new Project.InputError(
            `dlq purge deletes ${ids.length} dead letter(s) of ${name} for good. Add --yes to confirm`
          )
        }
        const removed = await runner.removeDeadLetters(ids)
        const record = { at: new Date().toISOString(), action: "dlq.purge", pipeline: name, removed }
        await appendAudit(project.directory, record)
        if (options.json === true) out(json(record))
        else out(`deleted ${removed} dead letter(s) of ${name}`)
      })
    })
  dlq
    .command("list")
    .description("list a pipeline's dead letters, oldest first")
    .argument("<pipeline>", "the pipeline's name")
    .option("-n, --limit <n>", "how many", "50")
    .option("--json", "print JSON")
    .action(async (name: string, options: { limit: string; json?: boolean }) => {
      const project = await load()
      Project.entry(project, name)
      await Runtime.use(project, async (runner) => {
        const page = await runner.deadLetters({ pipeline: name, limit: positive(options.limit, "--limit") })
        if (options.json === true) out(json(page))
        else if (page.letters.length === 0) out("no dead letters")
        else for (const l of page.letters) out(`${l.id}  ${l.at}  ${l.stream}  ${l.stage}: ${l.reason}`)
      })
    })

  dlq
    .command("replay")
    .description(
      "replay dead letters through the pipeline's current version (audited): fixed records are written and their letters removed; records failing again stay with the new reason"
    )
    .argument("<pipeline>", "the pipeline's name")
    .addOption(new Option("--id <id>", "a dead letter's id (repeatable)").argParser(collect).default([]))
    .option("--all", "replay all of the pipeline's dead letters (for its params' state key)")
    .addOption(paramOption())
    .option("--json", "print the result as JSON")
    .action(
      async (name: string, options: { id: Array<string>; all?: boolean; param: Array<string>; json?: boolean }) => {
        if ((options.all === true) === options.id.length > 0) {
          throw new Project.InputError("dlq replay needs either --id <id> (repeatable) or --all")
        }
        const project = await load()
        const built = await Project.pipeline(project, Project.entry(project, name), Project.parseParams(options.param))
        const controller = new AbortController()
        const onSignal = () => {
          err("\ncancelling the replay: letters not yet replayed stay")
          controller.abort()
        }
        process.on("SIGINT", onSignal)
        try {
          await Runtime.use(project, async (runner) => {
            if (options.id.length > 0) {
              // Unknown ids are the user's to fix before anything runs.
              const known = new Set<string>()
              let cursor: string | undefined
              do {
                const page = await runner.deadLetters({ pipeline: name, limit: 500, cursor })
                for (const l of page.letters) known.add(l.id)
                cursor = page.nextCursor
              } while (cursor !== undefined)
              const unknown = options.id.filter((id) => !known.has(id))
              if (unknown.length > 0)
                throw new Project.InputError(
                  `--id ${unknown.join(", ")}: no such dead letter of ${name} (dlq list ${name})`
                )
            }
            const result = await runner.replay(
              built.pipeline,
              { params: built.params, ...(options.id.length > 0 ? { ids: options.id } : {}), caller: "cli" },
              controller.signal
            )
            const record = {
              at: new Date().toISOString(),
              action: "dlq.replay",
              pipeline: name,
              version: result.version,
              stateKey: result.stateKey,
              ids: options.all === true ? "all" : options.id,
              succeeded: result.succeeded,
              failedAgain: result.failedAgain,
              skipped: result.skipped,
              pending: result.pending,
              runs: result.runs.map((r) => r.runId)
            }
            await appendAudit(project.directory, record)
            if (options.json === true) out(json(result))
            else {
              out(
                `replayed ${result.letters - result.skipped} of ${result.letters} dead letter(s) of ${name} through ${name}@${result.version}: ${result.succeeded} written, ${result.failedAgain} failed again (kept with the new reason), ${result.skipped} skipped (stage source), ${result.pending} not replayed`
              )
              for (const run of result.runs) out(`  run ${run.runId}: ${run.status}`)
            }
            const statuses = result.runs.map((r) => r.status)
            code = statuses.includes("cancelled")
              ? ExitCode.cancelled
              : statuses.includes("failed")
                ? ExitCode.failed
                : ExitCode.ok
          })
        } finally {
          process.off("SIGINT", onSignal)
        }
      }
    )

  const withRegistry = <A>(
    project: Project.Project,
    f: (registry: PipelineRegistry.PipelineRegistry["Service"]) => Effect.Effect<A, unknown>
  ) =>
    Runtime.use(project, (runtime) => runtime.registry(f)).catch((error: unknown) => {
      // Registering another definition under a registered version is the user's to fix: bump the version.
      if (error instanceof PipelineRegistry.RegistryError && error.reason !== "InvalidReference") {
        throw new Project.InputError(error.message)
      }
      throw error
    })

  program
    .command("register")
    .description("record a pipeline's version (name, version, content hash) in the registry under .data-mcp/")
    .argument("<pipeline>", "the pipeline's name")
    .addOption(paramOption())
    .option("--json", "print JSON")
    .action(async (name: string, options: { param: Array<string>; json?: boolean }) => {
      const project = await load()
      const built = await Project.pipeline(project, Project.entry(project, name), Project.parseParams(options.param))
      const entry = await withRegistry(project, (r) => r.register(built.pipeline))
      if (options.json === true) out(json(entry))
      else out(`registered ${entry.name}@${entry.version} (${entry.hash})`)
    })

  program
    .command("versions")
    .description("the registered versions of a pipeline, newest first")
    .argument("<pipeline>", "the pipeline's name")
    .option("--json", "print JSON")
    .action(async (name: string, options: { json?: boolean }) => {
      const project = await load()
      const entries = await withRegistry(project, (r) => r.versions(name))
      if (options.json === true) out(json(entries))
      else if (entries.length === 0) out(`no registered versions of ${name} (data-mcp register ${name})`)
      else {
        for (const e of entries) {
          out(
            `${e.name}@${e.version}  ${e.hash}  ${e.registeredAt}${e.deprecated === undefined ? "" : `  deprecated: ${e.deprecated.reason}`}`
          )
        }
      }
    })

  program
    .command("infer-schema")
    .description(
      "infer the schema of a CSV, JSON Lines or Parquet file, or of a pipeline's source: a type list, --json, --json-schema or --ddl <dialect>"
    )
    .argument("[file]", "the data file (.csv, .jsonl/.ndjson, .parquet)")
    .option("--pipeline <name>", "sample this pipeline's source instead of a file (nothing is written)")
    .addOption(paramOption())
    .option("-n, --sample <n>", "how many records to look at", "1000")
    .option("--timestamps", "type ISO 8601 strings as timestamp/date")
    .option("--json", "print the inferred schema as JSON")
    .option("--json-schema", "print a JSON Schema")
    .option("--ddl <dialect>", "print the create table of that connector's sink: postgres or mysql")
    .option("--table <[schema.]name>", "the table of --ddl (default: the file's or pipeline's name)")
    .action(
      async (
        file: string | undefined,
        options: {
          pipeline?: string
          param: Array<string>
          sample: string
          timestamps?: boolean
          json?: boolean
          jsonSchema?: boolean
          ddl?: string
          table?: string
        }
      ) => {
        if ((file === undefined) === (options.pipeline === undefined)) {
          throw new Project.InputError("infer-schema needs a <file> or --pipeline <name> (one of them)")
        }
        if (options.ddl !== undefined && options.ddl !== "postgres" && options.ddl !== "mysql") {
          throw new Project.InputError(`--ddl ${options.ddl}: expected postgres or mysql`)
        }
        const inferOptions = {
          sample: positive(options.sample, "--sample"),
          detectTimestamps: options.timestamps === true
        }
        let schema: SchemaInference.Type
        if (options.pipeline !== undefined) {
          const project = await load()
          const entry = Project.entry(project, options.pipeline)
          schema = await Infer.inferPipeline(
            await Project.pipeline(project, entry, Project.parseParams(options.param)),
            inferOptions
          )
        } else schema = await Infer.inferFile(nodePath.resolve(io.cwd, file!), inferOptions)
        if (options.ddl !== undefined) {
          const table =
            options.table ??
            (options.pipeline ?? nodePath.basename(file!, nodePath.extname(file!))).replace(/[^A-Za-z0-9_]/g, "_")
          out(await Infer.ddl(options.ddl, table, schema))
        } else if (options.jsonSchema === true) out(json(SchemaInference.toJsonSchema(schema)))
        else if (options.json === true) out(json(schema))
        else out(Infer.describe(schema))
      }
    )

  program
    .command("serve")
    .description("serve the config's pipelines over MCP (Streamable HTTP, or --stdio)")
    .option("--stdio", "speak MCP on stdin/stdout (for clients that start the server)")
    .option("--host <host>", "override server.host")
    .option("--port <port>", "override server.port")
    .action(async (options: { stdio?: boolean; host?: string; port?: string }) => {
      const project = await load(true)
      await serve(project, {
        stdio: options.stdio === true,
        host: options.host,
        port: options.port === undefined ? undefined : port(options.port),
        dev: false
      })
    })

  program
    .command("dev")
    .description(
      "local dev mode: the MCP server on localhost with file state under .data-mcp/ (demo pipelines if none)"
    )
    .option("--port <port>", "the port (default 3333; 0 picks a free one)")
    .action(async (options: { port?: string }) => {
      const found = await CliConfig.find(io.cwd, globalConfig())
      if (found === undefined) {
        const written = await Scaffold.demo(nodePath.join(io.cwd, ".data-mcp", "demo"))
        err(`no config here: serving the demo pipelines (${written.config})`)
      }
      const project = await Project.load({
        cwd: io.cwd,
        config:
          found === undefined ? nodePath.join(io.cwd, ".data-mcp", "demo", "data-mcp.config.yaml") : globalConfig(),
        check: true
      })
      process.chdir(project.config.root)
      await serve(project, {
        stdio: false,
        host: "127.0.0.1",
        port: options.port === undefined ? (project.config.config.server?.port ?? 3333) : port(options.port),
        dev: true
      })
    })

  program
    .command("new")
    .description("scaffold a pipeline spec (added to the config) or a connector package with a conformance test")
    .argument("<what>", "pipeline or connector")
    .argument("<name>", "the pipeline's name or the connector's kind")
    .action(async (what: string, name: string) => {
      if (what === "connector") {
        const files = await Scaffold.newConnector(io.cwd, name)
        for (const f of files) out(`wrote ${nodePath.relative(io.cwd, f) || f}`)
        out(`next: cd connector-${name} && npm install && npm test`)
        return
      }
      if (what !== "pipeline")
        throw new Project.InputError(`new ${what}: expected \`new pipeline <name>\` or \`new connector <kind>\``)
      const found = await CliConfig.find(io.cwd, globalConfig())
      if (typeof found === "object") throw new Project.InputError([found])
      const root = found === undefined ? io.cwd : nodePath.dirname(found)
      const files = await Scaffold.newPipeline(root, found, name)
      for (const f of files) out(`wrote ${nodePath.relative(io.cwd, f) || f}`)
      out(`next: data-mcp validate && data-mcp preview ${name}`)
    })

  program
    .command("init")
    .description("scaffold a project: package.json, a pipeline spec with sample data, a config, a test and a README")
    .argument("[dir]", "the directory (default: here)", ".")
    .option("--force", "write into a non-empty directory")
    .action(async (dir: string, options: { force?: boolean }) => {
      const target = nodePath.resolve(io.cwd, dir)
      const files = await Scaffold.init(target, { force: options.force === true })
      for (const f of files) out(`created ${nodePath.relative(io.cwd, f) || f}`)
      out(`\nnext: cd ${nodePath.relative(io.cwd, target) || "."} && npm install && npx data-mcp run orders_to_jsonl`)
    })

  const serve = async (
    project: Project.Project,
    options: {
      readonly stdio: boolean
      readonly host: string | undefined
      readonly port: number | undefined
      readonly dev: boolean
    }
  ) => {
    const server = project.config.config.server
    const host = options.host ?? server?.host ?? "127.0.0.1"
    if (!options.stdio && !isLoopback(host) && server?.auth === undefined) {
      throw new Project.InputError(
        `serve on ${host} (not loopback) needs server.auth in the config: anyone who can reach it could run pipelines`
      )
    }
    const { set, templates } = await Project.pipelineSet(project, options.dev ? "data-mcp-dev" : "data-mcp")
    const serverOpts = Project.serverOptions(project, options.port)
    const mcp: DataMcpServer = await createMcpServer(set, {
      directory: project.directory,
      templates,
      connectors: project.catalog,
      secrets: project.secrets,
      ...(server?.metrics === false ? {} : { metrics: Metrics.make() }),
      ...(server?.waitSeconds === undefined ? {} : { waitSeconds: server.waitSeconds }),
      ...(project.config.config.state?.backend === "postgres" ? { stores: Stores.layer(project) } : {}),
      ...serverOpts
    })
    const log = options.stdio ? err : out
    if (options.stdio) {
      // stdout carries the protocol: every log line (the runner's, the SDK's) goes to stderr.
      console.log = console.error
      console.info = console.error
      console.debug = console.error
      const { serveStdio } = await import("@data-mcp/mcp-adapter/stdio")
      const connection = serveStdio(mcp)
      err(`data-mcp: serving ${set.pipelines.length} pipeline(s) over stdio`)
      await new Promise<void>((resolve) => {
        process.stdin.once("end", resolve)
        process.once("SIGINT", resolve)
        process.once("SIGTERM", resolve)
      })
      await connection.close()
      await mcp.close()
      return
    }
    const { listen } = await import("@data-mcp/mcp-adapter/node")
    const http = await listen(mcp, {
      host,
      port: options.port ?? server?.port ?? 3333,
      path: server?.path ?? "/mcp"
    })
    log(`MCP endpoint: ${http.url.href}`)
    log(`pipelines: ${set.pipelines.map((p) => p.name).join(", ") || "(none)"}`)
    log(`health: ${new URL("/healthz", http.url).href}`)
    if (options.dev) {
      log("")
      log(Scaffold.clientConfigs(http.url.href))
      log("")
      log("watching the config and specs: changes are reloaded")
    }
    const watcher = options.dev ? Reload.watch(project, mcp, { cwd: io.cwd, log }) : undefined
    log("Ctrl-C stops the server")
    await new Promise<void>((resolve) => {
      process.once("SIGINT", resolve)
      process.once("SIGTERM", resolve)
    })
    watcher?.close()
    await http.close()
    await mcp.close()
  }

  try {
    await program.parseAsync([...argv], { from: "user" })
    return code
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === "commander.helpDisplayed" || error.code === "commander.version") return ExitCode.ok
      if (error.code === "commander.help") return ExitCode.ok
      return ExitCode.badInput
    }
    if (error instanceof Project.InputError) {
      err(error.message)
      return ExitCode.badInput
    }
    // A secret the config or a spec names but the environment (or secretsFile) lacks: the user's to provide.
    if (error instanceof SecretProvider.SecretError) {
      err(`${error.message} (set it in the environment, or in the config's secretsFile)`)
      return ExitCode.badInput
    }
    const message = error instanceof Error ? error.message : String(error)
    err(`error: ${message}`)
    return ExitCode.failed
  }
}

const positive = (text: string, option: string): number => {
  const n = Number(text)
  if (!Number.isInteger(n) || n < 1) throw new Project.InputError(`${option} ${text}: expected a positive integer`)
  return n
}

const port = (text: string): number => {
  const n = Number(text)
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Project.InputError(`--port ${text}: expected 0 to 65535`)
  return n
}

// The rows a run will read, when its source can estimate them from the run's starting checkpoint (for the ETA).
const estimate = async (built: Project.Built, checkpoint: Json | null): Promise<number | undefined> => {
  const program = Effect.gen(function* () {
    const params = yield* Pipeline.decodeParams(built.pipeline, built.params)
    const source = Pipeline.sourceOf(built.pipeline, params)
    if (source.estimate === undefined) return undefined
    const from =
      checkpoint === null ? undefined : yield* Schema.decodeUnknownEffect(source.checkpointSchema)(checkpoint)
    return (yield* source.estimate(from)).rows
  })
  const result = await Effect.runPromise(Effect.result(program as Effect.Effect<number | undefined, unknown>))
  return result._tag === "Success" ? result.success : undefined
}

const isLoopback = (host: string): boolean =>
  host === "localhost" || host === "::1" || host === "[::1]" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)

const parseJson = (text: string, what: string): Json => {
  try {
    return JSON.parse(text) as Json
  } catch {
    throw new Project.InputError(`${what} ${text}: expected JSON (a number, a string in quotes, an object, …)`)
  }
}

const appendAudit = async (directory: string, record: unknown) => {
  const fsp = await import("node:fs/promises")
  await fsp.mkdir(directory, { recursive: true })
  await fsp.appendFile(nodePath.join(directory, "audit.jsonl"), `${JSON.stringify(record)}\n`)
}
