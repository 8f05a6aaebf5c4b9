/**
 * `@data-mcp/core`: typed, Effect-based data pipelines — sources, transforms and sinks; a runner that
 * batches, retries, checkpoints and never loses a record; state, run history and dead letters; and file
 * connectors for the embedded default. Every module is a namespace: `Pipeline.make`, `Runner.start`.
 *
 * @since 0.1.0
 */
export * as Batch from "./Batch.ts"
export * as Change from "./Change.ts"
export * as Checkpoint from "./Checkpoint.ts"
export * as Config from "./Config.ts"
export * as ConnectorError from "./ConnectorError.ts"
export * as Csv from "./connectors/csv/Csv.ts"
export * as Generator from "./connectors/generator/Generator.ts"
export * as Jsonl from "./connectors/jsonl/Jsonl.ts"
export * as Memory from "./connectors/memory/Memory.ts"
export * as Parquet from "./connectors/parquet/Parquet.ts"
export * as DeadLetter from "./DeadLetter.ts"
export * as Expression from "./Expression.ts"
export * as Pipeline from "./Pipeline.ts"
export * as PipelineRegistry from "./PipelineRegistry.ts"
export * as PipelineSet from "./PipelineSet.ts"
export * as RateLimiter from "./RateLimiter.ts"
export * as RetryPolicy from "./RetryPolicy.ts"
export * as RunEvent from "./RunEvent.ts"
export * as Runner from "./Runner.ts"
export * as RunStore from "./RunStore.ts"
export * as RunSummary from "./RunSummary.ts"
export * as Scheduler from "./Scheduler.ts"
export * as Sink from "./Sink.ts"
export * as Source from "./Source.ts"
export * as StateStore from "./StateStore.ts"
export * as Timestamp from "./Timestamp.ts"
export * as Transform from "./Transform.ts"
