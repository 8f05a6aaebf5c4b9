// `data-mcp infer-schema <file>`: reads the first records of a data file with core's file connector for its
// extension and infers their schema with SchemaInference.
import * as nodePath from "node:path"
import { Connector, ConnectorCatalog, SchemaInference, Source } from "@data-mcp/core"
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
  const result = await Effect.runPromise(Effect.result(program as Effect.Effect<SchemaInference.Type, unknown>))
  if (result._tag === "Failure") {
    const error = result.failure as { message?: string }
    throw new InputError(`${file}: ${error.message ?? String(error)}`)
  }
  return result.success
}

export const describe = (schema: SchemaInference.Type): string => {
  if (schema.type !== "object") return `${SchemaInference.typeName(schema)}${schema.nullable ? " (nullable)" : ""}`
  const rows = Object.entries(schema.fields).map(
    ([name, field]) =>
      `${name}: ${SchemaInference.typeName(field)}${field.nullable ? " | null" : ""}${(field as { optional?: boolean }).optional === true ? " (optional)" : ""}`
  )
  return rows.join("\n")
}
