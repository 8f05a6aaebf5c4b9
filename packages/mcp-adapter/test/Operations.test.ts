// The operations endpoints: /healthz, /readyz (passing, failing, timing out, over the real stores), /metrics,
// prefixes, methods, and pass-through of every other path.
import { RunStore, StateStore } from "@data-mcp/core"
import { Effect, Layer } from "effect"
import { describe, expect, it } from "vitest"
import { Metrics, Operations } from "../src/index.ts"
import { parse } from "./prometheus.ts"

const get = (path: string, method = "GET") => new Request(`http://127.0.0.1:3333${path}`, { method })

const stores = Layer.merge(StateStore.layerMemory, RunStore.layerMemory)
const SECRET = "postgres://app:hunter2@10.0.0.5:5432/data"

describe("Operations", () => {
  it("answers /healthz with 200 and passes any other path through", async () => {
    const ops = Operations.make()
    const health = await ops(get("/healthz"))
    expect(health?.status).toBe(200)
    expect(health?.headers.get("content-type")).toBe("application/json")
    expect(health?.headers.get("cache-control")).toBe("no-store")
    expect(await health?.json()).toEqual({ status: "ok" })
    expect(await ops(get("/mcp"))).toBeUndefined()
    expect(await ops(get("/healthz/more"))).toBeUndefined()
    // No metrics given: /metrics is not ours to answer.
    expect(await ops(get("/metrics"))).toBeUndefined()
  })

  it("answers /readyz with 200 when every check passes, over the real stores", async () => {
    const ready = await Effect.runPromise(Operations.storeChecks.pipe(Effect.provide(stores)))
    const ops = Operations.make({ ready })
    const response = await ops(get("/readyz"))
    expect(response?.status).toBe(200)
    expect(await response?.json()).toEqual({
      status: "ready",
      checks: { state: { status: "ok" }, runs: { status: "ok" } }
    })
  })

  it("answers /readyz with 503 naming the failing check, without its message", async () => {
    const ready = await Effect.runPromise(
      Effect.gen(function* () {
        const runs = yield* RunStore.RunStore
        const broken = {
          ...runs,
          get: () =>
            Effect.fail(new StateStore.StateError({ reason: "Io", key: "readyz", detail: `cannot reach ${SECRET}` }))
        }
        return yield* Operations.storeChecks.pipe(Effect.provideService(RunStore.RunStore, broken))
      }).pipe(Effect.provide(stores))
    )
    const ops = Operations.make({ ready })
    const response = await ops(get("/readyz"))
    expect(response?.status).toBe(503)
    const text = (await response?.text()) ?? ""
    expect(JSON.parse(text)).toEqual({
      status: "unavailable",
      checks: { state: { status: "ok" }, runs: { status: "failed", error: "StateError" } }
    })
    expect(text).not.toContain("hunter2")
    expect(text).not.toContain("10.0.0.5")
  })

  it("fails a check that returns false, throws a plain error or does not answer in time", async () => {
    const ops = Operations.make({
      ready: {
        flag: () => false,
        thrown: () => {
          throw new Error(SECRET)
        },
        slow: () => new Promise(() => undefined),
        fine: async () => "ok"
      },
      timeoutMs: 50
    })
    const response = await ops(get("/readyz"))
    expect(response?.status).toBe(503)
    const text = (await response?.text()) ?? ""
    expect(JSON.parse(text).checks).toEqual({
      flag: { status: "failed" },
      thrown: { status: "failed" },
      slow: { status: "timeout" },
      fine: { status: "ok" }
    })
    expect(text).not.toContain("hunter2")
  })

  it("takes a single check, and is ready with none", async () => {
    expect((await Operations.make({ ready: async () => undefined })(get("/readyz")))?.status).toBe(200)
    expect((await Operations.make({ ready: () => Promise.reject(new Error("x")) })(get("/readyz")))?.status).toBe(503)
    expect((await Operations.make()(get("/readyz")))?.status).toBe(200)
  })

  it("serves /metrics in the Prometheus text format", async () => {
    const metrics = Metrics.make()
    metrics.recordToolCall({ tool: "list_pipelines", outcome: "ok", seconds: 0.002 })
    const ops = Operations.make({ metrics })
    const response = await ops(get("/metrics"))
    expect(response?.status).toBe(200)
    expect(response?.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8")
    const { samples } = parse((await response?.text()) ?? "")
    expect(samples.find((s) => s.name === Metrics.names.toolCalls && s.labels.tool === "list_pipelines")?.value).toBe(1)
  })

  it("mounts under a prefix and custom paths", async () => {
    const ops = Operations.make({ metrics: Metrics.make(), prefix: "/ops/", paths: { health: "livez" } })
    expect((await ops(get("/ops/livez")))?.status).toBe(200)
    expect((await ops(get("/ops/readyz")))?.status).toBe(200)
    expect((await ops(get("/ops/metrics")))?.status).toBe(200)
    expect(await ops(get("/healthz"))).toBeUndefined()
    expect(await ops(get("/ops/healthz"))).toBeUndefined()
    expect((await Operations.make({ prefix: "/" })(get("/healthz")))?.status).toBe(200)
  })

  it("answers HEAD without a body and refuses other methods with 405", async () => {
    const ops = Operations.make({ metrics: Metrics.make() })
    const head = await ops(get("/healthz", "HEAD"))
    expect(head?.status).toBe(200)
    expect(await head?.text()).toBe("")
    const post = await ops(get("/metrics", "POST"))
    expect(post?.status).toBe(405)
    expect(post?.headers.get("allow")).toBe("GET, HEAD")
  })

  it("sits in front of another handler", async () => {
    const ops = Operations.make()
    const mcp = async () => new Response("mcp", { status: 202 })
    const fetch = async (request: Request) => (await ops(request)) ?? mcp()
    expect((await fetch(get("/mcp"))).status).toBe(202)
    expect((await fetch(get("/healthz"))).status).toBe(200)
  })
})
