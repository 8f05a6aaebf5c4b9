// The schema of Pipeline options: used by Pipeline.make (code pipelines) and by PipelineSpec (pipelines as data),
// so a spec accepts exactly the options, and the checks, a pipeline in code does.
import { Schema } from "effect"

const PositiveInt = Schema.Int.check(Schema.isGreaterThan(0))
const NonNegative = Schema.Number.check(Schema.isGreaterThanOrEqualTo(0))
const RateSchema = Schema.Struct({
  perSecond: Schema.Number.check(Schema.isGreaterThan(0)),
  burst: Schema.optionalKey(PositiveInt)
})
const ContractMode = Schema.Literals(["evolve", "freeze", "discardRow", "discardValue"])
export const OptionsSchema = Schema.Struct({
  stateKeyParams: Schema.optionalKey(Schema.Array(Schema.String)),
  stateVersion: Schema.optionalKey(PositiveInt),
  batch: Schema.optionalKey(
    Schema.Struct({
      rows: Schema.optionalKey(PositiveInt),
      bytes: Schema.optionalKey(PositiveInt),
      maxWaitMs: Schema.optionalKey(NonNegative)
    })
  ),
  retry: Schema.optionalKey(
    Schema.Struct({
      initialDelayMs: Schema.optionalKey(NonNegative),
      maxDelayMs: Schema.optionalKey(NonNegative),
      factor: Schema.optionalKey(Schema.Number.check(Schema.isGreaterThanOrEqualTo(1))),
      maxAttempts: Schema.optionalKey(PositiveInt),
      maxElapsedMs: Schema.optionalKey(NonNegative)
    })
  ),
  deadLetterBudget: Schema.optionalKey(
    Schema.Struct({
      maxCount: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))),
      maxRatio: Schema.optionalKey(Schema.Number.check(Schema.isBetween({ minimum: 0, maximum: 1 }))),
      minRecords: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)))
    })
  ),
  concurrency: Schema.optionalKey(PositiveInt),
  maxConcurrentRuns: Schema.optionalKey(PositiveInt),
  timeoutMs: Schema.optionalKey(PositiveInt),
  rateLimit: Schema.optionalKey(
    Schema.Struct({ source: Schema.optionalKey(RateSchema), sink: Schema.optionalKey(RateSchema) })
  ),
  sensitive: Schema.optionalKey(Schema.Array(Schema.String)),
  schedule: Schema.optionalKey(
    Schema.Struct({
      cron: Schema.String,
      timeZone: Schema.optionalKey(Schema.String),
      misfire: Schema.optionalKey(Schema.Literals(["skip", "once"]))
    })
  ),
  mcp: Schema.optionalKey(
    Schema.Struct({
      exposure: Schema.optionalKey(Schema.Literals(["agent", "operator"])),
      tool: Schema.optionalKey(Schema.Boolean),
      bind: Schema.optionalKey(
        Schema.Record(
          Schema.String,
          Schema.String.check(
            Schema.isPattern(/^claim:[^\s]+$/, { message: 'bind a param to a token claim as "claim:<name>"' })
          )
        )
      )
    })
  ),
  schemaContract: Schema.optionalKey(
    Schema.Struct({
      tables: Schema.optionalKey(ContractMode),
      columns: Schema.optionalKey(ContractMode),
      dataType: Schema.optionalKey(ContractMode),
      widenTo: Schema.optionalKey(Schema.Literal("text"))
    })
  ),
  nested: Schema.optionalKey(
    Schema.Union([
      Schema.Literal("json"),
      Schema.Struct({ flatten: Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)) })
    ])
  )
})
