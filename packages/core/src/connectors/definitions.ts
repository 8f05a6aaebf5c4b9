/**
 * The connector definitions of core's built-in connectors — `csv`, `jsonl`, `parquet`, `memory` and
 * `generator` — so pipeline specs can name them by kind. `ConnectorCatalog.builtins` collects them. Each
 * definition reuses its connector's own options schema; nothing here opens a file.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import * as Connector from "../Connector.ts"
import * as Csv from "./csv/Csv.ts"
import * as Generator from "./generator/Generator.ts"
import * as Jsonl from "./jsonl/Jsonl.ts"
import * as Memory from "./memory/Memory.ts"
import * as Parquet from "./parquet/Parquet.ts"

/**
 * CSV files: `source` (Csv.SourceOptions) and `sink` (Csv.SinkOptions).
 *
 * @category connectors
 * @since 0.1.0
 */
export const csv = Connector.make({
  kind: "csv",
  description: "CSV files: read with a header row, written with append or an atomic replace.",
  source: { config: Csv.SourceOptions, make: (config) => Csv.source(config) },
  sink: { config: Csv.SinkOptions, make: Csv.sink }
})

/**
 * JSON Lines files: `source` (Jsonl.SourceOptions) and `sink` (Jsonl.SinkOptions).
 *
 * @category connectors
 * @since 0.1.0
 */
export const jsonl = Connector.make({
  kind: "jsonl",
  description: "JSON Lines files: one JSON object per line.",
  source: { config: Jsonl.SourceOptions, make: Jsonl.source },
  sink: { config: Jsonl.SinkOptions, make: Jsonl.sink }
})

/**
 * Parquet files: `source` (Parquet.SourceOptions) and a replacing `sink` (Parquet.SinkOptions).
 *
 * @category connectors
 * @since 0.1.0
 */
export const parquet = Connector.make({
  kind: "parquet",
  description: "Parquet files: read by row group, written with an atomic replace.",
  source: { config: Parquet.SourceOptions, make: Parquet.source },
  sink: { config: Parquet.SinkOptions, make: Parquet.sink }
})

/**
 * The options of the `memory` connector's source: the records themselves, inline, plus `Memory.SourceOptions`.
 *
 * @category schemas
 * @since 0.1.0
 */
export const MemorySourceConfig = Schema.Struct({
  records: Schema.Array(Schema.Record(Schema.String, Schema.Unknown)).annotate({
    description: "The records to read, inline (JSON objects)."
  }),
  ...Memory.SourceOptions.fields
})

/**
 * In-memory records: a `source` over records written inline in the spec (fixtures, examples, tests) and a
 * `sink` that keeps what it is given in the process only (dry runs; nothing is persisted).
 *
 * @category connectors
 * @since 0.1.0
 */
export const memory = Connector.make({
  kind: "memory",
  description: "Records held in memory: inline records as a source; a sink that keeps records in the process only.",
  source: {
    config: MemorySourceConfig,
    make: ({ records, ...options }) => Memory.source(records, options)
  },
  sink: { config: Memory.SinkOptions, make: (config) => Memory.sink(config).sink }
})

/**
 * Deterministic synthetic records: `source` only (Generator.SourceOptions).
 *
 * @category connectors
 * @since 0.1.0
 */
export const generator = Connector.make({
  kind: "generator",
  description: "Deterministic synthetic records for demos, tests and benchmarks.",
  source: { config: Generator.SourceOptions, make: (config) => Generator.source(config) }
})

/**
 * Every built-in definition, in a stable order.
 *
 * @category connectors
 * @since 0.1.0
 */
export const all: ReadonlyArray<Connector.Any> = [csv, jsonl, parquet, memory, generator]
