// Operator commands: infer-schema, backfill, state set, dlq purge — through the built binary.
import * as fsp from "node:fs/promises"
import * as nodePath from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { assertBuilt, cli, specs, tempDir, write } from "./utils.ts"

const { gen, amounts } = specs

describe("operator commands", () => {
  let dir: string
  beforeAll(async () => {
    assertBuilt()
    dir = await tempDir()
    await write(dir, {
      "data-mcp.config.yaml": "pipelines: [gen.yaml, amounts.yaml]\n",
      "gen.yaml": gen,
      "amounts.yaml": amounts,
      "amounts.csv": "id,amount\n1,10.5\n2,oops\n3,7\n",
      "people.jsonl": '{"id":1,"name":"Ada","tags":["x"]}\n{"id":2,"name":null,"score":1.5}\n',
      "out/.keep": ""
    })
  })
  afterAll(() => fsp.rm(dir, { recursive: true, force: true }))

  it("infer-schema prints a file's schema, as types, JSON or JSON Schema", async () => {
    const text = await cli(["infer-schema", "people.jsonl"], dir)
    assert.strictEqual(text.code, 0, text.stderr)
    assert.include(text.stdout, "id: integer")
    assert.include(text.stdout, "name: string | null")
    assert.include(text.stdout, "tags: array<string>")
    const schema = JSON.parse((await cli(["infer-schema", "people.jsonl", "--json-schema"], dir)).stdout)
    assert.strictEqual(schema.type, "object")
    assert.property(schema.properties, "score")
    const csv = await cli(["infer-schema", "amounts.csv", "--json"], dir)
    assert.strictEqual(JSON.parse(csv.stdout).type, "object")
    const bad = await cli(["infer-schema", "notes.txt"], dir)
    assert.strictEqual(bad.code, 2)
    assert.match(bad.stderr, /unknown file type/)
  })

  it("backfill runs up to --to without moving the pipeline's own checkpoint", async () => {
    const r = await cli(["backfill", "gen", "--to", "40", "--json"], dir)
    assert.strictEqual(r.code, 0, r.stderr)
    const summary = JSON.parse(r.stdout)
    assert.strictEqual(summary.recordsWritten, 40)
    assert.strictEqual(summary.checkpointTo, 40)
    const state = JSON.parse((await cli(["state", "show", "gen", "--json"], dir)).stdout)
    assert.strictEqual(state.checkpoint, null)
    const bad = await cli(["backfill", "gen", "--to", "forty"], dir)
    assert.strictEqual(bad.code, 2)
    assert.match(bad.stderr, /--to forty: expected JSON/)
  })

  it("state set asks for --yes, is audited, and the next run resumes from it", async () => {
    const refused = await cli(["state", "set", "gen", "90"], dir)
    assert.strictEqual(refused.code, 2)
    assert.match(refused.stderr, /Add --yes to confirm/)
    const set = await cli(["state", "set", "gen", "90", "--yes"], dir)
    assert.strictEqual(set.code, 0, set.stderr)
    const audit = await fsp.readFile(nodePath.join(dir, ".data-mcp", "audit.jsonl"), "utf8")
    assert.include(audit, '"action":"state.set"')
    const run = JSON.parse((await cli(["run", "gen", "--json"], dir)).stdout)
    assert.strictEqual(run.checkpointFrom, 90)
    assert.strictEqual(run.recordsRead, 10)
  })

  it("dlq purge asks for --yes, then deletes the pipeline's dead letters", async () => {
    const run = await cli(["run", "amounts", "--json"], dir)
    assert.strictEqual(JSON.parse(run.stdout).deadLetters, 1, run.stderr)
    const refused = await cli(["dlq", "purge", "amounts"], dir)
    assert.strictEqual(refused.code, 2)
    assert.match(refused.stderr, /deletes 1 dead letter\(s\) of amounts for good\. Add --yes/)
    const purged = await cli(["dlq", "purge", "amounts", "--yes", "--json"], dir)
    assert.strictEqual(purged.code, 0, purged.stderr)
    assert.strictEqual(JSON.parse(purged.stdout).removed, 1)
    const list = JSON.parse((await cli(["dlq", "list", "amounts", "--json"], dir)).stdout)
    assert.strictEqual(list.letters.length, 0)
  })

  it("register records a version; another definition under it is refused (exit 2); versions lists them", async () => {
    const first = await cli(["register", "gen", "--json"], dir)
    assert.strictEqual(first.code, 0, first.stderr)
    const entry = JSON.parse(first.stdout)
    assert.strictEqual(entry.version, "1.0.0")
    assert.match(entry.hash, /^[0-9a-f]{64}$/)
    const same = await cli(["register", "gen"], dir)
    assert.strictEqual(same.code, 0, same.stderr)
    await fsp.writeFile(nodePath.join(dir, "gen.yaml"), gen.replace("100 generated records.", "Changed."))
    const changed = await cli(["register", "gen"], dir)
    assert.strictEqual(changed.code, 2)
    assert.match(changed.stderr, /gen@1\.0\.0: .*bump the version/)
    await fsp.writeFile(
      nodePath.join(dir, "gen.yaml"),
      gen.replace("100 generated records.", "Changed.").replace("1.0.0", "1.1.0")
    )
    assert.strictEqual((await cli(["register", "gen"], dir)).code, 0)
    const versions = await cli(["versions", "gen", "--json"], dir)
    assert.deepStrictEqual(
      JSON.parse(versions.stdout).map((e: { version: string }) => e.version),
      ["1.1.0", "1.0.0"]
    )
    await fsp.writeFile(nodePath.join(dir, "gen.yaml"), gen)
  })

  it("serve refuses a non-loopback host without auth", async () => {
    const r = await cli(["serve", "--host", "0.0.0.0", "--port", "0"], dir)
    assert.strictEqual(r.code, 2)
    assert.include(r.stderr, "serve on 0.0.0.0 (not loopback) needs server.auth")
  })
})
