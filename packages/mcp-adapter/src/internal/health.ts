// Connector health (DESIGN §7): a field of describe_pipeline and a gauge, never part of readiness. A pipeline's
// source and sink run their own `check` (with the default params when they are built from params), each bounded by
// a timeout; results are kept for a while so agents describing a pipeline do not hammer its systems.
import type { Pipeline } from "@data-mcp/core"
import { Effect } from "effect"
import type * as Metrics from "../Metrics.ts"
import { sinkOf, sourceOf } from "./connectors.ts"

export type Status = "up" | "down" | "unknown"

export interface Health {
  readonly source: Status
  readonly sink: Status
  /** The error tags of failing checks (never their messages). */
  readonly errors?: { readonly source?: string; readonly sink?: string } | undefined
  readonly checkedAt: string
}

const TTL_MS = 30_000
const TIMEOUT_MS = 3_000
const cache = new WeakMap<Pipeline.Any, { readonly at: number; readonly health: Health }>()

type Probe = { readonly status: Status; readonly error?: string }

const probe = (check: (() => Effect.Effect<void, unknown>) | undefined): Effect.Effect<Probe> =>
  check === undefined
    ? Effect.succeed({ status: "unknown" })
    : check().pipe(
        Effect.timeoutOption(TIMEOUT_MS),
        Effect.map((done) =>
          done._tag === "Some" ? { status: "up" as Status } : { status: "down" as Status, error: "Timeout" }
        ),
        Effect.catch((error) =>
          Effect.succeed({
            status: "down" as Status,
            error: typeof error === "object" && error !== null && "_tag" in error ? String(error._tag) : "Error"
          })
        )
      )

/** The pipeline's connector health, checked at most every 30 s; the gauge follows each check. */
export const healthOf = (pipeline: Pipeline.Any, metrics?: Metrics.Metrics): Effect.Effect<Health> =>
  Effect.suspend(() => {
    const cached = cache.get(pipeline)
    if (cached !== undefined && Date.now() - cached.at < TTL_MS) return Effect.succeed(cached.health)
    const source = sourceOf(pipeline)
    const sink = sinkOf(pipeline)
    return Effect.all([probe(source?.check), probe(sink?.check)], { concurrency: 2 }).pipe(
      Effect.map(([s, k]) => {
        const errors = {
          ...(s.error === undefined ? {} : { source: s.error }),
          ...(k.error === undefined ? {} : { sink: k.error })
        }
        const health: Health = {
          source: s.status,
          sink: k.status,
          ...(Object.keys(errors).length === 0 ? {} : { errors }),
          checkedAt: new Date().toISOString()
        }
        cache.set(pipeline, { at: Date.now(), health })
        if (s.status !== "unknown")
          metrics?.recordConnectorHealth({ pipeline: pipeline.name, connector: "source", up: s.status === "up" })
        if (k.status !== "unknown")
          metrics?.recordConnectorHealth({ pipeline: pipeline.name, connector: "sink", up: k.status === "up" })
        return health
      })
    )
  })
