/**
 * The state store keeps, per state key, the checkpoint a pipeline resumes from and the lease that makes one
 * run its only writer. Every run first takes a lease with a strictly increasing fencing token; every
 * checkpoint write is conditional on that token, so a run whose lease was taken over (it stalled past its
 * lease) fails without writing. Implementations: memory, file (in `.data-mcp/`, crash-safe, locked against a
 * second process) and, in connector-postgres, PostgreSQL for several replicas.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Schema } from "effect"
import * as FileStore from "./internal/fileStore.ts"
import * as Leases from "./internal/leases.ts"
import type { StateError, StateStoreShape } from "./internal/stateModel.ts"

export {
  type Lease,
  StateError,
  type StateErrorReason,
  type StateStoreShape
} from "./internal/stateModel.ts"

/**
 * The state store service.
 *
 * @category services
 * @since 0.1.0
 */
export class StateStore extends Context.Service<StateStore, StateStoreShape>()("@data-mcp/core/StateStore") {}

const KeyStateFile = Schema.Struct({
  key: Schema.String,
  token: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
  holder: Schema.NullOr(Schema.Struct({ runId: Schema.String, expiresAt: Schema.Finite })),
  checkpoint: Schema.optionalKey(Schema.Json)
})

const fileBackend = (dir: string): Leases.Backend => {
  const readFile = (file: string, key: string | undefined) =>
    Effect.flatMap(FileStore.readJson(file), (value) => {
      if (value === undefined) return Effect.succeed(undefined)
      if (!Schema.is(KeyStateFile)(value)) {
        return Effect.fail(FileStore.corrupt(file, "not a state record { key, token, holder, checkpoint }"))
      }
      if (key !== undefined && value.key !== key) {
        return Effect.fail(
          FileStore.corrupt(file, `it holds key ${JSON.stringify(value.key)}, not ${JSON.stringify(key)}`)
        )
      }
      return Effect.succeed<Leases.KeyState>(value)
    })
  const fileOf = (key: string) => FileStore.join(dir, `${FileStore.safeName(key)}.json`)
  return {
    read: (key) => readFile(fileOf(key), key),
    write: (state) => FileStore.atomicWrite(fileOf(state.key), `${JSON.stringify(state)}\n`),
    all: Effect.flatMap(FileStore.listDir(dir), (names) =>
      Effect.forEach(
        names.filter((name) => name.endsWith(".json")),
        (name) => readFile(FileStore.join(dir, name), undefined)
      ).pipe(Effect.map((states) => states.filter((state) => state !== undefined)))
    )
  }
}

/**
 * A state store in memory: for tests and single-process runs whose state may be lost on exit. Same lease,
 * fencing and checkpoint rules as `layerFile`.
 *
 * **Details**
 *
 * `set` is an operator override: it fences any live lease on the key (the token moves on), so the run holding
 * it fails at its next `save` or `renew` instead of overwriting the override.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerMemory: Layer.Layer<StateStore> = Layer.effect(
  StateStore,
  Effect.sync(() => {
    const states = new Map<string, Leases.KeyState>()
    return StateStore.of(
      Leases.make({
        read: (key) => Effect.sync(() => states.get(key)),
        write: (state) => Effect.sync(() => void states.set(state.key, state)),
        all: Effect.sync(() => [...states.values()])
      })
    )
  })
)

/**
 * A state store in files under `directory` (the embedded default is `.data-mcp/`): one JSON file per key in
 * `state/`, replaced crash-safely on every change, with `state.lock` keeping any other process (or a second
 * layer in this one) out.
 *
 * **Details**
 *
 * - `state/<name>.json` holds `{ key, token, holder, checkpoint }`; `<name>` is a readable prefix of the key
 *   plus its sha256, so any key is safe. The file outlives a cleared checkpoint, so tokens never go back.
 * - Every change (acquire, renew, release, save, set) is durable when it succeeds: temp file, fsync, rename,
 *   fsync of the directory. Changes to one key are serialised.
 * - Building the layer fails with `StateError` `Locked` while a live process holds `state.lock`; a lock left
 *   by a dead process is taken over. A corrupt file fails with `StateError` `Io` naming it; it is never reset.
 *
 * **Example** (Lease, save, resume)
 *
 * ```ts
 * import { StateStore } from "@data-mcp/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const store = yield* StateStore.StateStore
 *   const lease = yield* store.acquire("orders:abc", { runId: "run-1", ttlMs: 60_000 })
 *   yield* store.save(lease, { id: 42 })
 *   yield* store.release(lease)
 *   return yield* store.load("orders:abc") // { id: 42 }, after a restart too
 * })
 *
 * Effect.runPromise(program.pipe(Effect.provide(StateStore.layerFile({ directory: ".data-mcp" }))))
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layerFile = (options: { readonly directory: string }): Layer.Layer<StateStore, StateError> =>
  Layer.effect(
    StateStore,
    Effect.gen(function* () {
      yield* FileStore.lock(options.directory, "state")
      const dir = FileStore.join(options.directory, "state")
      yield* FileStore.ensureDir(dir)
      yield* FileStore.sweepTemp(dir)
      return StateStore.of(Leases.make(fileBackend(dir)))
    })
  )
