import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Connector, ConnectorCatalog, DeadLetter, Pipeline, PipelineSpec, Runner, SecretProvider } from "@data-mcp/core"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"

import { postgres } from "../src/PostgresConnector.ts"
import { connection, database, withClient } from "./utils.ts"

const { unreachable, freshSchema } = await database("PostgresConnector", "dm_conn")

const dirs: Array<string> = []
const tempDir = (): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dm-pg-conn-"))
  dirs.push(dir)
  return dir
}
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
})

const catalog = ConnectorCatalog.make([...ConnectorCatalog.builtins.definitions, postgres])
const secrets = SecretProvider.fromRecord({ PG_PASSWORD: "not-needed-with-trust-auth" })

const CSV = `id,name,amount
1,Ada,12.50
2,Grace,7
3,Linus,
`

const specYaml = (csvPath: string, schema: string, password = "{ secret: PG_PASSWORD }") => `name: csv_to_postgres
version: 1.0.0
description: Orders from a CSV file into PostgreSQL.
source:
  kind: csv
  options: { path: ${JSON.stringify(csvPath)} }
transforms:
  - cast: { id: integer, amount: decimal }
sink:
  kind: postgres
  options:
    connection:
      host: ${connection.host}
      port: ${connection.port}
      user: ${connection.user}
      database: ${connection.database}
      password: ${password}
    table: [${schema}, orders]
    columns:
      - { name: id, type: bigint }
      - { name: name, type: text }
      - { name: amount, type: numeric }
`

const createSchema = (schema: string) =>
  Effect.promise(() => withClient((client) => client.query(`create schema "${schema}"`)))

describe.skipIf(unreachable !== undefined)("PostgresConnector", () => {
  it("is a valid definition with both roles; its secret fields are the connection secrets", () => {
    assert.strictEqual(postgres.kind, "postgres")
    assert.deepStrictEqual(Connector.roles(postgres), ["source", "sink"])
    assert.deepStrictEqual(ConnectorCatalog.make([postgres]).kinds, ["postgres"])
    for (const role of [postgres.source!, postgres.sink!]) {
      assert.deepStrictEqual([...Connector.secretFields(role.config)].sort(), [
        "connection.connectionString",
        "connection.password",
        "connection.ssl.key"
      ])
    }
  })

  it.live("a YAML spec csv → postgres, built from the catalog and run with the runner, writes the rows", () =>
    Effect.gen(function* () {
      const schema = freshSchema()
      yield* createSchema(schema)
      const dir = tempDir()
      const csvPath = path.join(dir, "orders.csv")
      fs.writeFileSync(csvPath, CSV)
      const spec = yield* PipelineSpec.parse(specYaml(csvPath, schema), { file: "orders.yaml" })
      const built = yield* PipelineSpec.build(spec, { catalog, secrets })
      assert.strictEqual(built.sink.name, "postgres")
      const summary = yield* Runner.run(Pipeline.make(built), {})
      assert.strictEqual(summary.status, "succeeded")
      assert.strictEqual(summary.recordsRead, 3, JSON.stringify(summary))
      const dead = yield* DeadLetter.DeadLetterStore
      assert.deepStrictEqual(
        (yield* dead.list({})).letters.map((l) => l.reason),
        []
      )
      assert.strictEqual(summary.deadLetters, 0)
      const rows = yield* Effect.promise(() =>
        withClient((client) => client.query(`select id::text, name, amount::text from "${schema}".orders order by id`))
      )
      assert.deepStrictEqual(rows.rows, [
        { id: "1", name: "Ada", amount: "12.50" },
        { id: "2", name: "Grace", amount: "7" },
        { id: "3", name: "Linus", amount: null }
      ])
    }).pipe(Effect.provide(Runner.layerMemory({ purgeIntervalMs: 0 })))
  )

  it.live("the source reads a table through a spec; the secret resolves to a Redacted value", () =>
    Effect.gen(function* () {
      const schema = freshSchema()
      yield* createSchema(schema)
      yield* Effect.promise(() =>
        withClient(async (client) => {
          await client.query(`create table "${schema}".items (id bigint primary key, label text)`)
          await client.query(`insert into "${schema}".items values (1, 'a'), (2, 'b')`)
        })
      )
      const spec = yield* PipelineSpec.decode({
        name: "postgres_to_memory",
        version: "1.0.0",
        description: "Items from PostgreSQL.",
        source: {
          kind: "postgres",
          options: {
            connection: { ...connection, password: { secret: "PG_PASSWORD" } },
            streams: [{ table: [schema, "items"], key: "id" }]
          }
        },
        sink: { kind: "memory", options: {} }
      })
      const built = yield* PipelineSpec.build(spec, { catalog, secrets })
      const summary = yield* Runner.run(Pipeline.make(built), {})
      assert.strictEqual(summary.status, "succeeded")
      assert.strictEqual(summary.recordsRead, 2)
      const decoded = (yield* Connector.decodeConfig(postgres, "source", {
        connection: { ...connection, password: Redacted.make("s3cr3t") },
        streams: [{ table: "items", key: "id" }]
      })) as { connection: { password: unknown } }
      assert.isTrue(Redacted.isRedacted(decoded.connection.password))
      assert.notInclude(JSON.stringify(decoded), "s3cr3t")
    }).pipe(Effect.provide(Runner.layerMemory({ purgeIntervalMs: 0 })))
  )

  it.effect("a literal password in a spec is refused", () =>
    Effect.gen(function* () {
      const spec = yield* PipelineSpec.parse(specYaml("/nonexistent.csv", "public", "hunter2"), { file: "orders.yaml" })
      const error = yield* Effect.flip(PipelineSpec.build(spec, { catalog, secrets }))
      assert.strictEqual(error.reason, "LiteralSecret")
      assert.strictEqual(error.path, "sink.options.connection.password")
      assert.notInclude(error.message, "hunter2")
      const bad = yield* Effect.flip(
        Connector.decodeConfig(postgres, "source", { connection, streams: [{ table: "t", key: "id" }], extra: 1 })
      )
      assert.strictEqual(bad._tag, "ConfigError")
    })
  )

  it.live("check connects: ok on the server, a retryable error on a closed port", () =>
    Effect.gen(function* () {
      const check = postgres.check!
      const config = yield* Connector.decodeConfig(postgres, "sink", {
        connection,
        table: "t",
        columns: [{ name: "id", type: "bigint" }]
      })
      yield* check({ role: "sink", config: config as never })
      const down = yield* Connector.decodeConfig(postgres, "source", {
        connection: { ...connection, port: 1, connectTimeoutMs: 1_000 },
        streams: [{ table: "t", key: "id" }]
      })
      const error = yield* Effect.flip(check({ role: "source", config: down as never }))
      assert.strictEqual(error._tag, "ConnectorError")
    })
  )
})
