import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted, Schema } from "effect"
import * as Config from "../src/Config.ts"
import * as Connector from "../src/Connector.ts"
import * as ConnectorCatalog from "../src/ConnectorCatalog.ts"
import * as Jsonl from "../src/connectors/jsonl/Jsonl.ts"

const DbConfig = Schema.Struct({
  url: Schema.Redacted(Schema.String),
  table: Schema.String,
  auth: Schema.optionalKey(Schema.Struct({ user: Schema.String, password: Schema.Redacted(Schema.String) }))
})

const db = Connector.make({
  kind: "fakedb",
  source: { config: DbConfig, make: () => Jsonl.source({ path: "unused.jsonl" }) }
})

describe("Connector", () => {
  it("make checks the kind and the roles", () => {
    assert.throws(() => Connector.make({ kind: "Fake", sink: { config: Jsonl.SinkOptions, make: Jsonl.sink } }))
    assert.throws(() => Connector.make({ kind: "fake" }))
    assert.deepStrictEqual(Connector.roles(db), ["source"])
    assert.deepStrictEqual(Connector.roles(ConnectorCatalog.csv), ["source", "sink"])
  })

  it("secretFields lists Redacted fields, nested ones too", () => {
    assert.deepStrictEqual(Connector.secretFields(DbConfig), ["url", "auth.password"])
    assert.deepStrictEqual(Connector.secretFields(Jsonl.SourceOptions), [])
  })

  it.effect("decodes configs naming the field, without building anything", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Connector.decodeConfig(db, "source", { url: Redacted.make("x"), tabel: "t" }))
      assert.instanceOf(error, Config.ConfigError)
      assert.strictEqual(error.component, "fakedb source")
      assert.include(["table", "tabel"], error.path)
      const noSink = yield* Effect.flip(Connector.makeSink(db, {}))
      assert.include(noSink.message, "has no sink")
      const csvError = yield* Effect.flip(Connector.makeSource(ConnectorCatalog.csv, { path: "" }))
      assert.strictEqual(csvError.path, "path")
      const source = yield* Connector.makeSource(ConnectorCatalog.csv, { path: "does-not-exist.csv" })
      assert.strictEqual(source.name, "csv")
    })
  )
})

describe("ConnectorCatalog", () => {
  it("builtins", () => {
    assert.deepStrictEqual(ConnectorCatalog.builtins.kinds, ["csv", "generator", "jsonl", "memory", "parquet"])
    assert.isTrue(ConnectorCatalog.builtins.has("jsonl"))
    assert.isUndefined(ConnectorCatalog.builtins.find("postgres"))
    assert.isTrue(ConnectorCatalog.isConnectorCatalog(ConnectorCatalog.builtins))
    assert.deepStrictEqual(Connector.roles(ConnectorCatalog.generator), ["source"])
  })

  it("is a value: with() returns a new catalog", () => {
    const extended = ConnectorCatalog.builtins.with(db)
    assert.isTrue(extended.has("fakedb"))
    assert.isFalse(ConnectorCatalog.builtins.has("fakedb"))
    assert.deepStrictEqual(ConnectorCatalog.make([db]).kinds, ["fakedb"])
    assert.deepStrictEqual(ConnectorCatalog.empty.kinds, [])
  })

  it("refuses duplicate kinds", () => {
    try {
      ConnectorCatalog.builtins.with(ConnectorCatalog.csv)
      assert.fail("expected a ConfigError")
    } catch (error) {
      assert.instanceOf(error, Config.ConfigError)
      assert.include((error as Config.ConfigError).message, '"csv" is defined twice')
    }
    assert.throws(() => ConnectorCatalog.make([db, db]))
  })

  it.effect("an unknown kind lists the known kinds", () =>
    Effect.gen(function* () {
      const found = yield* ConnectorCatalog.builtins.get("csv")
      assert.strictEqual(found.kind, "csv")
      const error = yield* Effect.flip(ConnectorCatalog.builtins.get("postgres"))
      assert.strictEqual(error._tag, "UnknownConnector")
      assert.isFalse(error.retryable)
      assert.strictEqual(
        error.message,
        'Unknown connector kind "postgres"; known kinds: csv, generator, jsonl, memory, parquet'
      )
    })
  )

  it.effect("the memory source reads inline records", () =>
    Effect.gen(function* () {
      const source = yield* Connector.makeSource(ConnectorCatalog.memory, { records: [{ a: 1 }], batchSize: 10 })
      assert.strictEqual(source.name, "memory")
      const bad = yield* Effect.flip(Connector.makeSource(ConnectorCatalog.memory, { records: [1] }))
      assert.strictEqual(bad.path, "records.0")
    })
  )
})
