/**
 * The operations endpoints of a server: `GET /healthz` (the process is alive), `GET /readyz` (what the process
 * needs to serve — the state and run stores — answers) and `GET /metrics` (the Prometheus scrape). They form a
 * web-standard handler that answers its own paths and returns `undefined` for any other, so it sits in front of
 * the MCP handler on the same listener.
 *
 * @since 0.1.0
 */
import { RunStore, StateStore } from "@data-mcp/core"
import { Effect } from "effect"
import type * as Metrics from "./Metrics.ts"

/**
 * A readiness check: resolves when the dependency answers; a rejection, a thrown error or `false` means not
 * ready.
 *
 * @category models
 * @since 0.1.0
 */
export type Check = () => Promise<unknown> | unknown

/**
 * Options of `make`.
 *
 * @category models
 * @since 0.1.0
 */
export interface OperationsOptions {
  /** Serves `/metrics` from these metrics (left out: `/metrics` is not answered). */
  readonly metrics?: Pick<Metrics.Metrics, "text" | "contentType"> | undefined
  /**
   * What `/readyz` checks: one check, or named checks run concurrently (`{ state, runs }`, see `storeChecks`).
   * Left out: ready whenever alive.
   */
  readonly ready?: Check | Readonly<Record<string, Check>> | undefined
  /** A check that has not answered after this many milliseconds fails (default 2000). */
  readonly timeoutMs?: number | undefined
  /** Put before each path, e.g. `"/ops"` for `/ops/healthz` (default: none). */
  readonly prefix?: string | undefined
  /** The paths, before the prefix (defaults `/healthz`, `/readyz`, `/metrics`). */
  readonly paths?:
    | {
        readonly health?: string | undefined
        readonly ready?: string | undefined
        readonly metrics?: string | undefined
      }
    | undefined
}

/**
 * A handler for the operations paths: a `Response` for them, `undefined` for any other request.
 *
 * @category models
 * @since 0.1.0
 */
export type Operations = (request: Request) => Promise<Response | undefined>

/**
 * How one readiness check ended, as `/readyz` reports it: `ok`, `failed` (with the error's `_tag` when it has
 * one — never its message, which could name a host or a secret) or `timeout`.
 *
 * @category models
 * @since 0.1.0
 */
export interface CheckResult {
  readonly status: "ok" | "failed" | "timeout"
  readonly error?: string | undefined
}

const json = (status: number, body: unknown, method: string): Response =>
  new Response(method === "HEAD" ? null : JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", "cache-control": "no-store" }
  })

const tagOf = (cause: unknown): string | undefined => {
  const tag = (cause as { _tag?: unknown } | null)?._tag
  return typeof tag === "string" && /^[A-Za-z][A-Za-z0-9]{0,63}$/.test(tag) ? tag : undefined
}

const TIMED_OUT = Symbol("timeout")

const runCheck = async (check: Check, timeoutMs: number): Promise<CheckResult> => {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), timeoutMs)
  })
  try {
    const result = await Promise.race([Promise.resolve().then(check), timeout])
    if (result === TIMED_OUT) return { status: "timeout" }
    return result === false ? { status: "failed" } : { status: "ok" }
  } catch (cause) {
    const error = tagOf(cause)
    return error === undefined ? { status: "failed" } : { status: "failed", error }
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Runs readiness checks concurrently, each bounded by `timeoutMs`.
 *
 * @category utils
 * @since 0.1.0
 */
export const runChecks = async (
  checks: Readonly<Record<string, Check>>,
  timeoutMs = 2000
): Promise<{ readonly ready: boolean; readonly checks: Readonly<Record<string, CheckResult>> }> => {
  const entries = await Promise.all(
    Object.entries(checks).map(async ([name, check]) => [name, await runCheck(check, timeoutMs)] as const)
  )
  return { ready: entries.every(([, r]) => r.status === "ok"), checks: Object.fromEntries(entries) }
}

const normalize = (path: string): string => (path.startsWith("/") ? path : `/${path}`).replace(/\/+$/, "") || "/"

/**
 * Makes the operations handler.
 *
 * **Details**
 *
 * - `GET /healthz` → 200 `{"status":"ok"}` while the process can answer at all.
 * - `GET /readyz` → 200 `{"status":"ready","checks":{…}}` when every check passes, else 503
 *   `{"status":"unavailable","checks":{"runs":{"status":"failed","error":"StateError"}}}`.
 * - `GET /metrics` → 200 in the Prometheus text format.
 * - `HEAD` answers like `GET` without a body; other methods on these paths get 405 with `Allow`.
 *
 * Responses carry `Cache-Control: no-store`. Put the handler before any auth on the listener only if these
 * paths may be public on your network; otherwise serve them on an internal port.
 *
 * **Example** (In front of the MCP endpoint)
 *
 * ```ts
 * import { Metrics, Operations } from "@data-mcp/mcp-adapter"
 * declare const mcp: (request: Request) => Promise<Response>
 *
 * const metrics = Metrics.make()
 * const ops = Operations.make({ metrics, ready: { state: async () => true } })
 * const fetch = async (request: Request) => (await ops(request)) ?? mcp(request)
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (options?: OperationsOptions): Operations => {
  const prefix = normalize(options?.prefix ?? "")
  const at = (path: string | undefined, fallback: string) =>
    `${prefix === "/" ? "" : prefix}${normalize(path ?? fallback)}`
  const health = at(options?.paths?.health, "/healthz")
  const readiness = at(options?.paths?.ready, "/readyz")
  const scrape = at(options?.paths?.metrics, "/metrics")
  const ready = options?.ready
  const checks: Readonly<Record<string, Check>> =
    ready === undefined ? {} : typeof ready === "function" ? { ready } : ready
  const timeoutMs = options?.timeoutMs ?? 2000
  const metrics = options?.metrics

  return async (request) => {
    const path = normalize(new URL(request.url).pathname)
    const which =
      path === health
        ? "health"
        : path === readiness
          ? "ready"
          : path === scrape && metrics !== undefined
            ? "metrics"
            : undefined
    if (which === undefined) return undefined
    const method = request.method.toUpperCase()
    if (method !== "GET" && method !== "HEAD") {
      return new Response(null, { status: 405, headers: { allow: "GET, HEAD" } })
    }
    switch (which) {
      case "health":
        return json(200, { status: "ok" }, method)
      case "ready": {
        const result = await runChecks(checks, timeoutMs)
        return json(
          result.ready ? 200 : 503,
          { status: result.ready ? "ready" : "unavailable", checks: result.checks },
          method
        )
      }
      case "metrics": {
        const body = await (metrics as NonNullable<typeof metrics>).text()
        return new Response(method === "HEAD" ? null : body, {
          status: 200,
          headers: { "content-type": metrics?.contentType ?? "text/plain", "cache-control": "no-store" }
        })
      }
    }
  }
}

const PROBE = "data-mcp/readyz"

/**
 * Readiness checks of the state and run stores in context: `state` loads a probe key and `runs` reads a
 * probe run id (both absent; the point is that the store answers). Pass the result as `ready`.
 *
 * **Example** (The stores of an Effect app)
 *
 * ```ts
 * import { Operations } from "@data-mcp/mcp-adapter"
 * import { Effect } from "effect"
 *
 * const ops = Operations.storeChecks.pipe(Effect.map((ready) => Operations.make({ ready })))
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const storeChecks: Effect.Effect<
  Readonly<Record<"state" | "runs", Check>>,
  never,
  StateStore.StateStore | RunStore.RunStore
> = Effect.gen(function* () {
  const state = yield* StateStore.StateStore
  const runs = yield* RunStore.RunStore
  return {
    state: () => Effect.runPromise(state.load(PROBE)),
    runs: () => Effect.runPromise(runs.get(PROBE))
  }
})
