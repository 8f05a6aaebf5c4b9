/**
 * CEL expressions for the `filter` and `derive` steps of a pipeline spec. An expression is compiled once per run
 * (parsed, checked and planned by `@bufbuild/cel`) and then evaluated per record, with the record bound as the
 * variable `record`: `record.amount > 10.0 && record.country in ["DE", "FR"]`, `has(record.email)`,
 * `record.name.startsWith("a")`, `size(record.items)`. The standard CEL library and the `strings` extension
 * (`lowerAscii`, `trim`, `split`, `replace`, …) are available; nothing else is. CEL has no globals, prototypes
 * or host objects, and a record is exposed through its own plain data only, so an expression can read the record
 * and compute with it — never reach JavaScript.
 *
 * **How record values look in CEL**
 *
 * | JavaScript                                  | CEL                                                         |
 * | ------------------------------------------- | ----------------------------------------------------------- |
 * | `number` (integral or not)                  | `double` — JSON has one number type, so one record's `3`    |
 * |                                             | and another's `3.5` behave alike. Write `10.0`, or `int(x)` |
 * | `bigint`                                    | `int`                                                       |
 * | `string`, `boolean`, `null`                 | `string`, `bool`, `null`                                    |
 * | `Uint8Array`                                | `bytes`                                                     |
 * | array                                       | `list` (holes are `null`)                                   |
 * | plain object (`{}`, `JSON.parse`, null-proto) | `map(string, dyn)`, read lazily, own enumerable data properties only |
 * | `Map`                                       | `map` (string, bool, bigint and safe-integer keys)          |
 * | `Timestamp`, valid `Date`                   | `timestamp` (a wall-clock `Timestamp` is read as UTC)       |
 * | anything else (class instances, functions, symbols, `undefined`, getters) | `null` / absent         |
 *
 * Comparisons and equality work across `int` and `double` (`record.qty == 3` is true for `3`); arithmetic does
 * not mix them (`record.qty + 1` fails, `record.qty + 1.0` works), as CEL specifies.
 *
 * **Results** (`evaluate`): `int`/`uint` → `number` when it is a safe integer, else `bigint`; `double` →
 * `number`; `string`, `bool`, `null`, `bytes` as is; `list` → array; `map` → plain object (keys as strings);
 * `timestamp` → `Timestamp`; `duration` → its protobuf JSON string (`"90s"`); a type → its name.
 *
 * @since 0.1.0
 */
import { type CelInput, type CelResult, type CelValue, isCelError, plan } from "@bufbuild/cel"
import { Effect, Schema } from "effect"
import {
  CompileFailure,
  env,
  evaluationReason,
  type Prepared,
  parseSource,
  prepare,
  RECORD_VAR
} from "./internal/celCompile.ts"
import { fromCel, isPlainObject, recordToCel, toCel, UnsupportedResult } from "./internal/celValue.ts"

const SOURCE_LIMIT = 200

/**
 * An expression failed to compile (a syntax error, an unknown variable or function) or to evaluate (a missing
 * field, a type mismatch, a division by zero, a filter that did not return a boolean). `expression` is the full
 * source; `reason` says what went wrong and where (`line:column`) and never quotes a record value. Never
 * retryable: the same expression fails the same way on the same record.
 *
 * @category errors
 * @since 0.1.0
 */
export class ExpressionError extends Schema.TaggedError<ExpressionError>("@data-mcp/core/ExpressionError")(
  "ExpressionError",
  {
    /** The expression source, as written. */
    expression: Schema.String,
    /** What went wrong, with the position; never a record value. */
    reason: Schema.String
  }
) {
  /** Always `false`. */
  get retryable(): boolean {
    return false
  }

  override get message(): string {
    const src = this.expression.length > SOURCE_LIMIT ? `${this.expression.slice(0, SOURCE_LIMIT)}…` : this.expression
    return `Expression ${JSON.stringify(src)}: ${this.reason}`
  }
}

/**
 * Whether a value is an `ExpressionError`.
 *
 * @category guards
 * @since 0.1.0
 */
export const isExpressionError = (u: unknown): u is ExpressionError => u instanceof ExpressionError

/**
 * Options of `compile`. `kind` and `name` only make messages clearer (`filter "eu-only": …`).
 *
 * @category models
 * @since 0.1.0
 */
export interface CompileOptions {
  /** What the expression is for; a filter must return a boolean. */
  readonly kind?: "filter" | "derive"
  /** The name of the step or derived field, for messages. */
  readonly name?: string
}

/**
 * A compiled expression, ready to run on any number of records. Both functions are synchronous and throw only
 * `ExpressionError`.
 *
 * @category models
 * @since 0.1.0
 */
export interface Compiled {
  /** The expression source. */
  readonly source: string
  /** Evaluates the expression with `record` bound to the given value; returns a plain JS value. */
  readonly evaluate: (record: unknown) => unknown
  /** Evaluates the expression as a filter; throws an `ExpressionError` unless the result is a boolean. */
  readonly test: (record: unknown) => boolean
}

const make = (source: string, prepared: Prepared, options: CompileOptions | undefined): Compiled => {
  const label = options?.name === undefined ? "" : `${options.kind ?? "expression"} ${JSON.stringify(options.name)}: `
  const program = plan(env, prepared.parsed)
  // One activation object per compiled expression, reused: evaluation is synchronous and runs no user code.
  // No prototype, so an identifier can never resolve to an inherited member such as `constructor`.
  const activation: Record<string, CelInput> = Object.create(null)
  for (const [name, value] of prepared.constants) activation[name] = value
  const fail = (reason: string): ExpressionError => new ExpressionError({ expression: source, reason: label + reason })

  const run = (record: unknown): CelValue => {
    let result: CelResult
    try {
      activation[RECORD_VAR] = isPlainObject(record) ? recordToCel(record) : toCel(record)
      result = program(activation)
    } catch {
      // `plan` already turns exceptions into errors; this is a last line of defence.
      throw fail("evaluation failed")
    } finally {
      activation[RECORD_VAR] = null
    }
    if (isCelError(result)) throw fail(evaluationReason(source, prepared, result.message, result.exprId))
    return result
  }

  return {
    source,
    evaluate: (record) => {
      const value = run(record)
      try {
        return fromCel(value)
      } catch (cause) {
        throw fail(cause instanceof UnsupportedResult ? cause.message : "unsupported result")
      }
    },
    test: (record) => {
      const value = run(record)
      if (typeof value !== "boolean") throw fail("a filter must be a boolean, got a non-boolean result")
      return value
    }
  }
}

const compileOrError = (source: string, options?: CompileOptions): Compiled | ExpressionError => {
  const label = options?.name === undefined ? "" : `${options.kind ?? "expression"} ${JSON.stringify(options.name)}: `
  try {
    if (typeof source !== "string") return new ExpressionError({ expression: String(source), reason: "not a string" })
    const parsed = parseSource(source)
    const prepared = prepare(source, parsed)
    return make(source, prepared, options)
  } catch (cause) {
    const reason = cause instanceof CompileFailure ? cause.message : "invalid expression"
    return new ExpressionError({ expression: source, reason: label + reason })
  }
}

/**
 * Compiles a CEL expression once: parse, check, plan. Fails with an `ExpressionError` naming the expression and
 * the position for a syntax error, an unknown variable or function, or a wrong number of arguments.
 *
 * **Example** (A filter and a derived field)
 *
 * ```ts
 * import { Expression } from "@data-mcp/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const eu = yield* Expression.compile(`record.amount > 10.0 && record.country in ["DE", "FR"]`, {
 *     kind: "filter",
 *     name: "eu-orders"
 *   })
 *   const label = yield* Expression.compile(`record.name.upperAscii() + " (" + record.country + ")"`)
 *   const order = { amount: 12.5, country: "DE", name: "ada" }
 *   return [eu.test(order), label.evaluate(order)] // [true, "ADA (DE)"]
 * })
 * ```
 *
 * @see compileSync
 * @category constructors
 * @since 0.1.0
 */
export const compile = (source: string, options?: CompileOptions): Effect.Effect<Compiled, ExpressionError> =>
  Effect.suspend(() => {
    const result = compileOrError(source, options)
    return result instanceof ExpressionError ? Effect.fail(result) : Effect.succeed(result)
  })

/**
 * Like `compile`, but throws the `ExpressionError`: for code that cannot be effectful.
 *
 * @see compile
 * @category constructors
 * @since 0.1.0
 */
export const compileSync = (source: string, options?: CompileOptions): Compiled => {
  const result = compileOrError(source, options)
  if (result instanceof ExpressionError) throw result
  return result
}
