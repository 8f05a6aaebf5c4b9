// infer-schema --ddl (each connector's own create table) and --pipeline (sampling a pipeline's source).
import * as fsp from "node:fs/promises"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { assertBuilt, cli, tempDir, write } from "./utils.ts"

describe("infer-schema --ddl and --pipeline", () => {
  let dir: string
  beforeAll(async () => {
    assertBuilt()
    dir = await tempDir()
    await write(dir, {
      "data-mcp.config.yaml": "pipelines: [gen.yaml]\n",
      "gen.yaml":
        "name: gen\nversion: 1.0.0\ndescription: Generated.\nsource: { kind: generator, options: { count: 20, fields: [id, name] } }\nsink: { kind: jsonl, options: { path: out.jsonl } }\n",
      "people.jsonl": '{"id":1,"name":"Ada","meta":{"a":1}}\n{"id":2,"name":null}\n'
    })
  })
  afterAll(() => fsp.rm(dir, { recursive: true, force: true }))

  it("prints the create table of the postgres and mysql sinks", async () => {
    const pg = await cli(["infer-schema", "people.jsonl", "--ddl", "postgres", "--table", "shop.people"], dir)
    assert.strictEqual(pg.code, 0, pg.stderr)
    assert.strictEqual(
      pg.stdout.trim(),
      'create table if not exists "shop"."people" ("id" bigint, "name" text, "meta" jsonb)'
    )
    const my = await cli(["infer-schema", "people.jsonl", "--ddl", "mysql"], dir)
    assert.strictEqual(my.code, 0, my.stderr)
    assert.match(my.stdout, /^create table if not exists `people` \(`id` bigint, `name` longtext, `meta` json\)/)
    const bad = await cli(["infer-schema", "people.jsonl", "--ddl", "oracle"], dir)
    assert.strictEqual(bad.code, 2)
    assert.match(bad.stderr, /--ddl oracle: expected postgres or mysql/)
  })

  it("samples a pipeline's source with --pipeline; a file and --pipeline together is bad input", async () => {
    const r = await cli(["infer-schema", "--pipeline", "gen", "--json"], dir)
    assert.strictEqual(r.code, 0, r.stderr)
    assert.deepInclude(Object.keys(JSON.parse(r.stdout).fields), "name")
    const both = await cli(["infer-schema", "people.jsonl", "--pipeline", "gen"], dir)
    assert.strictEqual(both.code, 2)
    assert.match(both.stderr, /a <file> or --pipeline <name>/)
  })
})
