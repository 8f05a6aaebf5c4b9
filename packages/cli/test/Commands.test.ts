// The happy path of each command, on a project made by `data-mcp init`, through the built binary.
import * as fsp from "node:fs/promises"
import * as nodePath from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { assertBuilt, cli, tempDir } from "./utils.ts"

describe("data-mcp on an init'd project", () => {
  let root: string
  let project: string
  beforeAll(async () => {
    assertBuilt()
    root = await tempDir()
    project = nodePath.join(root, "proj")
  })
  afterAll(() => fsp.rm(root, { recursive: true, force: true }))

  it("init scaffolds a project, refusing a non-empty directory without --force", async () => {
    const made = await cli(["init", "proj"], root)
    assert.strictEqual(made.code, 0, made.stderr)
    for (const f of ["package.json", "data-mcp.config.yaml", "pipelines/orders.yaml", "data/orders.csv", "README.md"]) {
      assert.isTrue((await fsp.stat(nodePath.join(project, f))).isFile(), f)
    }
    assert.match(made.stdout, /created proj[/\\]test[/\\]orders\.test\.mjs/)
    const pkg = JSON.parse(await fsp.readFile(nodePath.join(project, "package.json"), "utf8"))
    assert.containsAllKeys(pkg.dependencies, ["@data-mcp/core", "@data-mcp/cli"])
    const again = await cli(["init", "proj"], root)
    assert.strictEqual(again.code, 2)
    assert.match(again.stderr, /is not empty.*--force/)
  })

  it("validate and list", async () => {
    const valid = await cli(["validate"], project)
    assert.strictEqual(valid.code, 0, valid.stderr)
    assert.match(valid.stdout, /OK: 1 pipeline\(s\) valid \(orders_to_jsonl\)/)
    const list = await cli(["list", "--json"], project)
    assert.strictEqual(list.code, 0, list.stderr)
    const rows = JSON.parse(list.stdout)
    assert.deepStrictEqual(
      rows.map((r: { name: string; source: string; sink: string }) => [r.name, r.source, r.sink]),
      [["orders_to_jsonl", "csv", "jsonl"]]
    )
  })

  it("preview shows records and the plan and writes nothing", async () => {
    const preview = await cli(["preview", "orders_to_jsonl", "--json"], project)
    assert.strictEqual(preview.code, 0, preview.stderr)
    const result = JSON.parse(preview.stdout)
    assert.deepStrictEqual(
      result.records.map((r: { order_id: number }) => r.order_id),
      [1, 2, 5, 6]
    )
    assert.isTrue(
      result.records.every((r: { email: string }) => r.email === "***"),
      "sensitive fields masked"
    )
    assert.strictEqual(result.plan.target.sink, "jsonl")
    assert.strictEqual(result.plan.checkpoint.from, null)
    assert.deepStrictEqual(await fsp.readdir(nodePath.join(project, "out")), [".gitkeep"])
    const text = await cli(["preview", "orders_to_jsonl"], project)
    assert.strictEqual(text.code, 0, text.stderr)
    assert.match(text.stdout, /plan:\n\s+checkpoint: null →/)
  })

  it("run prints progress and a summary; --json prints the summary only", async () => {
    const run = await cli(["run", "orders_to_jsonl"], project)
    assert.strictEqual(run.code, 0, run.stderr)
    assert.match(run.stdout, /orders_to_jsonl: read 6 · written 4 · \d+\/s · dead letters 1 · retries 0 · 0:0\d/)
    assert.match(run.stdout, /succeeded: read 6, written 4, dead letters 1, retries 0/)
    const lines = (await fsp.readFile(nodePath.join(project, "out", "orders.jsonl"), "utf8")).trim().split("\n")
    assert.deepStrictEqual(
      lines.map((l) => JSON.parse(l).order_id),
      [1, 2, 5, 6]
    )
    // The checkpoint is at the end of the file: a second run reads nothing new.
    const again = await cli(["run", "orders_to_jsonl", "--json"], project)
    assert.strictEqual(again.code, 0, again.stderr)
    const summary = JSON.parse(again.stdout)
    assert.strictEqual(summary.status, "succeeded")
    assert.strictEqual(summary.recordsRead, 0)
    assert.isNotNull(summary.checkpointFrom)
  })

  it("runs, dlq list and state show report what the runs left", async () => {
    const runs = await cli(["runs", "--json"], project)
    assert.strictEqual(runs.code, 0, runs.stderr)
    const list = JSON.parse(runs.stdout)
    assert.strictEqual(list.length, 2)
    assert.isTrue(list.every((r: { status: string }) => r.status === "succeeded"))
    const text = await cli(["runs", "orders_to_jsonl"], project)
    assert.match(text.stdout, /run_\S+ {2}orders_to_jsonl@1\.0\.0 {2}succeeded/)

    const dlq = await cli(["dlq", "list", "orders_to_jsonl", "--json"], project)
    assert.strictEqual(dlq.code, 0, dlq.stderr)
    const letters = JSON.parse(dlq.stdout).letters
    assert.strictEqual(letters.length, 1)
    assert.match(letters[0].reason, /amount.*decimal/)
    assert.notInclude(dlq.stdout, "not-a-number-reason") // the reason names the field, not the value

    const state = await cli(["state", "show", "orders_to_jsonl", "--json"], project)
    assert.strictEqual(state.code, 0, state.stderr)
    const shown = JSON.parse(state.stdout)
    assert.match(shown.stateKey, /^orders_to_jsonl:/)
    assert.isNotNull(shown.checkpoint)
  })

  it("state reset asks for --yes, then clears the checkpoint (audited) so the next run reads everything", async () => {
    const refused = await cli(["state", "reset", "orders_to_jsonl"], project)
    assert.strictEqual(refused.code, 2)
    assert.match(refused.stderr, /Add --yes to confirm/)
    const reset = await cli(["state", "reset", "orders_to_jsonl", "--yes"], project)
    assert.strictEqual(reset.code, 0, reset.stderr)
    const audit = await fsp.readFile(nodePath.join(project, ".data-mcp", "audit.jsonl"), "utf8")
    assert.include(audit, '"action":"state.reset"')
    const state = await cli(["state", "show", "orders_to_jsonl", "--json"], project)
    assert.strictEqual(JSON.parse(state.stdout).checkpoint, null)
    const run = await cli(["run", "orders_to_jsonl", "--json"], project)
    assert.strictEqual(JSON.parse(run.stdout).recordsRead, 6)
  })

  it("a template runs with --param values", async () => {
    await fsp.writeFile(
      nodePath.join(project, "pipelines", "sample.yaml"),
      `name: sample
version: 1.0.0
description: Generated records, as many as asked.
params:
  count: { type: integer, minimum: 1, maximum: 1000, description: How many }
secrets: []
source: { kind: generator, options: { count: { param: count }, fields: [id, name] } }
sink: { kind: jsonl, options: { path: out/sample.jsonl } }
`
    )
    await fsp.appendFile(nodePath.join(project, "data-mcp.config.yaml"), "")
    const config = await fsp.readFile(nodePath.join(project, "data-mcp.config.yaml"), "utf8")
    await fsp.writeFile(
      nodePath.join(project, "data-mcp.config.yaml"),
      config.replace("  - pipelines/orders.yaml", "  - pipelines/orders.yaml\n  - pipelines/sample.yaml")
    )
    const run = await cli(["run", "sample", "--param", "count=25", "--json"], project)
    assert.strictEqual(run.code, 0, run.stderr)
    assert.strictEqual(JSON.parse(run.stdout).recordsWritten, 25)
    const bad = await cli(["run", "sample", "--param", "count=5000"], project)
    assert.strictEqual(bad.code, 2)
    assert.match(bad.stderr, /--param: params\.count: /)
  })

  it("new pipeline writes a spec, adds it to the config (comments kept), and it validates and runs", async () => {
    const made = await cli(["new", "pipeline", "my_feed"], project)
    assert.strictEqual(made.code, 0, made.stderr)
    const config = await fsp.readFile(nodePath.join(project, "data-mcp.config.yaml"), "utf8")
    assert.include(config, "  - pipelines/my_feed.yaml")
    assert.include(config, "# data-mcp project config")
    const valid = await cli(["validate"], project)
    assert.strictEqual(valid.code, 0, valid.stderr)
    assert.include(valid.stdout, "my_feed")
    const run = await cli(["run", "my_feed", "--json"], project)
    assert.strictEqual(run.code, 0, run.stderr)
    assert.strictEqual(JSON.parse(run.stdout).recordsWritten, 100)
    const twice = await cli(["new", "pipeline", "my_feed"], project)
    assert.strictEqual(twice.code, 2)
    assert.include(twice.stderr, "pipelines/my_feed.yaml already exists")
    const badName = await cli(["new", "pipeline", "My Feed"], project)
    assert.strictEqual(badName.code, 2)
  })
})
