// Regenerates the options tables in the README files from the config schemas' annotations.
// `npm run docs:options` rewrites them; `--check` exits 1 if a README is out of date (the test suite checks too).
import { readFileSync, writeFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { CliConfig } from "@data-mcp/cli"
import { MysqlConfig, MysqlConnector, MysqlSink } from "@data-mcp/connector-mysql"
import { PostgresConfig, PostgresSink } from "@data-mcp/connector-postgres"
import { RestConfig } from "@data-mcp/connector-rest"
import { Config, Csv, Generator, Incremental, Jsonl, Memory, Parquet } from "@data-mcp/core"
import { Auth, McpServer } from "@data-mcp/mcp-adapter"

/** Marker name → the schema whose table goes between `<!-- options:NAME -->` and `<!-- /options -->`. */
export const tables: Readonly<Record<string, { readonly fields: Readonly<Record<string, never>> }>> = {
  "memory.source": Memory.SourceOptions,
  "memory.sink": Memory.SinkOptions,
  "generator.source": Generator.SourceOptions,
  "csv.source": Csv.SourceOptions,
  "csv.sink": Csv.SinkOptions,
  "jsonl.source": Jsonl.SourceOptions,
  "jsonl.sink": Jsonl.SinkOptions,
  "parquet.source": Parquet.SourceOptions,
  "parquet.sink": Parquet.SinkOptions,
  "mcp-adapter.options": McpServer.OptionsSchema,
  "auth.options": Auth.OptionsSchema,
  incremental: Incremental.IncrementalOptions,
  "postgres.config": PostgresConfig.PostgresConfig,
  "postgres.ssl": PostgresConfig.SslOptions,
  "postgres.sink": PostgresSink.SinkOptions,
  "postgres.sink.column": PostgresSink.Column,
  "rest.source": RestConfig.SourceConfig,
  "rest.sink": RestConfig.SinkConfig,
  "mysql.connection": MysqlConfig.MysqlConfig,
  "mysql.source": MysqlConnector.SourceConfig,
  "mysql.sink": MysqlSink.SinkOptions,
  "cli.config": CliConfig.ConfigSchema,
  "cli.state": CliConfig.StateSchema,
  "cli.state.connection": CliConfig.PostgresConnectionSchema
} as never

const MARKER = /<!-- options:([a-z.-]+) -->[\s\S]*?<!-- \/options -->/g

/** The README text with every marked table regenerated. */
export const render = (text: string): string =>
  text.replace(MARKER, (_whole, name: string) => {
    const schema = tables[name]
    if (schema === undefined) throw new Error(`unknown options table ${name}`)
    return `<!-- options:${name} -->\n${Config.optionsTable(schema)}\n<!-- /options -->`
  })

export const readmes = [
  "packages/core/README.md",
  "packages/mcp-adapter/README.md",
  "packages/connector-postgres/README.md",
  "packages/connector-rest/README.md",
  "packages/connector-mysql/README.md",
  "packages/cli/README.md"
].map((p) => fileURLToPath(new URL(`../${p}`, import.meta.url)))

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  let stale = false
  for (const file of readmes) {
    const text = readFileSync(file, "utf8")
    const next = render(text)
    if (next === text) continue
    stale = true
    if (!process.argv.includes("--check")) writeFileSync(file, next)
    console.log(`${process.argv.includes("--check") ? "out of date" : "updated"}: ${file}`)
  }
  if (stale && process.argv.includes("--check")) process.exitCode = 1
}
