// Detached runs through the real MCP client over HTTP (modern and legacy eras): progress, a run that outlives
// the call's wait, a client disconnect that does not stop the run, cancel mid-run, idempotency keys. Progress and
// disconnects run over every mounting style; the rest over node http in both eras.
import { Option } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { connect, type Mounted, mounts, newServer, structured } from "./harness.ts"

const until = async (check: () => boolean, timeoutMs = 10_000) => {
  const start = Date.now()
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error("timed out waiting")
    await new Promise((r) => setTimeout(r, 20))
  }
}

const cases = [
  { style: "node", era: "modern" },
  { style: "node", era: "legacy" },
  { style: "fetch", era: "modern" },
  { style: "express", era: "modern" },
  { style: "hono", era: "modern" }
] as const

for (const { style, era } of cases) {
  describe(`detached runs (${era} era, ${style})`, () => {
    let fixture: Awaited<ReturnType<typeof newServer>>
    let mounted: Mounted

    beforeAll(async () => {
      fixture = await newServer()
      mounted = await mounts[style](fixture.server)
    })
    afterAll(async () => {
      await mounted.close()
      await fixture.server.close()
    })

    const client = () => connect(mounted, { legacy: era === "legacy" })

    it("reports progress while the call waits", async () => {
      const c = await client()
      const progress: Array<{ progress: number; total?: number | undefined }> = []
      const r = await c.callTool(
        { name: "run_pipeline", arguments: { name: "slow", params: { count: 20 }, waitSeconds: 20 } },
        { onprogress: (p) => void progress.push(p) }
      )
      const out = structured(r)
      expect(out.status).toBe("succeeded")
      expect(progress.length).toBeGreaterThanOrEqual(2)
      expect(progress.at(-1)).toMatchObject({ progress: 20, total: 20 })
      expect(progress.map((p) => p.progress)).toEqual([...progress.map((p) => p.progress)].sort((a, b) => a - b))
      await c.close()
    })

    it("a run that outlives the call's wait is followed with wait_run", async () => {
      const c = await client()
      const started = structured(
        await c.callTool({ name: "run_pipeline", arguments: { name: "slow", params: { count: 30 }, waitSeconds: 0 } })
      )
      expect(["queued", "running"]).toContain(started.status)
      expect(started.summary).toBeUndefined()
      const done = structured(
        await c.callTool({ name: "wait_run", arguments: { runId: started.runId, waitSeconds: 20 } })
      )
      expect(done).toMatchObject({ runId: started.runId, status: "succeeded" })
      expect(done.summary.recordsWritten).toBe(30)
      await c.close()
    })

    it("a client disconnect ends the wait, never the run", async () => {
      const c = await client()
      const before = fixture.slow.records().length
      let seen = 0
      const call = c
        .callTool(
          {
            name: "run_pipeline",
            arguments: { name: "slow", params: { count: 40 }, waitSeconds: 20, idempotencyKey: `dc-${style}-${era}` }
          },
          { onprogress: () => void seen++ }
        )
        .catch((error: unknown) => error)
      await until(() => seen > 0)
      await c.close()
      expect(await call).toBeInstanceOf(Error)
      const d = await client()
      const again = structured(
        await d.callTool({
          name: "run_pipeline",
          arguments: { name: "slow", params: { count: 40 }, waitSeconds: 0, idempotencyKey: `dc-${style}-${era}` }
        })
      )
      expect(again.reused).toBe(true)
      const done = structured(
        await d.callTool({ name: "wait_run", arguments: { runId: again.runId, waitSeconds: 20 } })
      )
      expect(done.status).toBe("succeeded")
      expect(done.summary.recordsWritten).toBe(40)
      expect(fixture.slow.records().length - before).toBe(40)
      await d.close()
    })

    if (style !== "node") return
    it("cancel_run stops a run mid-way without checkpointing unwritten data; the next run resumes there", async () => {
      const c = await client()
      const params = { count: 200 }
      const started = structured(
        await c.callTool({ name: "run_pipeline", arguments: { name: "slow", params, waitSeconds: 0 } })
      )
      const written = fixture.slow.records().length
      await until(() => fixture.slow.records().length >= written + 10)
      const cancelled = structured(await c.callTool({ name: "cancel_run", arguments: { runId: started.runId } }))
      expect(cancelled.status).toBe("cancelled")
      const summary = cancelled.summary
      expect(summary.recordsWritten).toBeLessThan(200)
      // The saved checkpoint never passes what the sink wrote: it is the count of records written.
      const stateKey = summary.stateKey
      expect(summary.checkpointTo).toBe(summary.recordsWritten)
      expect(fixture.slow.checkpoint(stateKey)).toEqual(Option.some(summary.checkpointTo))
      const resumed = structured(
        await c.callTool({ name: "run_pipeline", arguments: { name: "slow", params, waitSeconds: 30 } })
      )
      expect(resumed.status).toBe("succeeded")
      expect(resumed.summary.checkpointFrom).toBe(summary.checkpointTo)
      expect(summary.recordsWritten + resumed.summary.recordsWritten).toBe(200)
      await c.close()
    })

    it("an idempotencyKey retry returns the same run; another key starts a new one after it ends", async () => {
      const c = await client()
      const args = { name: "slow", params: { count: 5 }, waitSeconds: 20, idempotencyKey: `idem-${era}` }
      const first = structured(await c.callTool({ name: "run_pipeline", arguments: args }))
      const second = structured(await c.callTool({ name: "run_pipeline", arguments: args }))
      expect(second.runId).toBe(first.runId)
      expect(second.reused).toBe(true)
      expect(second.status).toBe("succeeded")
      const other = structured(
        await c.callTool({ name: "run_pipeline", arguments: { ...args, idempotencyKey: `idem2-${era}` } })
      )
      expect(other.runId).not.toBe(first.runId)
      await c.close()
    })

    it("a second run of a busy state key is refused with the live run's id", async () => {
      const c = await client()
      const params = { count: 60 }
      const started = structured(
        await c.callTool({ name: "run_pipeline", arguments: { name: "slow", params, waitSeconds: 0 } })
      )
      const conflict = await c.callTool({ name: "run_pipeline", arguments: { name: "slow", params, waitSeconds: 0 } })
      expect(structured(conflict).error).toMatchObject({ _tag: "RunConflict", runId: started.runId })
      const bob = await connect(mounted, { user: "bob", legacy: era === "legacy" })
      const denied = await bob.callTool({ name: "cancel_run", arguments: { runId: started.runId } })
      expect(structured(denied).error._tag).toBe("NotFound")
      await bob.close()
      expect(structured(await c.callTool({ name: "cancel_run", arguments: { runId: started.runId } })).status).toBe(
        "cancelled"
      )
      await c.close()
    })
  })
}
