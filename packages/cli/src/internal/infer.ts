// `data-mcp infer-schema <file>` / `--pipeline <name>`: reads the first records of a data file (with core's file
// connector for its extension) or of a pipeline's source, infers their schema with SchemaInference, and prints it,
// as JSON Schema, or as a connector's `create table`.
import * as nodePath from "node:path"
import { Connector, ConnectorCatalog, Pipeline, SchemaInference, Source } from "@data-mcp/core"
import { Effect, Stream } from "effect"
import { InputError } from "../Project.ts"

const kinds: Readonly<Record<string, string>> = {
  ".csv": "csv",
  ".jsonl": "jsonl",
  ".ndjson": "jsonl",
  ".parquet": "parquet"
}

export const inferFile = async (
  file: string,
  options: { readonly sample: number; readonly detectTimestamps: boolean }
): Promise<SchemaInference.Type> => {
  const kind = kinds[nodePath.extname(file).toLowerCase()]
  if (kind === undefined) {
    throw new InputError(`${file}: unknown file type; infer-schema reads .csv, .jsonl, .ndjson and .parquet files`)
  }
  const program = Effect.gen(function* () {
    const definition = yield* ConnectorCatalog.builtins.get(kind)
    const source = yield* Connector.makeSource(definition, { path: file })
    return yield* sample(source, options)
  })
  return run(program, file)
}

/** Infers the schema of the first records a pipeline's source reads (nothing is written, no state is touched). */
export const inferPipeline = (
  built: { readonly pipeline: Pipeline.Any; readonly params: unknown },
  options: { readonly sample: number; readonly detectTimestamps: boolean }
): Promise<SchemaInference.Type> =>
  run(
    Effect.gen(function* () {
      const params = yield* Pipeline.decodeParams(built.pipeline, built.params)
      return yield* sample(Pipeline.sourceOf(built.pipeline, params), options)
    }),
    built.pipeline.name
  )

const sample = (
  source: Source.Source<unknown, unknown>,
  options: { readonly sample: number; readonly detectTimestamps: boolean }
) =>
  Effect.gen(function* () {
    const records: Array<unknown> = []
    yield* source.read(undefined, { runId: "infer-schema", batchRows: Math.min(options.sample, 1000) }).pipe(
      Stream.map((batch) => {
        for (const r of batch.records) {
          if (records.length < options.sample && !Source.isInvalidRecord(r)) records.push(r)
        }
        return records.length >= options.sample
      }),
      Stream.takeUntil((done) => done),
      Stream.runDrain
    )
    return SchemaInference.inferSchema(records, options)
  })

const run = async (program: Effect.Effect<SchemaInference.Type, unknown>, what: string) => {
  const result = await Effect.runPromise(Effect.result(program))
  if (result._tag === "Failure") {
    const error = result.failure as { message?: string }
    throw new InputError(`${what}: ${error.message ?? String(error)}`)
  }
  return result.success
}

/** The `create table` of `schema` in `dialect`, from that connector's own sink (imported only now). */
export const ddl = async (dialect: string, table: string, schema: SchemaInference.Type): Promise<string> => {
  const dot = table.indexOf(".")
  const [qualifier, name] = dot < 0 ? [undefined, table] : [table.slice(0, dot), table.slice(dot + 1)]
  const missing = (pkg: string) => () => {
    throw new InputError(`--ddl ${dialect} needs ${pkg} next to the CLI: npm install ${pkg}`)
  }
  if (dialect === "postgres") {
    const { PostgresSink } = await import("@data-mcp/connector-postgres").catch(missing("@data-mcp/connector-postgres"))
    return PostgresSink.ddl({ schema: qualifier, table: name }, schema)
  }
  if (dialect === "mysql") {
    const { MysqlSink } = await import("@data-mcp/connector-mysql").catch(missing("@data-mcp/connector-mysql"))
    return MysqlSink.ddl({ database: qualifier, table: name }, schema)
  }
  throw new InputError(`--ddl ${dialect}: expected postgres or mysql`)
}

export const describe = (schema: SchemaInference.Type): string => {
  if (schema.type !== "object") return `${SchemaInference.typeName(schema)}${schema.nullable ? " (nullable)" : ""}`
  const rows = Object.entries(schema.fields).map(
    ([name, field]) =>
      `${name}: ${SchemaInference.typeName(field)}${field.nullable ? " | null" : ""}${(field as { optional?: boolean }).optional === true ? " (optional)" : ""}`
  )
  return rows.join("\n")
}
