// The Effect Schemas of the tools' inputs and outputs. Inputs are strict (see toolSchema.ts); outputs describe
// the structured content every tool returns.
import { Schema } from "effect"
import { intBetween } from "./intBetween.ts"

const Name = Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(100)).annotate({
  description: "A pipeline name, as list_pipelines shows it"
})
const RunId = Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(100)).annotate({
  description: "The run id a run call returned"
})
const Params = Schema.Record(Schema.String, Schema.Json).annotate({
  description: "The pipeline's params; describe_pipeline shows their schema. Unknown keys are refused."
})
const Cursor = Schema.String.check(Schema.isMaxLength(200)).annotate({
  description: "The nextCursor of the previous page"
})
const Limit = (max: number, description: string) => intBetween(1, max, description)
export const WaitSeconds = intBetween(
  0,
  50,
  "Seconds to wait for the run before returning its id and status (default 20, at most 50)"
)
export const IdempotencyKey = Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(200)).annotate({
  description: "Repeat a call with the same key within 24 h to get the same run instead of a new one"
})
const Guard = (what: string) =>
  Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)).annotate({
    description: `Refuse to start when the plan estimates more ${what} than this`
  })

export const ListPipelinesInput = Schema.Struct({
  cursor: Schema.optionalKey(Cursor),
  limit: Schema.optionalKey(Limit(100, "Pipelines per page (default 50)"))
})
export const DescribeInput = Schema.Struct({ name: Name })
export const PreviewInput = Schema.Struct({
  name: Name,
  params: Schema.optionalKey(Params),
  limit: Schema.optionalKey(Limit(100, "Sample records to return (default 10, at most 100)"))
})
export const RunInput = Schema.Struct({
  name: Name,
  params: Schema.optionalKey(Params),
  waitSeconds: Schema.optionalKey(WaitSeconds),
  idempotencyKey: Schema.optionalKey(IdempotencyKey),
  maxRows: Schema.optionalKey(Guard("rows")),
  maxBytes: Schema.optionalKey(Guard("bytes"))
})
export const WaitInput = Schema.Struct({ runId: RunId, waitSeconds: Schema.optionalKey(WaitSeconds) })
export const RunIdInput = Schema.Struct({ runId: RunId })
export const ListRunsInput = Schema.Struct({
  pipeline: Schema.optionalKey(Name),
  cursor: Schema.optionalKey(Cursor),
  limit: Schema.optionalKey(Limit(100, "Runs per page (default 20)"))
})
export const RegisterInput = Schema.Struct({
  template: Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(100)).annotate({
    description: "A registered template: name or name@version"
  }),
  params: Schema.optionalKey(Params)
})

const Json = Schema.Json
const Str = Schema.String

export const PipelineItem = Schema.Struct({
  name: Str,
  version: Str,
  description: Str,
  disposition: Str,
  guarantee: Str,
  tool: Schema.optionalKey(Str)
})
export const ListPipelinesOutput = Schema.Struct({
  pipelines: Schema.Array(PipelineItem),
  nextCursor: Schema.optionalKey(Str)
})
export const DescribeOutput = Schema.Struct({
  name: Str,
  version: Str,
  description: Str,
  source: Str,
  sink: Str,
  disposition: Str,
  guarantee: Str,
  exposure: Str,
  params: Json,
  annotations: Json,
  resource: Str,
  recentDurationsMs: Schema.Array(Schema.Finite),
  health: Json,
  template: Schema.optionalKey(Str)
})
export const PreviewOutput = Schema.Struct({
  pipeline: Str,
  untrusted: Schema.Literal(true),
  records: Schema.Array(Json),
  rejected: Schema.Array(Schema.Struct({ step: Str, reason: Str })),
  recordsRead: Schema.Int,
  omittedRecords: Schema.Int,
  fieldsCut: Schema.Boolean,
  plan: Json
})
export const RunOutput = Schema.Struct({
  runId: Str,
  pipeline: Str,
  version: Str,
  status: Str,
  resource: Str,
  reused: Schema.optionalKey(Schema.Boolean),
  createdAt: Str,
  finishedAt: Schema.optionalKey(Str),
  cancelRequested: Schema.optionalKey(Schema.Boolean),
  summary: Schema.optionalKey(Json)
})
export const ListRunsOutput = Schema.Struct({
  runs: Schema.Array(
    Schema.Struct({
      runId: Str,
      pipeline: Str,
      version: Str,
      status: Str,
      createdAt: Str,
      finishedAt: Schema.optionalKey(Str)
    })
  ),
  nextCursor: Schema.optionalKey(Str)
})
export const RegisterOutput = Schema.Struct({
  name: Str,
  version: Str,
  template: Str,
  created: Schema.Boolean,
  resource: Str
})
