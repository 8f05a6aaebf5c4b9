// Shared helpers for core tests: a runner layer per test, pipelines over the memory connectors, and a
// state store whose lease renewal can be paused (to simulate a stalled run).
import { Effect, Layer } from "effect"
import * as DeadLetter from "../src/DeadLetter.ts"
import * as Runner from "../src/Runner.ts"
import * as RunStore from "../src/RunStore.ts"
import * as StateStore from "../src/StateStore.ts"

export const memoryRunner = (options?: Runner.RunnerOptions) => Runner.layerMemory({ purgeIntervalMs: 0, ...options })

export interface StateProbe {
  /** While true, lease renewals are skipped (the run looks stalled). */
  paused: boolean
  /** Every checkpoint saved, with the token that saved it. */
  readonly saves: Array<{ readonly key: string; readonly token: number; readonly checkpoint: unknown }>
}

/** A memory runner whose state store records saves and can stop renewing leases. */
export const probedRunner = (probe: StateProbe, options?: Runner.RunnerOptions) => {
  const probed = Layer.effect(
    StateStore.StateStore,
    Effect.gen(function* () {
      const inner = yield* StateStore.StateStore
      return StateStore.StateStore.of({
        ...inner,
        renew: (lease, ttl) => (probe.paused ? Effect.succeed(lease) : inner.renew(lease, ttl)),
        save: (lease, checkpoint) =>
          Effect.tap(inner.save(lease, checkpoint), () =>
            Effect.sync(() => probe.saves.push({ key: lease.key, token: lease.token, checkpoint }))
          )
      })
    })
  ).pipe(Layer.provideMerge(StateStore.layerMemory))
  return Runner.layer({ purgeIntervalMs: 0, ...options }).pipe(
    Layer.provideMerge(Layer.mergeAll(probed, RunStore.layerMemory, DeadLetter.layerMemory))
  )
}

export const range = (n: number, from = 0): Array<{ readonly id: number }> =>
  Array.from({ length: n }, (_, i) => ({ id: from + i }))

export const ids = (records: ReadonlyArray<{ readonly id: number }>): Array<number> =>
  records.map((r) => r.id).sort((a, b) => a - b)
