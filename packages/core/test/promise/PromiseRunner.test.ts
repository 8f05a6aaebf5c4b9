import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import * as Memory from "../../src/connectors/memory/Memory.ts"
import * as Pipeline from "../../src/Pipeline.ts"
import { PromiseRunner } from "../../src/promise/index.ts"
import type * as RunEvent from "../../src/RunEvent.ts"
import * as Runner from "../../src/Runner.ts"
import * as FaultInjection from "../../src/testing/FaultInjection.ts"
import { range } from "../utils.ts"

type Row = { readonly id: number }

const copy = (source = Memory.source(range(50), { batchSize: 10 }), collector = Memory.sink<Row>()) => ({
  collector,
  pipeline: Pipeline.make<Row, Row>({
    name: "copy",
    version: "1.0.0",
    description: "copies rows",
    source,
    sink: collector.sink,
    options: { batch: { rows: 10, maxWaitMs: 10 }, retry: { initialDelayMs: 1, maxDelayMs: 2 } }
  })
})

const tmp = () => mkdtempSync(join(tmpdir(), "dm-promise-"))

describe("PromiseRunner", () => {
  it("runs a pipeline and resolves with its summary; a second run resumes", async () => {
    await using runner = PromiseRunner.create({ inMemory: true, purgeIntervalMs: 0 })
    const { pipeline, collector } = copy()
    const first = await runner.run(pipeline, {})
    expect(first.status).toBe("succeeded")
    expect(first.recordsWritten).toBe(50)
    const second = await runner.run(pipeline, {})
    expect(second.checkpointFrom).toBe(50)
    expect(collector.records()).toHaveLength(50)
    expect((await runner.getRun(first.runId))?.status).toBe("succeeded")
    expect((await runner.listRuns({ pipeline: "copy" })).runs.map((r) => r.id)).toContain(second.runId)
    expect(await runner.checkpoint(first.stateKey)).toBe(50)
  })

  it("exposes live events as an async iterable ending with the terminal event", async () => {
    await using runner = PromiseRunner.create({ inMemory: true, purgeIntervalMs: 0 })
    const handle = await runner.start(copy().pipeline, {})
    const tags: Array<RunEvent.RunEvent["_tag"]> = []
    for await (const event of handle.events) tags.push(event._tag)
    expect(tags[0]).toBe("RunStarted")
    expect(tags.at(-1)).toBe("RunFinished")
    expect((await handle.result).status).toBe("succeeded")
    expect((await runner.runEvents(handle.id)).map((e) => e._tag)).toEqual(tags)
  })

  it("an AbortSignal cancels the run; nothing is checkpointed past what was written", async () => {
    await using runner = PromiseRunner.create({ inMemory: true, purgeIntervalMs: 0 })
    const collector = Memory.sink<Row>({ transactional: true })
    const { pipeline } = copy(Memory.source(range(500), { batchSize: 10 }), collector)
    const slow = { ...pipeline, sink: FaultInjection.slowSink(collector.sink, 10) }
    const controller = new AbortController()
    const handle = await runner.start(slow, {}, { signal: controller.signal })
    setTimeout(() => controller.abort(), 60)
    const summary = await handle.result
    expect(summary.status).toBe("cancelled")
    expect(collector.records().length).toBeLessThan(500)
    expect((await runner.checkpoint(summary.stateKey)) as number).toBeLessThanOrEqual(collector.records().length)
  })

  it("rejects with the same error classes as the Effect API", async () => {
    await using runner = PromiseRunner.create({ inMemory: true, purgeIntervalMs: 0 })
    const { pipeline } = copy(FaultInjection.slowSource(Memory.source(range(50), { batchSize: 10 }), 10))
    const live = await runner.start(pipeline, {})
    const conflict = await runner.start(pipeline, {}).catch((e: unknown) => e)
    expect(conflict).toBeInstanceOf(Runner.RunConflict)
    expect((conflict as Runner.RunConflict).runId).toBe(live.id)
    await live.result
    const [failing] = FaultInjection.sink(Memory.sink<Row>().sink, { on: 1, kind: "fatal" })
    const error = await runner.run({ ...copy().pipeline, name: "failing", sink: failing }, {}).catch((e: unknown) => e)
    expect((error as { _tag: string })._tag).toBe("ConnectorError")
    expect((error as { retryable: boolean }).retryable).toBe(false)
  })

  it("registers pipelines and refuses a changed definition under the same version", async () => {
    await using runner = PromiseRunner.create({ inMemory: true, purgeIntervalMs: 0 })
    const { pipeline } = copy()
    await runner.register(pipeline)
    expect((await runner.pipelines()).map((e) => `${e.name}@${e.version}`)).toEqual(["copy@1.0.0"])
    const changed = { ...pipeline, description: "copies rows, differently" }
    const error = await runner.register(changed).catch((e: unknown) => e)
    expect((error as { _tag: string; reason: string }).reason).toBe("Conflict")
    expect((await runner.pipeline("copy")).pipeline).toBe(pipeline)
  })

  it("keeps state in files across runners, locked while a runner is open, released by dispose", async () => {
    const directory = tmp()
    const { pipeline } = copy()
    const first = PromiseRunner.create({ directory, purgeIntervalMs: 0 })
    await first.run(pipeline, {})
    const second = PromiseRunner.create({ directory, purgeIntervalMs: 0 })
    const locked = await second.run(pipeline, {}).catch((e: unknown) => e)
    expect((locked as { reason?: string }).reason).toBe("Locked")
    await second.dispose()
    await first.dispose()
    await using third = PromiseRunner.create({ directory, purgeIntervalMs: 0 })
    const resumed = await third.run(pipeline, {})
    expect(resumed.checkpointFrom).toBe(50)
    expect(resumed.recordsRead).toBe(0)
  })

  it("pins the facade: every method is a twin of an Effect API", () => {
    const methods = Object.getOwnPropertyNames(PromiseRunner.prototype)
      .filter((m) => m !== "constructor")
      .sort()
    // A new method here needs its Effect twin first (Runner, PipelineRegistry, RunStore, DeadLetterStore, StateStore).
    expect(methods).toEqual([
      "checkpoint",
      "deadLetters",
      "deprecate",
      "dispose",
      "getRun",
      "listRuns",
      "pipeline",
      "pipelines",
      "purge",
      "register",
      "replayDeadLetters",
      "run",
      "runEvents",
      "start"
    ])
  })
})
