// The lease and fencing rules of the StateStore, written once as pure functions over a key's stored state and
// wired to a storage backend by `make`. The memory and file layers (and any other backend) differ only in where
// a `KeyState` lives, so their semantics cannot drift apart.
import { Clock, Effect, Result, Semaphore } from "effect"
import type { Json } from "../Checkpoint.ts"
import { type Lease, StateError, type StateStoreShape } from "./stateModel.ts"

/** Everything stored for one state key. `token` is the largest fencing token ever issued for it. */
export interface KeyState {
  readonly key: string
  readonly token: number
  /** The run holding the lease with `token`, or `null` once it was released (or never taken). */
  readonly holder: { readonly runId: string; readonly expiresAt: number } | null
  /** The saved checkpoint; absent when none was saved (or it was cleared). */
  readonly checkpoint?: Json
}

/** Where key states are kept. `write` must be durable when it succeeds. */
export interface Backend {
  readonly read: (key: string) => Effect.Effect<KeyState | undefined, StateError>
  readonly write: (state: KeyState) => Effect.Effect<void, StateError>
  readonly all: Effect.Effect<ReadonlyArray<KeyState>, StateError>
}

/** The state of a key nothing was ever stored for. */
export const empty = (key: string): KeyState => ({ key, token: 0, holder: null })

const withCheckpoint = (state: KeyState, checkpoint: Json | undefined): KeyState => {
  const { checkpoint: _, ...rest } = state
  return checkpoint === undefined ? rest : { ...rest, checkpoint }
}

const fenced = (state: KeyState, lease: Lease, action: string): StateError =>
  new StateError({
    reason: "Fenced",
    key: state.key,
    detail:
      state.token !== lease.token
        ? `cannot ${action}: lease token ${lease.token} of run ${lease.runId} was superseded by token ${state.token}. This run lost its lease and must stop without writing; the newer run owns the state.`
        : `cannot ${action}: run ${lease.runId} already released lease token ${lease.token}. Acquire a new lease first.`
  })

const isCurrent = (state: KeyState, lease: Lease): boolean =>
  state.token === lease.token && state.holder !== null && state.holder.runId === lease.runId

/**
 * Takes the lease for `runId`. Refused with `LeaseHeld` while another run's lease is unexpired at `now`; an
 * expired lease is taken over. The new token is one more than any before, so the old holder is fenced.
 */
export const acquire = (
  state: KeyState,
  runId: string,
  ttlMs: number,
  now: number
): Result.Result<readonly [Lease, KeyState], StateError> => {
  const holder = state.holder
  if (holder !== null && holder.runId !== runId && holder.expiresAt > now) {
    return Result.fail(
      new StateError({
        reason: "LeaseHeld",
        key: state.key,
        holderRunId: holder.runId,
        detail: `run ${holder.runId} holds the lease until ${new Date(holder.expiresAt).toISOString()}. Wait for it to finish, cancel it, or start with onConflict "queue" or "attach".`
      })
    )
  }
  const lease: Lease = { key: state.key, runId, token: state.token + 1, expiresAt: now + ttlMs }
  return Result.succeed([lease, { ...state, token: lease.token, holder: { runId, expiresAt: lease.expiresAt } }])
}

/** Extends a lease that is still current (even if it expired and nobody took it over); `Fenced` otherwise. */
export const renew = (
  state: KeyState,
  lease: Lease,
  ttlMs: number,
  now: number
): Result.Result<readonly [Lease, KeyState], StateError> => {
  if (!isCurrent(state, lease)) return Result.fail(fenced(state, lease, "renew"))
  const renewed: Lease = { ...lease, expiresAt: now + ttlMs }
  return Result.succeed([renewed, { ...state, holder: { runId: lease.runId, expiresAt: renewed.expiresAt } }])
}

/** Gives a current lease up; `undefined` (nothing to write) if it was already fenced or released. */
export const release = (state: KeyState, lease: Lease): KeyState | undefined =>
  isCurrent(state, lease) ? { ...state, holder: null } : undefined

/** Stores `checkpoint` if `lease` is still current; `Fenced` otherwise. */
export const save = (state: KeyState, lease: Lease, checkpoint: Json): Result.Result<KeyState, StateError> =>
  isCurrent(state, lease)
    ? Result.succeed(withCheckpoint(state, checkpoint))
    : Result.fail(fenced(state, lease, "save"))

/**
 * An operator's override: sets or clears the checkpoint and fences any live lease (the token moves on), so a
 * running run cannot overwrite the override with its next save.
 */
export const set = (state: KeyState, checkpoint: Json | undefined): KeyState =>
  withCheckpoint(state.holder === null ? state : { ...state, token: state.token + 1, holder: null }, checkpoint)

/** Serialises effects per key; entries are dropped once no fiber uses them. */
export const keyedLock = () => {
  const locks = new Map<string, { readonly semaphore: Semaphore.Semaphore; users: number }>()
  return (key: string) =>
    <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
      Effect.suspend(() => {
        let entry = locks.get(key)
        if (entry === undefined) {
          entry = { semaphore: Semaphore.makeUnsafe(1), users: 0 }
          locks.set(key, entry)
        }
        const held = entry
        held.users++
        return held.semaphore.withPermit(effect).pipe(
          Effect.ensuring(
            Effect.sync(() => {
              if (--held.users === 0) locks.delete(key)
            })
          )
        )
      })
}

/** A state store over `backend`: every operation on a key reads, applies a rule and writes under that key's lock. */
export const make = (backend: Backend): StateStoreShape => {
  const withKey = keyedLock()
  const current = (key: string) => Effect.map(backend.read(key), (state) => state ?? empty(key))
  const update = <A>(
    key: string,
    f: (state: KeyState, now: number) => Result.Result<readonly [A, KeyState], StateError>
  ) =>
    withKey(key)(
      Effect.gen(function* () {
        const state = yield* current(key)
        const now = yield* Clock.currentTimeMillis
        const [value, next] = yield* Effect.fromResult(f(state, now))
        yield* backend.write(next)
        return value
      })
    )
  return {
    acquire: (key, { runId, ttlMs }) => update(key, (state, now) => acquire(state, runId, ttlMs, now)),
    renew: (lease, ttlMs) => update(lease.key, (state, now) => renew(state, lease, ttlMs, now)),
    release: (lease) =>
      withKey(lease.key)(
        Effect.flatMap(current(lease.key), (state) => {
          const next = release(state, lease)
          return next === undefined ? Effect.void : backend.write(next)
        })
      ),
    load: (key) => Effect.map(backend.read(key), (state) => state?.checkpoint),
    save: (lease, checkpoint) =>
      update(lease.key, (state) => Result.map(save(state, lease, checkpoint), (next) => [undefined, next] as const)),
    set: (key, checkpoint) => update(key, (state) => Result.succeed([undefined, set(state, checkpoint)] as const)),
    keys: Effect.map(backend.all, (states) =>
      states
        .filter((state) => state.checkpoint !== undefined)
        .map((state) => state.key)
        .sort()
    )
  }
}
