// dlq replay and backfill --from, through the built binary: a transform dead-letters a record, the spec is fixed
// (a new version), the replay writes it and removes its letter; bad input exits 2 naming what to fix.
import * as fsp from "node:fs/promises"
import * as nodePath from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { assertBuilt, cli, specs, tempDir, write } from "./utils.ts"

const { gen, amounts } = specs

describe("dlq replay and backfill --from", () => {
  let dir: string
  beforeAll(async () => {
    assertBuilt()
    dir = await tempDir()
    await write(dir, {
      "data-mcp.config.yaml": "pipelines: [amounts.yaml, gen.yaml]\n",
      "amounts.yaml": amounts,
      "gen.yaml": gen,
      "amounts.csv": "id,amount\n1,10.5\n2,oops\n3,7\n",
      "out/.keep": ""
    })
  })
  afterAll(() => fsp.rm(dir, { recursive: true, force: true }))

  it("replays a dead letter through the fixed version: written, removed, audited", async () => {
    const run = await cli(["run", "amounts", "--json"], dir)
    assert.strictEqual(JSON.parse(run.stdout).deadLetters, 1, run.stderr)
    // the fix: a new version that keeps the amount as text
    await fsp.writeFile(
      nodePath.join(dir, "amounts.yaml"),
      amounts.replace("1.0.0", "1.1.0").replace("  - cast: { amount: decimal }", "  - rename: { amount: amount_text }")
    )
    const replay = await cli(["dlq", "replay", "amounts", "--all", "--json"], dir)
    assert.strictEqual(replay.code, 0, replay.stderr)
    const result = JSON.parse(replay.stdout)
    assert.strictEqual(result.succeeded, 1)
    assert.strictEqual(result.failedAgain, 0)
    assert.strictEqual(result.runs[0].status, "succeeded")
    const lines = (await fsp.readFile(nodePath.join(dir, "out", "amounts.jsonl"), "utf8")).trim().split("\n")
    assert.strictEqual(lines.length, 3)
    assert.deepInclude(JSON.parse(lines[2]!), { amount_text: "oops" })
    const list = JSON.parse((await cli(["dlq", "list", "amounts", "--json"], dir)).stdout)
    assert.strictEqual(list.letters.length, 0)
    const audit = await fsp.readFile(nodePath.join(dir, ".data-mcp", "audit.jsonl"), "utf8")
    assert.include(audit, '"action":"dlq.replay"')
    // the run history shows the replay run
    const runs = JSON.parse((await cli(["runs", "amounts", "--json"], dir)).stdout)
    assert.match(runs[0].stateKey, /\/replay$/)
  })

  it("bad input exits 2 with what to fix", async () => {
    const neither = await cli(["dlq", "replay", "amounts"], dir)
    assert.strictEqual(neither.code, 2)
    assert.match(neither.stderr, /needs either --id <id> \(repeatable\) or --all/)
    const both = await cli(["dlq", "replay", "amounts", "--all", "--id", "x"], dir)
    assert.strictEqual(both.code, 2)
    const unknown = await cli(["dlq", "replay", "amounts", "--id", "nope"], dir)
    assert.strictEqual(unknown.code, 2)
    assert.match(unknown.stderr, /--id nope: no such dead letter of amounts/)
    const pipeline = await cli(["dlq", "replay", "nosuch", "--all"], dir)
    assert.strictEqual(pipeline.code, 2)
    assert.match(pipeline.stderr, /nosuch/)
  })

  it("backfill --from --to runs that range only; the pipeline's checkpoint stays", async () => {
    const r = await cli(["backfill", "gen", "--from", "20", "--to", "40", "--json"], dir)
    assert.strictEqual(r.code, 0, r.stderr)
    const summary = JSON.parse(r.stdout)
    assert.strictEqual(summary.checkpointFrom, 20)
    assert.strictEqual(summary.checkpointTo, 40)
    assert.strictEqual(summary.recordsWritten, 20)
    const state = JSON.parse((await cli(["state", "show", "gen", "--json"], dir)).stdout)
    assert.strictEqual(state.checkpoint, null)
    const none = await cli(["backfill", "gen"], dir)
    assert.strictEqual(none.code, 2)
    assert.match(none.stderr, /--from <checkpoint>, --to <checkpoint> or both/)
    const bad = await cli(["backfill", "gen", "--from", "twenty"], dir)
    assert.strictEqual(bad.code, 2)
    assert.match(bad.stderr, /--from twenty: expected JSON/)
  })
})
