import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted, Schema, Stream } from "effect"
import * as Batch from "../src/Batch.ts"
import * as Connector from "../src/Connector.ts"
import * as ConnectorCatalog from "../src/ConnectorCatalog.ts"
import * as DeadLetter from "../src/DeadLetter.ts"
import * as Pipeline from "../src/Pipeline.ts"
import * as PipelineSpec from "../src/PipelineSpec.ts"
import * as Runner from "../src/Runner.ts"
import * as SecretProvider from "../src/SecretProvider.ts"
import * as Sink from "../src/Sink.ts"
import * as Source from "../src/Source.ts"

const SECRET = "postgres://app:hunter2-very-secret@db/prod"

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "dm-spec-"))

const CSV = [
  "order_id,customer_email,amount,ordered_at,note",
  "1,a@example.com,120.50,2024-01-01T10:00:00Z,first",
  "2,b@example.com,5.00,2024-01-02T10:00:00Z,small",
  "3,c@example.com,abc,2024-01-03T10:00:00Z,bad amount",
  "1,a@example.com,130.00,2024-01-04T10:00:00Z,duplicate",
  "4,d@example.com,50,2024-01-05T10:00:00Z,",
  "5,,20,2024-01-06T10:00:00Z,no email",
  "6,f@example.com,30,yesterday,bad time",
  ""
].join("\n")

const specYaml = (dir: string) => `# orders
name: orders_to_jsonl
version: 1.0.0
description: Loads orders.csv into orders.jsonl
source: { kind: csv, options: { path: ${path.join(dir, "orders.csv")} } }
transforms:
  - validate: { fields: { order_id: integer, customer_email: string, amount: decimal } }
  - rename: { customer_email: email }
  - cast: { order_id: integer, amount: decimal, ordered_at: timestamp }
  - default: { country: "DE" }
  - drop: [note]
  - filter: "double(record.amount) > 10.0"
  - derive: { big_order: "double(record.amount) > 100.0", label: "record.country + '-' + string(record.order_id)" }
  - dedupe: { key: order_id }
sink: { kind: jsonl, options: { path: ${path.join(dir, "out", "orders.jsonl")} } }
options: { batch: { rows: 1000 }, deadLetterBudget: { maxCount: 10 } }
`

const build = (spec: PipelineSpec.PipelineSpec, catalog = ConnectorCatalog.builtins) =>
  PipelineSpec.build(spec, { catalog, secrets: SecretProvider.fromRecord({ DB_URL: SECRET }) })

/** A connector with a secret option, for the secret rules. */
const DbConfig = Schema.Struct({ url: Schema.Redacted(Schema.String), table: Schema.String })
const seen: Array<Redacted.Redacted<string>> = []
const fakedb = Connector.make({
  kind: "fakedb",
  source: {
    config: DbConfig,
    make: (config) => {
      seen.push(config.url)
      return Source.make<{ id: number }>({ name: "fakedb", read: () => Stream.make(Batch.make([{ id: 1 }])) })
    }
  }
})
const catalog = ConnectorCatalog.builtins.with(fakedb)

const errorOf = <A>(effect: Effect.Effect<A, PipelineSpec.SpecError>) => Effect.flip(effect)

describe("PipelineSpec: a valid spec", () => {
  it.effect("parses, builds and runs with the real runner", () =>
    Effect.gen(function* () {
      const dir = tmp()
      fs.writeFileSync(path.join(dir, "orders.csv"), CSV)
      fs.mkdirSync(path.join(dir, "out"))
      fs.writeFileSync(path.join(dir, "orders.yaml"), specYaml(dir))
      const spec = yield* PipelineSpec.load(path.join(dir, "orders.yaml"))
      assert.strictEqual(spec.name, "orders_to_jsonl")
      assert.strictEqual(spec.transforms.length, 8)
      assert.deepStrictEqual(spec.options, { batch: { rows: 1000 }, deadLetterBudget: { maxCount: 10 } })
      const built = yield* build(spec)
      assert.deepStrictEqual(Object.keys(built).sort(), [
        "description",
        "name",
        "options",
        "params",
        "sink",
        "source",
        "transforms",
        "version"
      ])
      // Our own steps are fusable map/filter steps named after their place in the spec.
      assert.deepStrictEqual(
        built.transforms.steps.map((s) => s.name),
        [
          "transforms[0].validate",
          "rename",
          "transforms[2].cast",
          "transforms[3].default",
          "drop",
          "transforms[5].filter",
          "transforms[6].derive",
          "dedupe"
        ]
      )
      const pipeline = Pipeline.make(built)
      const summary = yield* Runner.run(pipeline, {})
      assert.strictEqual(summary.status, "succeeded")
      assert.strictEqual(summary.recordsRead, 7)
      assert.strictEqual(summary.deadLetters, 3)
      const lines = fs
        .readFileSync(path.join(dir, "out", "orders.jsonl"), "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l))
      assert.deepStrictEqual(lines, [
        {
          order_id: 1,
          email: "a@example.com",
          amount: "120.50",
          ordered_at: "2024-01-01T10:00:00.000000Z",
          country: "DE",
          big_order: true,
          label: "DE-1"
        },
        {
          order_id: 4,
          email: "d@example.com",
          amount: "50",
          ordered_at: "2024-01-05T10:00:00.000000Z",
          country: "DE",
          big_order: false,
          label: "DE-4"
        }
      ])
      const store = yield* DeadLetter.DeadLetterStore
      const { letters } = yield* store.list({ pipeline: "orders_to_jsonl" })
      const reasons = letters.map((l) => l.reason).sort()
      assert.deepStrictEqual(reasons, [
        'transforms[0].validate: field "amount" is not a valid decimal',
        'transforms[0].validate: field "customer_email" is missing',
        'transforms[2].cast: field "ordered_at" cannot be cast to timestamp'
      ])
      for (const reason of reasons) {
        assert.notInclude(reason, "abc")
        assert.notInclude(reason, "yesterday")
      }
    }).pipe(Effect.provide(Runner.layerMemory({ purgeIntervalMs: 0 })))
  )

  it.effect("an expression that fails on a record dead-letters that record", () =>
    Effect.gen(function* () {
      const spec = yield* PipelineSpec.parse(
        `name: exprs
version: 1.0.0
description: Filters on a field some records lack
source: { kind: memory, options: { records: [{ amount: 20 }, { other: 1 }, { amount: 5 }] } }
transforms:
  - filter: "record.amount > 10"
sink: { kind: memory }
`,
        { file: "exprs.yaml" }
      )
      const collected: Array<unknown> = []
      const built = yield* build(spec)
      const summary = yield* Runner.run(
        Pipeline.make({
          ...built,
          sink: Sink.make<unknown>({
            name: "collect",
            capabilities: { transactional: false, idempotent: false },
            disposition: Sink.append,
            open: () =>
              Effect.succeed({
                write: (batch) =>
                  Effect.sync(() => {
                    collected.push(...batch.records)
                    return { written: batch.records.length }
                  })
              })
          })
        }),
        {}
      )
      assert.strictEqual(summary.deadLetters, 1)
      assert.deepStrictEqual(collected, [{ amount: 20 }])
      const { letters } = yield* (yield* DeadLetter.DeadLetterStore).list({ pipeline: "exprs" })
      assert.include(letters[0]?.reason ?? "", "transforms[0].filter: the expression failed")
    }).pipe(Effect.provide(Runner.layerMemory({ purgeIntervalMs: 0 })))
  )

  it.effect("secrets are resolved by reference into Redacted values", () =>
    Effect.gen(function* () {
      const spec = yield* PipelineSpec.parse(
        `name: db
version: 1.0.0
description: Reads a table
source: { kind: fakedb, options: { url: { secret: DB_URL }, table: orders } }
sink: { kind: memory }
`,
        { file: "db.yaml" }
      )
      assert.notInclude(JSON.stringify(spec), SECRET)
      const built = yield* build(spec, catalog)
      assert.strictEqual(built.source.name, "fakedb")
      const url = seen.at(-1) as Redacted.Redacted<string>
      assert.isTrue(Redacted.isRedacted(url))
      assert.strictEqual(Redacted.value(url), SECRET)
      const missing = yield* errorOf(PipelineSpec.build(spec, { catalog, secrets: SecretProvider.fromRecord({}) }))
      assert.strictEqual(missing.reason, "SecretRefused")
      assert.strictEqual(missing.path, "source.options.url.secret")
    })
  )
})

describe("PipelineSpec: mistakes name the file, the path and the field", () => {
  const base = (over: { source?: string; sink?: string; transforms?: string }) => `name: orders
version: 1.0.0
description: Mistakes
source: ${over.source ?? "{ kind: csv, options: { path: data/orders.csv } }"}
transforms:
${over.transforms ?? "  - drop: [note]"}
sink: ${over.sink ?? "{ kind: jsonl, options: { path: out/orders.jsonl } }"}
`
  const failBuild = (text: string) =>
    Effect.flatMap(PipelineSpec.parse(text, { file: "orders.yaml" }), (spec) => build(spec, catalog)).pipe(Effect.flip)

  it.effect("unknown connector kind", () =>
    Effect.gen(function* () {
      const error = yield* failBuild(base({ sink: "{ kind: jsonx, options: { path: out.jsonl } }" }))
      assert.strictEqual(error._tag, "SpecError")
      assert.strictEqual(error.reason, "UnknownConnector")
      assert.strictEqual(error.path, "sink.kind")
      assert.strictEqual(error.line, 7)
      assert.strictEqual(
        error.message,
        'orders.yaml:7:15: sink.kind: Unknown connector kind "jsonx"; known kinds: csv, fakedb, generator, jsonl, memory, parquet'
      )
      assert.isFalse(error.retryable)
    })
  )

  it.effect("bad connector option", () =>
    Effect.gen(function* () {
      const error = yield* failBuild(base({ source: "{ kind: csv, options: { path: a.csv, delimitr: ';' } }" }))
      assert.strictEqual(error.reason, "InvalidOption")
      assert.strictEqual(error.path, "source.options.delimitr")
      assert.include(error.message, "orders.yaml:4:")
      assert.include(error.message, "source.options.delimitr")
      assert.include(error.message, 'csv source option "delimitr"')
      const wrongType = yield* failBuild(base({ source: "{ kind: csv, options: { path: a.csv, header: maybe } }" }))
      assert.strictEqual(wrongType.path, "source.options.header")
      assert.notInclude(wrongType.message, "maybe")
      const noSink = yield* failBuild(base({ sink: "{ kind: generator, options: { count: 1 } }" }))
      assert.strictEqual(noSink.path, "sink.kind")
      assert.include(noSink.message, "the generator connector has no sink")
    })
  )

  it.effect("unknown transform step", () =>
    Effect.gen(function* () {
      const error = yield* errorOf(
        PipelineSpec.parse(base({ transforms: "  - drop: [note]\n  - explode: items" }), { file: "orders.yaml" })
      )
      assert.strictEqual(error.reason, "UnknownStep")
      assert.strictEqual(error.path, "transforms[1].explode")
      assert.strictEqual(
        error.message,
        'orders.yaml:7:14: transforms[1].explode: unknown transform step "explode"; known steps: validate, rename, cast, default, drop, filter, derive, dedupe'
      )
      const badBody = yield* errorOf(
        PipelineSpec.parse(base({ transforms: "  - cast: { amount: money }" }), { file: "orders.yaml" })
      )
      assert.strictEqual(badBody.reason, "InvalidStep")
      assert.strictEqual(badBody.path, "transforms[0].cast.amount")
      const twoKeys = yield* errorOf(
        PipelineSpec.parse(base({ transforms: "  - { drop: [a], rename: { b: c } }" }), { file: "orders.yaml" })
      )
      assert.strictEqual(twoKeys.path, "transforms[0]")
    })
  )

  it.effect("bad CEL expression", () =>
    Effect.gen(function* () {
      const error = yield* errorOf(
        PipelineSpec.parse(base({ transforms: '  - drop: [note]\n  - filter: "record.amount >"' }), {
          file: "orders.yaml"
        })
      )
      assert.strictEqual(error.reason, "InvalidExpression")
      assert.strictEqual(error.path, "transforms[1].filter")
      assert.strictEqual(error.line, 7)
      assert.include(error.message, "orders.yaml:7:")
      assert.include(error.message, "transforms[1].filter: invalid CEL expression")
      const derive = yield* errorOf(
        PipelineSpec.parse(base({ transforms: '  - derive: { total: "nope(record.a)" }' }), { file: "orders.yaml" })
      )
      assert.strictEqual(derive.path, "transforms[0].derive.total")
    })
  )

  it.effect("a literal secret where a reference is required", () =>
    Effect.gen(function* () {
      const error = yield* failBuild(base({ source: `{ kind: fakedb, options: { url: "${SECRET}", table: t } }` }))
      assert.strictEqual(error.reason, "LiteralSecret")
      assert.strictEqual(error.path, "source.options.url")
      assert.include(error.message, "orders.yaml:4:")
      assert.include(error.message, "{ secret: NAME }")
      assert.notInclude(error.message, SECRET)
      assert.notInclude(JSON.stringify(error), SECRET)
      const misplaced = yield* failBuild(
        base({ source: "{ kind: fakedb, options: { url: { secret: A }, table: { secret: B } } }" })
      )
      assert.strictEqual(misplaced.path, "source.options.table")
      assert.include(misplaced.message, "may only fill url")
      const inDefault = yield* errorOf(
        PipelineSpec.parse(base({ transforms: "  - default: { token: { secret: DB_URL } }" }), { file: "orders.yaml" })
      )
      assert.strictEqual(inDefault.path, "transforms[0].default.token")
    })
  )

  it.effect("YAML syntax error, with line and column", () =>
    Effect.gen(function* () {
      const error = yield* errorOf(
        PipelineSpec.parse("name: orders\nversion: 1.0.0\nsource: { kind: csv\nsink: x\n", { file: "orders.yaml" })
      )
      assert.strictEqual(error.reason, "Syntax")
      assert.isDefined(error.line)
      assert.match(error.message, /^orders\.yaml:\d+:\d+: YAML syntax error: /)
      const json = yield* errorOf(PipelineSpec.parse('{ "name": "x", }}', { file: "orders.json" }))
      assert.match(json.message, /^orders\.json:1:\d+: JSON syntax error/)
    })
  )

  it.effect("top-level mistakes", () =>
    Effect.gen(function* () {
      const missing = yield* errorOf(PipelineSpec.parse("name: orders\nversion: 1\n", { file: "orders.yaml" }))
      assert.strictEqual(missing.path, "version")
      const extra = yield* errorOf(PipelineSpec.parse(`${base({})}colour: blue\n`, { file: "orders.yaml" }))
      assert.strictEqual(extra.path, "colour")
      assert.include(extra.message, "unknown key")
      const badOption = yield* errorOf(
        PipelineSpec.parse(`${base({})}options: { batch: { rows: 0 } }\n`, { file: "orders.yaml" })
      )
      assert.strictEqual(badOption.path, "options.batch.rows")
      const notFound = yield* errorOf(PipelineSpec.load(path.join(tmp(), "absent.yaml")))
      assert.include(notFound.message, "absent.yaml: the file could not be read (ENOENT)")
    })
  )
})

describe("PipelineSpec templates", () => {
  const templateYaml = (secrets: string) => `name: export_orders
version: 1.0.0
description: Exports a CSV of orders
params:
  input: { type: string, pattern: "\\\\.csv$", description: The CSV to read }
  country: { type: string, enum: [DE, FR], default: DE }
  min: { type: number, minimum: 0, default: 10 }
secrets: [${secrets}]
source: { kind: csv, options: { path: { param: input } } }
transforms:
  - default: { country: { param: country } }
sink: { kind: memory }
`

  it.effect("instantiates with good params", () =>
    Effect.gen(function* () {
      const dir = tmp()
      const input = path.join(dir, "orders.csv")
      fs.writeFileSync(input, "id,country\n1,\n2,FR\n")
      const template = yield* PipelineSpec.parseTemplate(templateYaml(""), { file: "export.yaml" })
      assert.deepStrictEqual(Object.keys(template.params), ["input", "country", "min"])
      const schema = PipelineSpec.paramsSchema(template)
      assert.deepStrictEqual(Schema.decodeUnknownSync(schema)({ input: "a.csv" }), {
        input: "a.csv",
        country: "DE",
        min: 10
      })
      const built = yield* PipelineSpec.instantiate(
        template,
        { input, country: "FR" },
        { catalog, secrets: SecretProvider.fromRecord({}) }
      )
      const pipeline = Pipeline.make(built)
      // The instance's params: the template's, defaulting to the instantiated values; others are refused.
      assert.deepStrictEqual(Effect.runSync(Pipeline.decodeParams(pipeline, {})), { input, country: "FR", min: 10 })
      const changed = Effect.runSync(Effect.flip(Pipeline.decodeParams(pipeline, { input: "other.csv" })))
      assert.strictEqual(changed.path, "input")
      const summary = yield* Runner.run(pipeline, {})
      assert.strictEqual(summary.recordsWritten, 2)
    }).pipe(Effect.provide(Runner.layerMemory({ purgeIntervalMs: 0 })))
  )

  it.effect("refuses unknown and invalid params", () =>
    Effect.gen(function* () {
      const template = yield* PipelineSpec.parseTemplate(templateYaml(""), { file: "export.yaml" })
      const options = { catalog, secrets: SecretProvider.fromRecord({}) }
      const unknown = yield* errorOf(PipelineSpec.instantiate(template, { input: "a.csv", table: "x" }, options))
      assert.strictEqual(unknown.reason, "InvalidParams")
      assert.strictEqual(unknown.path, "params.table")
      assert.include(unknown.message, "export.yaml: params.table")
      const pattern = yield* errorOf(PipelineSpec.instantiate(template, { input: "a.txt" }, options))
      assert.strictEqual(pattern.path, "params.input")
      const enumError = yield* errorOf(PipelineSpec.instantiate(template, { input: "a.csv", country: "US" }, options))
      assert.strictEqual(enumError.path, "params.country")
      assert.notInclude(enumError.message, "US")
      const minimum = yield* errorOf(PipelineSpec.instantiate(template, { input: "a.csv", min: -1 }, options))
      assert.strictEqual(minimum.path, "params.min")
      const missing = yield* errorOf(PipelineSpec.instantiate(template, {}, options))
      assert.strictEqual(missing.path, "params.input")
      const badDecl = yield* errorOf(
        PipelineSpec.parseTemplate(templateYaml("").replace("default: 10", "default: -5"), { file: "export.yaml" })
      )
      assert.strictEqual(badDecl.path, "params.min.default")
      const undeclared = yield* errorOf(
        PipelineSpec.parseTemplate(templateYaml("").replace("{ param: input }", "{ param: file }"), {
          file: "export.yaml"
        })
      )
      assert.strictEqual(undeclared.path, "source.options.path.param")
      const inSpec = yield* errorOf(
        PipelineSpec.parse(templateYaml("").replace(/params:[\s\S]*secrets: \[\]\n/, ""), { file: "export.yaml" })
      )
      assert.strictEqual(inSpec.path, "source.options.path")
      assert.include(inSpec.message, "only allowed in templates")
    })
  )

  it.effect("a template may resolve only its declared secrets", () =>
    Effect.gen(function* () {
      const text = `name: db_export
version: 1.0.0
description: Exports a table
params: { table: { type: string, enum: [orders, users] } }
secrets: [DB_URL]
source: { kind: fakedb, options: { url: { secret: OTHER_URL }, table: { param: table } } }
sink: { kind: memory }
`
      const parsed = yield* errorOf(PipelineSpec.parseTemplate(text, { file: "db.yaml" }))
      assert.strictEqual(parsed.reason, "SecretRefused")
      assert.strictEqual(parsed.path, "source.options.url.secret")
      assert.strictEqual(parsed.line, 6)

      const secrets = SecretProvider.fromRecord({ DB_URL: SECRET, OTHER_URL: SECRET })
      const good = yield* PipelineSpec.parseTemplate(text.replace("OTHER_URL", "DB_URL"), { file: "db.yaml" })
      const built = yield* PipelineSpec.instantiate(good, { table: "orders" }, { catalog, secrets })
      assert.strictEqual(built.source.name, "fakedb")
      assert.strictEqual(Redacted.value(seen.at(-1) as Redacted.Redacted<string>), SECRET)

      // Even a template object that skipped parsing cannot reach other secrets: the provider refuses them.
      const forged: PipelineSpec.Template = {
        ...good,
        source: { kind: "fakedb", options: { url: { secret: "OTHER_URL" }, table: "orders" } }
      }
      const refused = yield* errorOf(PipelineSpec.instantiate(forged, { table: "orders" }, { catalog, secrets }))
      assert.strictEqual(refused.reason, "SecretRefused")
      assert.include(refused.message, "OTHER_URL")
      assert.include(refused.message, "not allowed here")
      assert.notInclude(refused.message, SECRET)
    })
  )
})
