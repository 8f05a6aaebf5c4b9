// Ctrl-C during `run`: SIGINT cancels cleanly (exit 130), the checkpoint is kept, and a re-run resumes from it.
import * as fsp from "node:fs/promises"
import * as nodePath from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { assertBuilt, cli, start, tempDir, write } from "./utils.ts"

const COUNT = 300

// A slow pipeline: 300 generated records in batches of 10, read at 30 records a second (about 10 s).
const slow = `name: slow
version: 1.0.0
description: Generated records, read slowly.
source: { kind: generator, options: { count: ${COUNT}, batchSize: 10, fields: [id, name] } }
sink: { kind: jsonl, options: { path: out/slow.jsonl } }
options:
  batch: { rows: 10 }
  rateLimit: { source: { perSecond: 30, burst: 10 } }
`

describe("run: Ctrl-C", () => {
  let dir: string
  beforeAll(async () => {
    assertBuilt()
    dir = await tempDir()
    await write(dir, { "data-mcp.config.yaml": "pipelines: [slow.yaml]\n", "slow.yaml": slow, "out/.keep": "" })
  })
  afterAll(() => fsp.rm(dir, { recursive: true, force: true }))

  it("SIGINT exits 130 with the checkpoint kept; a re-run resumes from it and ends with every record", async () => {
    const running = start(["run", "slow"], dir)
    // Progress lines (plain, stdout is not a TTY) until some batches are durable.
    await running.waitFor(/written ([3-9]\d|\d{3})\b/, 90_000)
    running.child.kill("SIGINT")
    const first = await running.exited
    assert.strictEqual(first.code, 130, first.stdout + first.stderr)
    assert.match(first.stdout, /^cancelled: read \d+/m)
    // The generator knows its size: the progress line counts toward it, with an ETA.
    assert.match(first.stdout, /· \d+\/300 · ETA \d+:\d\d/)
    assert.match(first.stderr, /checkpoint kept at .*; run again to resume/)

    const state = JSON.parse((await cli(["state", "show", "slow", "--json"], dir)).stdout)
    const checkpoint = state.checkpoint
    assert.isNumber(checkpoint)
    assert.isAtLeast(checkpoint, 30)
    assert.isBelow(checkpoint, COUNT)
    const runs = JSON.parse((await cli(["runs", "slow", "--json"], dir)).stdout)
    assert.strictEqual(runs[0].status, "cancelled")

    const again = await cli(["run", "slow", "--json"], dir)
    assert.strictEqual(again.code, 0, again.stderr)
    const summary = JSON.parse(again.stdout)
    assert.strictEqual(summary.status, "succeeded")
    assert.deepStrictEqual(summary.checkpointFrom, checkpoint)
    assert.strictEqual(summary.recordsRead, COUNT - checkpoint)
    assert.strictEqual(summary.checkpointTo, COUNT)
    // Nothing lost (at-least-once: a batch written after the last checkpoint may repeat, none may be missing).
    const ids = new Set(
      (await fsp.readFile(nodePath.join(dir, "out", "slow.jsonl"), "utf8"))
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l).id)
    )
    assert.strictEqual(ids.size, COUNT)
  })
})
