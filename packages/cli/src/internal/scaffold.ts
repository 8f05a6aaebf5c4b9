// Files written by `data-mcp init` (a new project) and `data-mcp dev` (the demo used when there is no config).
import * as fsp from "node:fs/promises"
import * as nodePath from "node:path"
import { isSeq, parseDocument } from "yaml"
import { InputError } from "../Project.ts"

const ordersCsv = [
  "order_id,customer_email,amount,country,note",
  "1,ada@example.com,425.45,FR,gift wrap",
  "2,alan@example.com,198.72,US,",
  "3,grace@example.com,8.50,DE,small",
  "4,edsger@example.com,not-a-number,NL,bad amount",
  "5,barbara@example.com,120.00,US,",
  "6,donald@example.com,64.10,GB,",
  ""
].join("\n")

const ordersSpec = `# A pipeline spec: read orders.csv, clean it up, write JSON Lines.
# Relative paths are relative to the config file's directory.
name: orders_to_jsonl
version: 1.0.0
description: Loads data/orders.csv into out/orders.jsonl, keeping orders over 10 and tagging big ones.
source:
  kind: csv
  options: { path: data/orders.csv }
transforms:
  - rename: { customer_email: email }
  - cast: { order_id: integer, amount: decimal }
  - default: { country: "DE" }
  - drop: [note]
  - filter: "double(record.amount) > 10.0"
  - derive: { big_order: "double(record.amount) > 100.0" }
sink:
  kind: jsonl
  options: { path: out/orders.jsonl }
options:
  sensitive: [email]
  deadLetterBudget: { maxCount: 10 }
`

const samplesSpec = `# Generated sample records (no data file needed), written to JSON Lines.
name: customers_sample
version: 1.0.0
description: Writes 1,000 generated customer records to out/customers.jsonl.
source:
  kind: generator
  options: { count: 1000, fields: [id, name, email, amount, category] }
transforms:
  - filter: "record.amount > 0.0"
sink:
  kind: jsonl
  options: { path: out/customers.jsonl }
options:
  sensitive: [email]
`

const config = (
  pipelines: ReadonlyArray<string>
) => `# data-mcp project config (see the @data-mcp/cli README for every option).
pipelines:
${pipelines.map((p) => `  - ${p}`).join("\n")}
state:
  backend: file
  directory: .data-mcp
server:
  host: 127.0.0.1
  port: 3333
`

/** Writes the demo project of `data-mcp dev` into `dir` (idempotent). */
export const demo = async (dir: string): Promise<{ readonly config: string }> => {
  await write(dir, {
    "data/orders.csv": ordersCsv,
    "out/.gitkeep": "",
    "pipelines/orders.yaml": ordersSpec,
    "pipelines/customers.yaml": samplesSpec,
    "data-mcp.config.yaml": config(["pipelines/orders.yaml", "pipelines/customers.yaml"])
  })
  return { config: nodePath.join(dir, "data-mcp.config.yaml") }
}

const write = async (dir: string, files: Readonly<Record<string, string>>): Promise<Array<string>> => {
  const written: Array<string> = []
  for (const [name, text] of Object.entries(files)) {
    const path = nodePath.join(dir, name)
    await fsp.mkdir(nodePath.dirname(path), { recursive: true })
    await fsp.writeFile(path, text)
    written.push(path)
  }
  return written
}

const projectFiles = (name: string): Record<string, string> => ({
  "package.json": `${JSON.stringify(
    {
      name,
      version: "0.1.0",
      private: true,
      type: "module",
      engines: { node: ">=20.19" },
      scripts: {
        validate: "data-mcp validate",
        start: "data-mcp run orders_to_jsonl",
        dev: "data-mcp dev",
        test: "node --test test/"
      },
      dependencies: { "@data-mcp/cli": "^0.1.0", "@data-mcp/core": "^0.1.0", effect: "^4.1.0" }
    },
    null,
    2
  )}\n`,
  "data-mcp.config.yaml": config(["pipelines/orders.yaml"]),
  "pipelines/orders.yaml": ordersSpec,
  "data/orders.csv": ordersCsv,
  "out/.gitkeep": "",
  ".gitignore": "node_modules/\n.data-mcp/\nout/*.jsonl\n",
  "test/orders.test.mjs": `// Runs the example pipeline with the project's own data-mcp and checks what it wrote.
import assert from "node:assert/strict"
import { spawnSync } from "node:child_process"
import { cpSync, mkdirSync, mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { test } from "node:test"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))
const bin = join(root, "node_modules", "@data-mcp", "cli", "dist", "bin.js")

test("the specs are valid and orders_to_jsonl keeps the orders over 10", () => {
  const dir = mkdtempSync(join(tmpdir(), "data-mcp-test-"))
  for (const f of ["data-mcp.config.yaml", "pipelines", "data"]) cpSync(join(root, f), join(dir, f), { recursive: true })
  mkdirSync(join(dir, "out"))
  const validate = spawnSync(process.execPath, [bin, "validate"], { cwd: dir, encoding: "utf8" })
  assert.equal(validate.status, 0, validate.stderr)
  const run = spawnSync(process.execPath, [bin, "run", "orders_to_jsonl", "--json"], { cwd: dir, encoding: "utf8" })
  assert.equal(run.status, 0, run.stderr)
  const summary = JSON.parse(run.stdout)
  assert.equal(summary.status, "succeeded")
  const rows = readFileSync(join(dir, "out", "orders.jsonl"), "utf8").trim().split("\\n").map((l) => JSON.parse(l))
  assert.deepEqual(rows.map((r) => r.order_id), [1, 2, 5, 6])
  assert.equal(summary.deadLetters, 1) // order 4's amount is not a number
})
`,
  "README.md": `# ${name}

A [data-mcp](https://github.com/data-mcp/data-mcp) project: pipelines as YAML specs, run from the command line or
served to AI agents over MCP.

- \`data-mcp.config.yaml\`: the pipelines, where state lives (\`.data-mcp/\`) and the MCP server options
- \`pipelines/orders.yaml\`: reads \`data/orders.csv\`, renames, casts, filters and derives fields, writes \`out/orders.jsonl\`
- \`test/orders.test.mjs\`: validates the specs and runs the pipeline (\`npm test\`)

\`\`\`sh
npm install
npx data-mcp validate                 # config and specs, errors name file, line and field
npx data-mcp preview orders_to_jsonl  # sample records and the plan; nothing written
npx data-mcp run orders_to_jsonl      # live progress; Ctrl-C cancels safely, a re-run resumes
npx data-mcp dev                      # the MCP server on localhost, with client configs to paste
\`\`\`
`
})

/** Scaffolds a project into `dir`; refuses a non-empty directory unless `force`. */
export const init = async (dir: string, options: { readonly force: boolean }): Promise<Array<string>> => {
  const existing = await fsp.readdir(dir).catch(() => [] as Array<string>)
  if (existing.length > 0 && !options.force) {
    throw new InputError(`${dir} is not empty: choose an empty directory, or pass --force to add the files anyway`)
  }
  const name =
    nodePath
      .basename(dir)
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, "-")
      .replace(/^-+|-+$/g, "") || "data-mcp-project"
  return write(dir, projectFiles(name))
}

/** Ready-to-paste client configs for an HTTP endpoint. */
export const clientConfigs = (url: string): string =>
  [
    "Claude Desktop (claude_desktop_config.json; HTTP through the mcp-remote bridge):",
    JSON.stringify({ mcpServers: { "data-mcp": { command: "npx", args: ["-y", "mcp-remote", url] } } }, null, 2),
    "",
    "VS Code (.vscode/mcp.json):",
    JSON.stringify({ servers: { "data-mcp": { type: "http", url } } }, null, 2),
    "",
    `MCP Inspector: npx @modelcontextprotocol/inspector --transport http --server-url ${url}`
  ].join("\n")

const NAME = /^[a-z][a-z0-9_-]{0,62}$/

const pipelineSpec = (
  name: string
) => `# A new pipeline: replace the generator source and the JSON Lines sink with your own connectors.
name: ${name}
version: 0.1.0
description: Writes 100 generated records to out/${name}.jsonl.
source:
  kind: generator
  options: { count: 100, fields: [id, name, email, amount] }
transforms:
  - filter: "record.amount > 0.0"
sink:
  kind: jsonl
  options: { path: out/${name}.jsonl }
options:
  sensitive: [email]
`

/**
 * Writes `pipelines/<name>.yaml` under `root` and adds it to the config's `pipelines` (comments kept). Returns the
 * files written or changed.
 */
export const newPipeline = async (
  root: string,
  configFile: string | undefined,
  name: string
): Promise<Array<string>> => {
  if (!NAME.test(name)) {
    throw new InputError(`${name}: a pipeline name is 1-63 lowercase letters, digits, _ or -, starting with a letter`)
  }
  const relative = `pipelines/${name}.yaml`
  const file = nodePath.join(root, relative)
  if (
    await fsp.stat(file).then(
      () => true,
      () => false
    )
  )
    throw new InputError(`${relative} already exists`)
  const config = configFile ?? nodePath.join(root, "data-mcp.config.yaml")
  const text = await fsp.readFile(config, "utf8").catch(() => "")
  const doc = parseDocument(text)
  if (doc.errors.length > 0) throw new InputError(`${config}: fix its syntax first (data-mcp validate)`)
  if (config.endsWith(".json")) throw new InputError(`${config}: add ${relative} to "pipelines" by hand (JSON config)`)
  const list = doc.get("pipelines")
  if (isSeq(list)) list.add(relative)
  else doc.set("pipelines", doc.createNode([relative]))
  await write(root, { [relative]: pipelineSpec(name), "out/.gitkeep": "" })
  await fsp.writeFile(config, doc.toString())
  return [file, config]
}

const camel = (name: string) => name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase())

const connectorFiles = (kind: string): Record<string, string> => {
  const id = camel(kind)
  return {
    "package.json": `${JSON.stringify(
      {
        name: `data-mcp-connector-${kind}`,
        version: "0.1.0",
        private: true,
        type: "module",
        engines: { node: ">=20.19" },
        exports: { ".": "./src/index.ts" },
        scripts: { test: "vitest run", typecheck: "tsc --noEmit" },
        peerDependencies: { "@data-mcp/core": "^0.1.0", effect: "^4.1.0" },
        devDependencies: {
          "@data-mcp/core": "^0.1.0",
          "@effect/vitest": "^4.0.5",
          effect: "^4.1.0",
          typescript: "~6.0.3",
          vitest: "^5.1.1"
        }
      },
      null,
      2
    )}\n`,
    "tsconfig.json": `${JSON.stringify(
      {
        compilerOptions: {
          target: "ES2022",
          module: "nodenext",
          moduleResolution: "nodenext",
          strict: true,
          exactOptionalPropertyTypes: true,
          allowImportingTsExtensions: true,
          noEmit: true,
          skipLibCheck: true,
          types: []
        },
        include: ["src", "test"]
      },
      null,
      2
    )}\n`,
    "src/index.ts": `// The ${kind} connector: a stub whose "system" is named in-memory tables. Replace the tables with your driver,
// keep the shape: a config Schema per role (secrets as Schema.Redacted), make() doing no I/O until the runner reads.
import { Connector, Memory } from "@data-mcp/core"
import { Schema } from "effect"

type Row = Readonly<Record<string, unknown>>

const tables = new Map<string, Array<Row>>()
const sinks = new Map<string, Memory.Collector<Row>>()

/** What a table holds now: the rows put there plus what the sink durably wrote. */
export const read = (table: string): ReadonlyArray<Row> => [...(tables.get(table) ?? []), ...(sinks.get(table)?.records() ?? [])]

/** Puts rows into a table (the stub's stand-in for data already in the system). */
export const put = (table: string, rows: ReadonlyArray<Row>): void => {
  tables.set(table, [...rows])
}

export const SourceConfig = Schema.Struct({
  table: Schema.String.annotate({ description: "The table to read." }),
  batchSize: Schema.optionalKey(Schema.Int.annotate({ description: "Rows per batch (default 1000)." }))
})

export const SinkConfig = Schema.Struct({
  table: Schema.String.annotate({ description: "The table to write." })
})

export const ${id} = Connector.make({
  kind: "${kind}",
  description: "The ${kind} connector (a stub over in-memory tables).",
  source: {
    config: SourceConfig,
    make: (config) =>
      Memory.source(tables.get(config.table) ?? [], { name: "${kind}", batchSize: config.batchSize ?? 1000 })
  },
  sink: {
    config: SinkConfig,
    make: (config) => {
      const collector = sinks.get(config.table) ?? Memory.sink<Row>({ name: "${kind}", transactional: true })
      sinks.set(config.table, collector)
      return collector.sink
    }
  }
})
`,
    "test/Conformance.test.ts": `// The shared conformance suite of @data-mcp/core against this connector: reads all, resumes from a checkpoint
// without loss or duplicates, retries transient faults, dead-letters bad records, fences stale runs, …
import { Connector } from "@data-mcp/core"
import { ConnectorConformance } from "@data-mcp/core/testing"
import { Effect } from "effect"
import { ${id}, put, read } from "../src/index.ts"

type Row = { readonly id: string; readonly n: number }
const rows = (n: number): ReadonlyArray<Row> => Array.from({ length: n }, (_, i) => ({ id: \`r\${i}\`, n: i }))
let tables = 0

ConnectorConformance.suite<Row, Row>("${kind}", {
  source: {
    records: rows,
    make: (records) =>
      Effect.suspend(() => {
        const table = \`source_\${++tables}\`
        put(table, records)
        return Connector.makeSource(${id}, { table, batchSize: 7 })
      }),
    id: (r) => r.id
  },
  sink: {
    records: rows,
    make: () =>
      Effect.suspend(() => {
        const table = \`sink_\${++tables}\`
        return Effect.map(Connector.makeSink(${id}, { table }), (sink) => ({
          sink,
          readBack: Effect.sync(() => read(table))
        }))
      }),
    id: (r) => (r as Row).id
  }
})
`,
    "README.md": `# data-mcp-connector-${kind}

A data-mcp connector (a stub to grow into a real one): \`src/index.ts\` defines it with \`Connector.make\`, and
\`npm test\` runs core's conformance suite against it (\`npm run typecheck\` checks the types).

Once built to JavaScript (or published), a data-mcp project uses it by naming it in \`data-mcp.config.yaml\`:

\`\`\`yaml
connectors: ["data-mcp-connector-${kind}"]   # or a path to the built module: ./connector-${kind}/dist/index.js
\`\`\`
`
  }
}

/** Scaffolds a connector package `connector-<kind>/` under `dir`. */
export const newConnector = async (dir: string, kind: string): Promise<Array<string>> => {
  if (!/^[a-z][a-z0-9-]{0,62}$/.test(kind)) {
    throw new InputError(`${kind}: a connector kind is 1-63 lowercase letters, digits or -, starting with a letter`)
  }
  const target = nodePath.join(dir, `connector-${kind}`)
  if (
    await fsp.stat(target).then(
      () => true,
      () => false
    )
  )
    throw new InputError(`${target} already exists`)
  return write(target, connectorFiles(kind))
}
