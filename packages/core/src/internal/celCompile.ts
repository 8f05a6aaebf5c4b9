/**
 * The compile step behind `Expression.compile`: parse with `@bufbuild/cel`, check the syntax tree against the
 * declarations we allow, rewrite it for speed, and plan it once.
 *
 * `@bufbuild/cel` 0.6 exports no type checker, so `check` does the part of checking that matters here: every
 * identifier must be `record`, a comprehension variable or a type name, every function must exist with a
 * matching arity and call style, and no protobuf message may be constructed. Errors carry the position.
 *
 * Two rewrites keep the per-record cost low without changing meaning (the differential test in
 * `Expression.test.ts` checks that results equal those of the library's own `run`):
 * - the free variable `record` is renamed to `@`, a name no CEL source can spell, so the planner's
 *   qualified-name lookups (`record.amount` could name a protobuf enum) end at once;
 * - list and map literals made only of constants are evaluated once and bound as hidden variables (`$0`, …),
 *   instead of being rebuilt for every record; an all-string list also gets a `Set` for `in`.
 *
 * Hot operators (`==`, `!=`, `<`, `<=`, `>`, `>=`, `!`, `in`) get a fast path for operands of one primitive
 * type, computing exactly what the standard overload computes; every other call goes to the library's overloads.
 *
 * @internal
 */
import {
  type CelEnv,
  type CelResult,
  type CelValue,
  celEnv,
  celList,
  celMap,
  isCelError,
  isCelList,
  isCelMap,
  parse,
  plan
} from "@bufbuild/cel"
import { strings } from "@bufbuild/cel/ext"

/** The parsed syntax tree, as `@bufbuild/cel`'s `parse` returns it. */
export type ParsedExpr = ReturnType<typeof parse>
/** One node of the syntax tree. */
export type Expr = ParsedExpr["expr"]

type FuncResolver = CelEnv["funcs"]
type FuncGroup = NonNullable<ReturnType<FuncResolver["find"]>>

/** The variable name the record is bound to after the rewrite; CEL identifiers cannot contain `@`. */
export const RECORD_VAR = "@"

/** A compile-time failure, with the position (1-based line and column) when known. */
export class CompileFailure extends Error {}

// ---------------------------------------------------------------------------------------------------------------
// Environment with fast paths
// ---------------------------------------------------------------------------------------------------------------

type Fast = (args: ReadonlyArray<CelValue>) => CelResult | undefined

/** Sets of the all-string constant lists bound by `hoist`, for `in`. */
const stringSets = new WeakMap<object, ReadonlySet<string>>()

const samePrimitive = (a: CelValue, b: CelValue): boolean => {
  const t = typeof a
  return t === typeof b && (t === "string" || t === "number" || t === "bigint" || t === "boolean")
}

type Cmp = (a: string | number | bigint | boolean, b: string | number | bigint | boolean) => boolean

const compare =
  (op: Cmp): Fast =>
  (args) => {
    if (args.length !== 2) return undefined
    const a = args[0]!
    const b = args[1]!
    return samePrimitive(a, b) ? op(a as string, b as string) : undefined
  }

const fastPaths: ReadonlyMap<string, Fast> = new Map<string, Fast>([
  // CEL equality of two values of one primitive type is JS strict equality (NaN != NaN, 0.0 == -0.0).
  ["_==_", compare((a, b) => a === b)],
  ["_!=_", compare((a, b) => a !== b)],
  ["_<_", compare((a, b) => a < b)],
  ["_<=_", compare((a, b) => a <= b)],
  ["_>_", compare((a, b) => a > b)],
  ["_>=_", compare((a, b) => a >= b)],
  ["!_", (args) => (args.length === 1 && typeof args[0] === "boolean" ? !args[0] : undefined)],
  [
    "@in",
    (args) => {
      if (args.length !== 2) return undefined
      const value = args[0]
      const list = args[1]
      if (typeof value !== "string" || typeof list !== "object" || list === null) return undefined
      const set = stringSets.get(list)
      return set === undefined ? undefined : set.has(value)
    }
  ]
])

class FastGroup {
  readonly #group: FuncGroup
  readonly #fast: Fast
  constructor(group: FuncGroup, fast: Fast) {
    this.#group = group
    this.#fast = fast
  }
  get name(): string {
    return this.#group.name
  }
  [Symbol.iterator]() {
    return this.#group[Symbol.iterator]()
  }
  call(id: number, target: CelValue | undefined, args: Array<CelValue>): CelResult | undefined {
    if (target === undefined) {
      const result = this.#fast(args)
      if (result !== undefined) return result
    }
    return this.#group.call(id, target, args)
  }
}

const makeEnv = (): CelEnv => {
  const base = celEnv({ funcs: strings })
  const groups = new Map<string, FuncGroup | undefined>()
  const funcs = {
    [Symbol.iterator]: () => base.funcs[Symbol.iterator](),
    find: (name: string): FuncGroup | undefined => {
      if (groups.has(name)) return groups.get(name)
      const group = base.funcs.find(name)
      const fast = fastPaths.get(name)
      const found =
        group !== undefined && fast !== undefined ? (new FastGroup(group, fast) as unknown as FuncGroup) : group
      groups.set(name, found)
      return found
    }
  }
  // `plan` reads only `funcs`, `registry` and `namespace` of an environment; the class `celEnv` returns cannot
  // be extended from outside, hence the structural copy.
  return {
    namespace: base.namespace,
    registry: base.registry,
    variables: base.variables,
    funcs: funcs as unknown as FuncResolver
  } as unknown as CelEnv
}

/** The shared environment: the CEL standard library plus the `strings` extension. */
export const env: CelEnv = makeEnv()

// ---------------------------------------------------------------------------------------------------------------
// Positions and names
// ---------------------------------------------------------------------------------------------------------------

/** Line and column (1-based) of an expression id, or `undefined`. */
export const positionOf = (source: string, parsed: ParsedExpr, id: bigint | number | undefined): string | undefined => {
  if (id === undefined) return undefined
  const offset = parsed.sourceInfo?.positions[String(id)]
  if (offset === undefined) return undefined
  return offsetToPosition(source, offset)
}

const offsetToPosition = (source: string, offset: number): string => {
  let line = 1
  let column = 1
  for (let i = 0; i < offset && i < source.length; i++) {
    if (source[i] === "\n") {
      line++
      column = 1
    } else column++
  }
  return `${line}:${column}`
}

/** A short description of an operator or function for messages (`'_+_'` → `'+'`). */
const describeFunction = (name: string): string => {
  const m = /^_(.+)_$/.exec(name)
  if (m !== null) return m[1]!.replaceAll("_", "")
  if (name === "@in") return "in"
  return name
}

// ---------------------------------------------------------------------------------------------------------------
// Parse
// ---------------------------------------------------------------------------------------------------------------

/** Parses, turning the parser's error into a `CompileFailure` with a position and no `<input>` prefix. */
export const parseSource = (source: string): ParsedExpr => {
  try {
    return parse(source)
  } catch (cause) {
    const message = cause instanceof Error ? cause.message : String(cause)
    const m = /^<input>:(\d+:\d+): ([\s\S]*)$/.exec(message)
    throw new CompileFailure(m === null ? `syntax error: ${message}` : `syntax error at ${m[1]}: ${m[2]}`)
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Check and rewrite
// ---------------------------------------------------------------------------------------------------------------

const TYPE_NAMES = new Set(["int", "uint", "double", "bool", "string", "bytes", "list", "map", "null_type", "type"])
// Calls the planner handles itself; they are never looked up in the function resolver.
const SPECIAL_CALLS: ReadonlyMap<string, number> = new Map([
  ["_&&_", 2],
  ["_||_", 2],
  ["_?_:_", 3],
  ["_[_]", 2],
  ["_[?_]", 2],
  ["_?._", 2],
  ["@not_strictly_false", 1],
  ["__not_strictly_false__", 1]
])

const qualifiedName = (e: Expr): string | undefined => {
  const k = e.exprKind
  if (k.case === "identExpr") return k.value.name
  if (k.case === "selectExpr" && !k.value.testOnly && k.value.operand !== undefined) {
    const parent = qualifiedName(k.value.operand)
    return parent === undefined ? undefined : `${parent}.${k.value.field}`
  }
  return undefined
}

/** The result of `prepare`: the rewritten tree, the hidden constants and a description of each call node. */
export interface Prepared {
  readonly parsed: ParsedExpr
  readonly constants: ReadonlyArray<readonly [string, CelValue]>
  readonly calls: ReadonlyMap<string, string>
}

/** Checks a parsed expression and rewrites it in place (see the module doc). Throws `CompileFailure`. */
export const prepare = (source: string, parsed: ParsedExpr): Prepared => {
  const constants: Array<readonly [string, CelValue]> = []
  const calls = new Map<string, string>()
  const at = (e: Expr): string => {
    const pos = positionOf(source, parsed, e.id)
    return pos === undefined ? "" : ` at ${pos}`
  }
  const failure = (e: Expr, message: string): CompileFailure => new CompileFailure(`${message}${at(e)}`)

  const checkCall = (e: Expr, name: string, arity: number, method: boolean): void => {
    const special = SPECIAL_CALLS.get(name)
    if (special !== undefined) {
      if (special !== arity || method) throw failure(e, `wrong number of arguments to '${describeFunction(name)}'`)
      return
    }
    const group = env.funcs.find(name)
    if (group === undefined) throw failure(e, `undeclared function '${name}'`)
    let styleOk = false
    let arityOk = false
    for (const f of group) {
      if ((f.target !== undefined) === method) {
        styleOk = true
        if (f.arguments.length === arity) arityOk = true
      }
    }
    if (!styleOk) throw failure(e, method ? `'${name}' is not a method` : `'${name}' is a method, not a function`)
    if (!arityOk) throw failure(e, `wrong number of arguments to '${describeFunction(name)}'`)
  }

  const walk = (e: Expr, scope: ReadonlySet<string>): void => {
    const k = e.exprKind
    switch (k.case) {
      case "constExpr":
        return
      case "identExpr": {
        const name = k.value.name
        if (scope.has(name)) return
        if (name === "record") {
          k.value.name = RECORD_VAR
          return
        }
        if (TYPE_NAMES.has(name)) return
        throw failure(e, `undeclared reference to '${name}' (only 'record' is defined)`)
      }
      case "selectExpr":
        if (k.value.operand === undefined) throw failure(e, "invalid field selection")
        walk(k.value.operand, scope)
        return
      case "callExpr": {
        const call = k.value
        calls.set(String(e.id), describeFunction(call.function))
        if (call.target !== undefined) {
          // A namespaced function (`strings.quote(x)`) parses as a method call on an identifier.
          const qual = qualifiedName(call.target)
          if (qual !== undefined && !scope.has(qual.split(".")[0]!) && env.funcs.find(`${qual}.${call.function}`)) {
            checkCall(e, `${qual}.${call.function}`, call.args.length, false)
            for (const arg of call.args) walk(arg, scope)
            return
          }
          checkCall(e, call.function, call.args.length, true)
          walk(call.target, scope)
        } else checkCall(e, call.function, call.args.length, false)
        for (const arg of call.args) walk(arg, scope)
        return
      }
      case "listExpr":
        if (hoist(e)) return
        for (const el of k.value.elements) walk(el, scope)
        return
      case "structExpr":
        if (k.value.messageName !== "")
          throw failure(e, `constructing messages ('${k.value.messageName}') is not supported`)
        if (hoist(e)) return
        for (const entry of k.value.entries) {
          if (entry.keyKind.case !== "mapKey") throw failure(e, "invalid map literal")
          walk(entry.keyKind.value, scope)
          if (entry.value === undefined) throw failure(e, "invalid map literal")
          walk(entry.value, scope)
        }
        return
      case "comprehensionExpr": {
        const c = k.value
        if (
          c.iterRange === undefined ||
          c.accuInit === undefined ||
          c.loopCondition === undefined ||
          c.loopStep === undefined ||
          c.result === undefined
        ) {
          throw failure(e, "invalid comprehension")
        }
        walk(c.iterRange, scope)
        walk(c.accuInit, scope)
        const inner = new Set(scope)
        inner.add(c.iterVar)
        if (c.iterVar2 !== "") inner.add(c.iterVar2)
        inner.add(c.accuVar)
        walk(c.loopCondition, inner)
        walk(c.loopStep, inner)
        const result = new Set(scope)
        result.add(c.accuVar)
        walk(c.result, result)
        return
      }
      default:
        throw failure(e, "unsupported expression")
    }
  }

  /** Replaces a literal of constants by a hidden variable holding its value, computed once. */
  const hoist = (e: Expr): boolean => {
    if (!isLiteral(e)) return false
    let value: CelResult
    try {
      value = plan(env, e)()
    } catch {
      return false
    }
    if (isCelError(value) || !(isCelList(value) || isCelMap(value))) return false
    // Rebuild as a plain list/map so later reads need no conversion, and index all-string lists for `in`.
    const name = `$${constants.length}`
    let bound: CelValue = value
    if (isCelList(value)) {
      const items = [...value]
      bound = celList(items)
      if (items.every((x) => typeof x === "string")) stringSets.set(bound, new Set(items as Array<string>))
    } else {
      bound = celMap(new Map(value))
    }
    constants.push([name, bound])
    e.exprKind = { case: "identExpr", value: { $typeName: "cel.expr.Expr.Ident", name } }
    return true
  }

  walk(parsed.expr, new Set())
  return { parsed, constants, calls }
}

/** Whether a node is a list or map literal whose leaves are all constants. */
const isLiteral = (e: Expr): boolean => {
  const k = e.exprKind
  switch (k.case) {
    case "constExpr":
      return true
    case "listExpr":
      return k.value.optionalIndices.length === 0 && k.value.elements.every(isLiteral)
    case "structExpr":
      return (
        k.value.messageName === "" &&
        k.value.entries.every(
          (entry) =>
            !entry.optionalEntry &&
            entry.keyKind.case === "mapKey" &&
            isLiteral(entry.keyKind.value) &&
            entry.value !== undefined &&
            isLiteral(entry.value)
        )
      )
    default:
      return false
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Evaluation errors
// ---------------------------------------------------------------------------------------------------------------

const SAFE_MESSAGES: ReadonlyArray<RegExp> = [
  /^found no matching overload for '[^']*' applied to '\([\w., ()]*\)'$/,
  /^found no matching overload for _\?_:_ applied to '\([\w.]*\)'$/,
  /^(int|uint|double) (divide|modulus) by zero$/,
  /^(int|uint) overflow during _[-+*/%]_$/,
  /^type mismatch: expected bool, got [\w.]+$/,
  /^type mismatch: iterable vs [\w.]+$/,
  /^(unresolved attribute|unsupported key type|timestamp out of range|duration out of range)$/,
  /^(int32|uint32) out of range$/
]

/**
 * Turns a CEL evaluation error into a reason that never quotes a record value: known messages that hold only
 * types and names are kept, a field name is kept only when it appears in the expression, and anything else is
 * reduced to its kind and the failing function.
 */
export const evaluationReason = (
  source: string,
  prepared: Prepared,
  message: string,
  exprId: bigint | undefined
): string => {
  const pos = positionOf(source, prepared.parsed, exprId)
  const where = pos === undefined ? "" : ` at ${pos}`
  if (SAFE_MESSAGES.some((re) => re.test(message))) return `${message}${where}`
  const field = /^(field not found|map key conflict): ([\s\S]*)$/.exec(message)
  if (field !== null) {
    const name = field[2]!
    return /^\w+$/.test(name) && source.includes(name) ? `${field[1]}: ${name}${where}` : `${field[1]}${where}`
  }
  if (/^index .* out of bounds/.test(message)) return `index out of bounds${where}`
  if (/^unbound function/.test(message)) return `unbound function${where}`
  const call = exprId === undefined ? undefined : prepared.calls.get(String(exprId))
  if (/^Failed to parse (timestamp|duration)/.test(message)) {
    return `invalid ${/timestamp/.test(message) ? "timestamp" : "duration"} string${where}`
  }
  return call === undefined ? `evaluation failed${where}` : `'${call}' failed${where}`
}
