/**
 * A transform is a pure description of per-record work between source and sink: `map`, `filter`, `flatMap`,
 * `mapEffect` (with concurrency), `validate(schema)`, `rename`, `drop` and `dedupe`. Transforms compose with
 * `pipe`; the runner fuses consecutive synchronous steps into one loop per batch, so a chain of cheap steps
 * costs about as much as a hand-written loop. A record that fails a step — a schema it does not match, a
 * function that throws, an effect that fails with `RecordRejected` — becomes a dead letter with its reason;
 * the run goes on within its dead-letter budget. Side effects of `mapEffect` repeat when a batch is replayed:
 * exactly-once covers the sink only.
 *
 * @since 0.1.0
 */
import { type Effect, Exit, type Pipeable, Schema, SchemaIssue } from "effect"
import { dual } from "effect/Function"
import { pipeArguments } from "effect/Pipeable"
import { isConnectorError } from "./ConnectorError.ts"

/**
 * One step of a transform. `Sync` steps run record by record, emitting zero or more outputs; `Effect` steps run
 * an effect per record with bounded concurrency, keeping record order.
 *
 * @category models
 * @since 0.1.0
 */
export type Step = SyncStep | EffectStep

/**
 * A synchronous step. `make` returns the per-record function, which calls `emit` for each output and throws to
 * reject the record. It is called once per run, or once per batch when `scope` is `"batch"` (so stateful steps
 * such as `dedupe` start fresh where they should).
 *
 * @category models
 * @since 0.1.0
 */
export interface SyncStep {
  readonly _tag: "Sync"
  readonly name: string
  readonly scope?: "run" | "batch" | undefined
  readonly make: () => (record: unknown, emit: (out: unknown) => void) => void
  /**
   * For one-in, at-most-one-out steps: `map` (the function returns the output) or `filter` (it returns whether
   * to keep the record), with `makeFn` making that plain function. The runner fuses chains of such steps into
   * one loop the JIT can inline.
   */
  readonly kind?: "map" | "filter" | undefined
  readonly makeFn?: (() => (record: unknown) => unknown) | undefined
}

/**
 * A map-like step (one record in, one out) from a function maker.
 *
 * @category constructors
 * @since 0.1.0
 */
export const mapStep = (
  name: string,
  makeFn: () => (record: unknown) => unknown,
  scope?: "run" | "batch"
): SyncStep => ({
  _tag: "Sync",
  name,
  scope,
  kind: "map",
  makeFn,
  make: () => {
    const fn = makeFn()
    return (record, emit) => emit(fn(record))
  }
})

/**
 * A filter-like step (a record is kept or dropped) from a predicate maker.
 *
 * @category constructors
 * @since 0.1.0
 */
export const filterStep = (
  name: string,
  makeFn: () => (record: unknown) => boolean,
  scope?: "run" | "batch"
): SyncStep => ({
  _tag: "Sync",
  name,
  scope,
  kind: "filter",
  makeFn,
  make: () => {
    const fn = makeFn()
    return (record, emit) => {
      if (fn(record)) emit(record)
    }
  }
})

/**
 * An effectful step.
 *
 * @category models
 * @since 0.1.0
 */
export interface EffectStep {
  readonly _tag: "Effect"
  readonly name: string
  readonly concurrency: number
  readonly f: (record: unknown) => Effect.Effect<unknown, unknown>
}

const TypeId = "~@data-mcp/core/Transform"

/**
 * A transform from records `A` to records `B`, failing with `E` for errors that should stop the run.
 *
 * @category models
 * @since 0.1.0
 */
export interface Transform<in A, out B, out E = never> extends Pipeable.Pipeable {
  readonly [TypeId]: { readonly _A: (a: A) => void; readonly _B: () => B; readonly _E: () => E }
  readonly steps: ReadonlyArray<Step>
}

/**
 * Any transform.
 *
 * @category models
 * @since 0.1.0
 */
// biome-ignore lint/suspicious/noExplicitAny: the widest transform type, for collections
export type Any = Transform<any, any, any>

const proto = {
  pipe() {
    // biome-ignore lint/complexity/noArguments: Pipeable's calling convention
    return pipeArguments(this, arguments)
  }
}

const fromSteps = <A, B, E>(steps: ReadonlyArray<Step>): Transform<A, B, E> => {
  const self = Object.create(proto)
  self[TypeId] = TypeId
  self.steps = steps
  return self
}

const append = <A, B, C, E, E2>(self: Transform<A, B, E>, step: Step): Transform<A, C, E | E2> =>
  fromSteps([...self.steps, step])

/**
 * Whether a value is a transform.
 *
 * @category guards
 * @since 0.1.0
 */
export const isTransform = (u: unknown): u is Any => typeof u === "object" && u !== null && TypeId in u

/**
 * The transform that passes records through unchanged: the start of a chain.
 *
 * **Example** (A chain of steps)
 *
 * ```ts
 * import { Transform } from "@data-mcp/core"
 *
 * const clean = Transform.identity<{ id: number; email: string }>().pipe(
 *   Transform.filter((r) => r.email !== ""),
 *   Transform.map((r) => ({ ...r, email: r.email.toLowerCase() }))
 * )
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const identity = <A>(): Transform<A, A> => fromSteps([])

/**
 * A record was rejected by a transform: it becomes a dead letter with `reason`, and the run goes on.
 * Throw it from a synchronous step or fail with it from `mapEffect`. The reason must not quote record values.
 *
 * @category errors
 * @since 0.1.0
 */
export class RecordRejected extends Schema.TaggedError<RecordRejected>("@data-mcp/core/RecordRejected")(
  "RecordRejected",
  { reason: Schema.String }
) {
  get retryable(): boolean {
    return false
  }

  override get message(): string {
    return this.reason
  }
}

/**
 * Appends hand-made steps (see `mapStep` and `filterStep`) to a transform: for step kinds the combinators do not
 * cover, such as the declarative steps of pipeline specs. The output type is the caller's to state.
 *
 * @category combinators
 * @since 0.1.0
 */
export const andThen = <A, B, C, E>(self: Transform<A, B, E>, steps: ReadonlyArray<Step>): Transform<A, C, E> =>
  fromSteps([...self.steps, ...steps])

/**
 * Applies `f` to every record.
 *
 * @category combinators
 * @since 0.1.0
 */
export const map: {
  <B, C>(f: (b: B) => C): <A, E>(self: Transform<A, B, E>) => Transform<A, C, E>
  <A, B, C, E>(self: Transform<A, B, E>, f: (b: B) => C): Transform<A, C, E>
} = dual(2, <A, B, C, E>(self: Transform<A, B, E>, f: (b: B) => C) =>
  append<A, B, C, E, never>(
    self,
    mapStep("map", () => f as (record: unknown) => unknown)
  )
)

/**
 * Keeps the records for which `predicate` holds.
 *
 * @category combinators
 * @since 0.1.0
 */
export const filter: {
  <B, C extends B>(refinement: (b: B) => b is C): <A, E>(self: Transform<A, B, E>) => Transform<A, C, E>
  <B>(predicate: (b: B) => boolean): <A, E>(self: Transform<A, B, E>) => Transform<A, B, E>
  <A, B, C extends B, E>(self: Transform<A, B, E>, refinement: (b: B) => b is C): Transform<A, C, E>
  <A, B, E>(self: Transform<A, B, E>, predicate: (b: B) => boolean): Transform<A, B, E>
} = dual(2, <A, B, E>(self: Transform<A, B, E>, predicate: (b: B) => boolean) =>
  append<A, B, B, E, never>(
    self,
    filterStep("filter", () => predicate as (record: unknown) => boolean)
  )
)

/**
 * Replaces every record with zero or more records.
 *
 * @category combinators
 * @since 0.1.0
 */
export const flatMap: {
  <B, C>(f: (b: B) => Iterable<C>): <A, E>(self: Transform<A, B, E>) => Transform<A, C, E>
  <A, B, C, E>(self: Transform<A, B, E>, f: (b: B) => Iterable<C>): Transform<A, C, E>
} = dual(2, <A, B, C, E>(self: Transform<A, B, E>, f: (b: B) => Iterable<C>) =>
  append<A, B, C, E, never>(self, {
    _tag: "Sync",
    name: "flatMap",
    make: () => (record, emit) => {
      for (const out of f(record as B)) emit(out)
    }
  })
)

/**
 * Runs an effect per record, at most `concurrency` at once (default 1), keeping record order. A failure with
 * `RecordRejected` (or a `ConnectorError` whose reason is `InvalidRecord`) dead-letters the record; a
 * retryable error is retried with the run's retry policy; any other error fails the run.
 *
 * **Example** (Enriching records from an API, 8 calls at a time)
 *
 * ```ts
 * import { Transform } from "@data-mcp/core"
 * import { Effect } from "effect"
 *
 * const lookup = (id: number) => Effect.succeed(`user-${id}`)
 * const enrich = Transform.identity<{ id: number }>().pipe(
 *   Transform.mapEffect((r) => Effect.map(lookup(r.id), (name) => ({ ...r, name })), { concurrency: 8 })
 * )
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const mapEffect: {
  <B, C, E2>(
    f: (b: B) => Effect.Effect<C, E2>,
    options?: { readonly concurrency?: number }
  ): <A, E>(self: Transform<A, B, E>) => Transform<A, C, E | Exclude<E2, RecordRejected>>
  <A, B, C, E, E2>(
    self: Transform<A, B, E>,
    f: (b: B) => Effect.Effect<C, E2>,
    options?: { readonly concurrency?: number }
  ): Transform<A, C, E | Exclude<E2, RecordRejected>>
} = dual(
  (args) => isTransform(args[0]),
  <A, B, C, E, E2>(
    self: Transform<A, B, E>,
    f: (b: B) => Effect.Effect<C, E2>,
    options?: { readonly concurrency?: number }
  ) =>
    append<A, B, C, E, E2>(self, {
      _tag: "Effect",
      name: "mapEffect",
      concurrency: Math.max(1, Math.floor(options?.concurrency ?? 1)),
      f: f as (record: unknown) => Effect.Effect<unknown, unknown>
    })
)

const issueFormatter = SchemaIssue.makeFormatterStandardSchemaV1()

/**
 * Describes a Schema issue by path and expectation, without quoting the value.
 *
 * @category utils
 * @since 0.1.0
 */
export const describeIssue = (issue: SchemaIssue.Issue): string =>
  issueFormatter(issue)
    .issues.slice(0, 5)
    .map((i) => {
      const path = (i.path ?? []).map((k) => (typeof k === "object" && k !== null && "key" in k ? k.key : k)).join(".")
      return path === "" ? i.message : `${path}: ${i.message}`
    })
    .join("; ")

/**
 * Decodes every record with `schema`; a record that does not match becomes a dead letter whose reason names
 * the fields and what was expected (never the values). Use a schema without async or service dependencies.
 *
 * **Example** (Validating and converting rows read from CSV)
 *
 * ```ts
 * import { Transform } from "@data-mcp/core"
 * import { Schema } from "effect"
 *
 * const Row = Schema.Struct({ id: Schema.NumberFromString, email: Schema.String })
 * const valid = Transform.identity<unknown>().pipe(Transform.validate(Row))
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const validate: {
  <S extends Schema.Top & { readonly DecodingServices: never }>(
    schema: S
  ): <A, B, E>(self: Transform<A, B, E>) => Transform<A, S["Type"], E>
  <A, B, E, S extends Schema.Top & { readonly DecodingServices: never }>(
    self: Transform<A, B, E>,
    schema: S
  ): Transform<A, S["Type"], E>
} = dual(
  2,
  <A, B, E, S extends Schema.Top & { readonly DecodingServices: never }>(self: Transform<A, B, E>, schema: S) =>
    append<A, B, S["Type"], E, never>(
      self,
      mapStep("validate", () => {
        const decode = Schema.decodeUnknownExit(schema)
        return (record) => {
          const exit = decode(record, { errors: "all" })
          if (Exit.isSuccess(exit)) return exit.value
          const failure = exit.cause.reasons.find((r) => r._tag === "Fail")
          throw new RecordRejected({
            reason:
              failure !== undefined && failure._tag === "Fail"
                ? `does not match the schema: ${describeIssue(failure.error.issue)}`
                : "does not match the schema"
          })
        }
      })
    )
)

/**
 * The record type after renaming fields by `mapping` (old name → new name).
 *
 * @category models
 * @since 0.1.0
 */
export type Renamed<B, M extends { readonly [K in keyof B]?: string }> = {
  readonly [K in keyof B as K extends keyof M ? (M[K] extends string ? M[K] : K) : K]: B[K]
}

/**
 * Renames fields (old name → new name); other fields pass through.
 *
 * **Example** (Snake case for the warehouse)
 *
 * ```ts
 * import { Transform } from "@data-mcp/core"
 *
 * const t = Transform.identity<{ userId: number; createdAt: string }>().pipe(
 *   Transform.rename({ userId: "user_id", createdAt: "created_at" })
 * )
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const rename: {
  <B, const M extends { readonly [K in keyof B]?: string }>(
    mapping: M
  ): <A, E>(self: Transform<A, B, E>) => Transform<A, Renamed<B, M>, E>
  <A, B, E, const M extends { readonly [K in keyof B]?: string }>(
    self: Transform<A, B, E>,
    mapping: M
  ): Transform<A, Renamed<B, M>, E>
} = dual(2, <A, B, E>(self: Transform<A, B, E>, mapping: Readonly<Record<string, string>>) =>
  append<A, B, unknown, E, never>(
    self,
    mapStep("rename", () => (record) => {
      const out: Record<string, unknown> = {}
      for (const [key, value] of Object.entries(record as object)) out[mapping[key] ?? key] = value
      return out
    })
  )
)

/**
 * Removes fields.
 *
 * @category combinators
 * @since 0.1.0
 */
export const drop: {
  <B, const K extends keyof B>(keys: ReadonlyArray<K>): <A, E>(self: Transform<A, B, E>) => Transform<A, Omit<B, K>, E>
  <A, B, E, const K extends keyof B>(self: Transform<A, B, E>, keys: ReadonlyArray<K>): Transform<A, Omit<B, K>, E>
} = dual(2, <A, B, E>(self: Transform<A, B, E>, keys: ReadonlyArray<PropertyKey>) => {
  const dropped = new Set(keys)
  return append<A, B, unknown, E, never>(
    self,
    mapStep("drop", () => (record) => {
      const out: Record<string, unknown> = {}
      for (const [key, value] of Object.entries(record as object)) if (!dropped.has(key)) out[key] = value
      return out
    })
  )
})

/**
 * Drops records whose key was already seen: within each batch (`window: "batch"`, the default) or among the
 * last `window` distinct keys of the run (a bounded window, so memory stays flat). The first record with a key
 * wins. `key` is a field name or a function; keys are compared by their JSON form.
 *
 * @category combinators
 * @since 0.1.0
 */
export const dedupe: {
  <B>(
    key: keyof B | ((b: B) => unknown),
    options?: { readonly window?: "batch" | number }
  ): <A, E>(self: Transform<A, B, E>) => Transform<A, B, E>
  <A, B, E>(
    self: Transform<A, B, E>,
    key: keyof B | ((b: B) => unknown),
    options?: { readonly window?: "batch" | number }
  ): Transform<A, B, E>
} = dual(
  (args) => isTransform(args[0]),
  <A, B, E>(
    self: Transform<A, B, E>,
    key: keyof B | ((b: B) => unknown),
    options?: { readonly window?: "batch" | number }
  ) => {
    const keyOf = typeof key === "function" ? key : (b: B) => b[key]
    const window = options?.window ?? "batch"
    return append<A, B, B, E, never>(
      self,
      filterStep(
        "dedupe",
        () => {
          const seen = new Set<string>()
          const capacity = window === "batch" ? Number.POSITIVE_INFINITY : Math.max(1, window)
          return (record: unknown) => {
            const raw = keyOf(record as B)
            // Prefixed so that the string "1" and the number 1 (whose JSON forms differ) stay different keys.
            const k =
              typeof raw === "string"
                ? `s${raw}`
                : `j${JSON.stringify(raw, (_, v) => (typeof v === "bigint" ? `${v}n` : v))}`
            if (seen.has(k)) return false
            seen.add(k)
            if (seen.size > capacity) seen.delete(seen.values().next().value as string)
            return true
          }
        },
        window === "batch" ? "batch" : "run"
      )
    )
  }
)

/**
 * The most `mapEffect` concurrency of any step (1 when there is none).
 *
 * @category utils
 * @since 0.1.0
 */
export const concurrency = (self: Any): number =>
  self.steps.reduce((max, step) => (step._tag === "Effect" ? Math.max(max, step.concurrency) : max), 1)

/**
 * Whether an error rejects one record (it becomes a dead letter) rather than failing the run.
 *
 * @category guards
 * @since 0.1.0
 */
export const isRecordRejection = (error: unknown): boolean =>
  error instanceof RecordRejected || (isConnectorError(error) && error.reason._tag === "InvalidRecord")
