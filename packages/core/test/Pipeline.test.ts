import { Batch, Config, Memory, Pipeline, PipelineSet, Sink, Source, Transform } from "@data-mcp/core"
import { assert, describe, it } from "@effect/vitest"
import { Effect, type Redacted, Schema, Stream } from "effect"
import * as fc from "fast-check"

const source = Source.make<{ readonly id: number }>({
  name: "numbers",
  read: () => Stream.make(Batch.make([{ id: 1 }]))
})

const sink = Sink.make<unknown>({
  name: "discard",
  capabilities: { transactional: false, idempotent: false },
  disposition: Sink.append,
  open: () => Effect.succeed({ write: (batch) => Effect.succeed({ written: batch.records.length }) })
})

const Params = Schema.Struct({
  table: Schema.String,
  limit: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThan(0))),
  filter: Schema.optionalKey(Schema.Struct({ from: Schema.String, to: Schema.String })),
  mode: Schema.optionalKey(Schema.Literals(["full", "incremental"]))
})

const base = {
  name: "orders_sync",
  version: "1.0.0",
  description: "Copies orders to the warehouse.",
  params: Params,
  source,
  sink
}

/** Runs `f` and returns the ConfigError it throws (failing the test when it does not throw one). */
const configErrorOf = (f: () => unknown): Config.ConfigError => {
  try {
    f()
  } catch (error) {
    assert.instanceOf(error, Config.ConfigError)
    return error as Config.ConfigError
  }
  assert.fail("expected a ConfigError")
}

describe("Pipeline.make", () => {
  it("builds a pipeline with defaults", () => {
    const p = Pipeline.make({ name: "p", version: "0.1.0", description: "  Does things.  ", source, sink })
    assert.strictEqual(p.name, "p")
    assert.strictEqual(p.description, "Does things.")
    assert.deepStrictEqual(p.options, {})
    assert.deepStrictEqual(p.transforms.steps, [])
    assert.deepStrictEqual(Effect.runSync(Pipeline.decodeParams(p, undefined)), {})
  })

  it("refuses bad names, naming the field", () => {
    for (const name of ["", "Orders", "1orders", "_orders", "or ders", "orders.sync", "ördern", "a".repeat(64)]) {
      const error = configErrorOf(() => Pipeline.make({ ...base, name }))
      assert.strictEqual(error.path, "name", name)
      assert.strictEqual(error._tag, "ConfigError")
      assert.isFalse(error.retryable)
    }
    for (const name of ["a", "orders", "orders_sync-2", "a".repeat(63)]) {
      assert.strictEqual(Pipeline.make({ ...base, name }).name, name)
    }
  })

  it("refuses versions that are not semver", () => {
    for (const version of ["", "1", "1.0", "v1.0.0", "01.0.0", "1.0.0.0", "1.0.0-", "latest"]) {
      const error = configErrorOf(() => Pipeline.make({ ...base, version }))
      assert.strictEqual(error.path, "version", version)
      assert.include(error.message, "semver")
    }
    for (const version of ["0.0.0", "1.2.3", "10.20.30", "2.0.0-rc.1", "1.0.0-alpha+build.5", "1.0.0+20260101"]) {
      assert.strictEqual(Pipeline.make({ ...base, version }).version, version)
    }
  })

  it("refuses an empty description", () => {
    for (const description of ["", "   ", "\n\t"]) {
      assert.strictEqual(configErrorOf(() => Pipeline.make({ ...base, description })).path, "description")
    }
  })

  it("refuses bad options with a ConfigError naming the full field path", () => {
    const cases: ReadonlyArray<readonly [unknown, string]> = [
      [{ batch: { rows: 0 } }, "options.batch.rows"],
      [{ batch: { rows: 1.5 } }, "options.batch.rows"],
      [{ batch: { bytes: -1 } }, "options.batch.bytes"],
      [{ batch: { maxWaitMs: -1 } }, "options.batch.maxWaitMs"],
      [{ retry: { factor: 0.5 } }, "options.retry.factor"],
      [{ retry: { maxAttempts: 0 } }, "options.retry.maxAttempts"],
      [{ stateVersion: 0 }, "options.stateVersion"],
      [{ concurrency: 2.5 }, "options.concurrency"],
      [{ deadLetterBudget: { maxRatio: 1.5 } }, "options.deadLetterBudget.maxRatio"],
      [{ rateLimit: { source: { perSecond: 0 } } }, "options.rateLimit.source.perSecond"],
      [{ mcp: { exposure: "public" } }, "options.mcp.exposure"],
      [{ schedule: { cron: "* * * * *", misfire: "twice" } }, "options.schedule.misfire"],
      [{ stateKeyParams: "table" }, "options.stateKeyParams"]
    ]
    for (const [options, path] of cases) {
      const error = configErrorOf(() => Pipeline.make({ ...base, options: options as Pipeline.Options<unknown> }))
      assert.strictEqual(error.path, path, JSON.stringify(options))
      assert.include(error.message, path)
      assert.include(error.component, "orders_sync")
    }
  })

  it("refuses unknown option keys, at any depth", () => {
    const top = configErrorOf(() =>
      Pipeline.make({ ...base, options: { batchSize: 10 } as unknown as Pipeline.Options<unknown> })
    )
    assert.strictEqual(top.path, "options.batchSize")
    const nested = configErrorOf(() =>
      Pipeline.make({ ...base, options: { batch: { rowz: 10 } } as unknown as Pipeline.Options<unknown> })
    )
    assert.strictEqual(nested.path, "options.batch.rowz")
  })

  it("a refused option value is not quoted", () => {
    const error = configErrorOf(() => Pipeline.make({ ...base, options: { batch: { rows: -987654 } } }))
    assert.notInclude(error.message, "987654")
    const literal = configErrorOf(() =>
      Pipeline.make({
        ...base,
        options: { mcp: { exposure: "hunter2-secret" } } as unknown as Pipeline.Options<unknown>
      })
    )
    assert.notInclude(literal.message, "hunter2")
  })

  it("accepts valid options and keeps them", () => {
    const options = {
      stateKeyParams: ["table"],
      stateVersion: 2,
      batch: { rows: 100, bytes: 1024, maxWaitMs: 0 },
      retry: { maxAttempts: 3, factor: 1 },
      deadLetterBudget: { maxCount: 0, maxRatio: 0.5 },
      concurrency: 4,
      rateLimit: { sink: { perSecond: 0.5 } },
      sensitive: ["table"],
      schedule: { cron: "0 * * * *", timeZone: "Europe/Paris", misfire: "once" },
      mcp: { exposure: "operator", tool: true }
    } as const
    const p = Pipeline.make({ ...base, options })
    assert.deepStrictEqual(p.options, options)
  })
})

describe("Pipeline.decodeParams", () => {
  const p = Pipeline.make(base)

  it.effect("decodes valid params", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual(yield* Pipeline.decodeParams(p, { table: "orders", limit: 5 }), {
        table: "orders",
        limit: 5
      })
    })
  )

  it.effect("is strict: an unknown key is a ConfigError naming it", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Pipeline.decodeParams(p, { table: "orders", tabel: "SECRET-VALUE-1" }))
      assert.instanceOf(error, Config.ConfigError)
      assert.strictEqual(error.path, "tabel")
      assert.include(error.message, "tabel")
      assert.notInclude(error.message, "SECRET-VALUE-1")
      assert.include(error.component, "orders_sync")
      const nested = yield* Effect.flip(
        Pipeline.decodeParams(p, { table: "t", filter: { from: "a", to: "b", extra: "SECRET-VALUE-2" } })
      )
      assert.strictEqual(nested.path, "filter.extra")
      assert.notInclude(nested.message, "SECRET-VALUE-2")
    })
  )

  it.effect("a wrong value is named by its field and never quoted", () =>
    Effect.gen(function* () {
      const wrongType = yield* Effect.flip(Pipeline.decodeParams(p, { table: 987654321 }))
      assert.strictEqual(wrongType.path, "table")
      assert.notInclude(wrongType.message, "987654321")
      const wrongLiteral = yield* Effect.flip(Pipeline.decodeParams(p, { table: "t", mode: "DROP TABLE x" }))
      assert.strictEqual(wrongLiteral.path, "mode")
      assert.notInclude(wrongLiteral.message, "DROP TABLE")
      const missing = yield* Effect.flip(Pipeline.decodeParams(p, {}))
      assert.strictEqual(missing.path, "table")
      const notObject = yield* Effect.flip(Pipeline.decodeParams(p, "SECRET-STRING"))
      assert.notInclude(notObject.message, "SECRET-STRING")
    })
  )

  it("no refused string ever appears in the message (property)", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), fc.constantFrom("table", "mode", "limit", "other"), (s, key) => {
        const value = `⟪${s}⟫`
        const exit = Effect.runSyncExit(Pipeline.decodeParams(p, { table: "t", [key]: value }))
        if (key === "table") return exit._tag === "Success"
        assert.strictEqual(exit._tag, "Failure")
        const error = Effect.runSync(Effect.flip(Pipeline.decodeParams(p, { table: "t", [key]: value })))
        assert.strictEqual(error.path, key)
        assert.notInclude(error.message, "⟪")
        return true
      }),
      { numRuns: 200 }
    )
  })

  it.effect("params with a transformation decode to their type", () =>
    Effect.gen(function* () {
      const q = Pipeline.make({ ...base, params: Schema.Struct({ n: Schema.NumberFromString }) })
      assert.deepStrictEqual(yield* Pipeline.decodeParams(q, { n: "42" }), { n: 42 })
    })
  )
})

describe("Pipeline sources and sinks of params", () => {
  it("sourceOf and sinkOf call functions with the params", () => {
    const seen: Array<unknown> = []
    const p = Pipeline.make({
      ...base,
      source: (params: typeof Params.Type) => {
        seen.push(params)
        return source
      },
      sink: () => sink
    })
    assert.strictEqual(Pipeline.sourceOf(p, { table: "x" }), source)
    assert.strictEqual(Pipeline.sinkOf(p, { table: "x" }), sink)
    assert.deepStrictEqual(seen, [{ table: "x" }])
    const fixed = Pipeline.make(base)
    assert.strictEqual(Pipeline.sourceOf(fixed, { table: "x" }), source)
  })
})

describe("Pipeline.stateKey", () => {
  const p = Pipeline.make(base)

  it("is stable under key order, at any depth", () => {
    const a = Pipeline.stateKey(p, { table: "t", limit: 5, filter: { from: "a", to: "b" } })
    const b = Pipeline.stateKey(p, { filter: { to: "b", from: "a" }, limit: 5, table: "t" })
    assert.strictEqual(a, b)
    assert.match(a, /^orders_sync:[0-9a-f]{16}$/)
  })

  it("depends on every param by default", () => {
    const keys = new Set([
      Pipeline.stateKey(p, { table: "t" }),
      Pipeline.stateKey(p, { table: "u" }),
      Pipeline.stateKey(p, { table: "t", limit: 1 }),
      Pipeline.stateKey(p, { table: "t", limit: 2 }),
      Pipeline.stateKey(p, { table: "t", filter: { from: "a", to: "b" } })
    ])
    assert.strictEqual(keys.size, 5)
  })

  it("changes with stateVersion and with the pipeline name", () => {
    const v1 = Pipeline.stateKey(p, { table: "t" })
    const explicitV1 = Pipeline.stateKey(Pipeline.make({ ...base, options: { stateVersion: 1 } }), { table: "t" })
    const v2 = Pipeline.stateKey(Pipeline.make({ ...base, options: { stateVersion: 2 } }), { table: "t" })
    const renamed = Pipeline.stateKey(Pipeline.make({ ...base, name: "orders_sync2" }), { table: "t" })
    assert.strictEqual(v1, explicitV1)
    assert.notStrictEqual(v1, v2)
    assert.notStrictEqual(v1, renamed)
    assert.match(renamed, /^orders_sync2:/)
  })

  it("does not change with the version or description (state survives upgrades)", () => {
    const upgraded = Pipeline.make({ ...base, version: "1.1.0", description: "Copies orders, faster." })
    assert.strictEqual(Pipeline.stateKey(upgraded, { table: "t" }), Pipeline.stateKey(p, { table: "t" }))
  })

  it("depends only on stateKeyParams when given", () => {
    const q = Pipeline.make({ ...base, options: { stateKeyParams: ["table"] } })
    assert.strictEqual(
      Pipeline.stateKey(q, { table: "t", limit: 1, mode: "full" }),
      Pipeline.stateKey(q, { table: "t", limit: 99 })
    )
    assert.notStrictEqual(Pipeline.stateKey(q, { table: "t" }), Pipeline.stateKey(q, { table: "u" }))
    const none = Pipeline.make({ ...base, options: { stateKeyParams: [] } })
    assert.strictEqual(Pipeline.stateKey(none, { table: "t" }), Pipeline.stateKey(none, { table: "u" }))
  })

  it("includes bound params, whatever their key order", () => {
    const q = Pipeline.make({ ...base, options: { stateKeyParams: [] } })
    const a = Pipeline.stateKey(q, { table: "t" }, { org: "acme" })
    const b = Pipeline.stateKey(q, { table: "t" }, { org: "globex" })
    const none = Pipeline.stateKey(q, { table: "t" })
    assert.notStrictEqual(a, b)
    assert.notStrictEqual(a, none)
    assert.strictEqual(
      Pipeline.stateKey(q, { table: "t" }, { org: "acme", user: "u1" }),
      Pipeline.stateKey(q, { table: "t" }, { user: "u1", org: "acme" })
    )
  })

  it("a bound param cannot be confused with a normal param", () => {
    const q = Pipeline.make({ ...base, params: Schema.Struct({ org: Schema.optionalKey(Schema.String) }) })
    assert.notStrictEqual(Pipeline.stateKey(q, { org: "acme" }), Pipeline.stateKey(q, {}, { org: "acme" }))
  })

  it("hashes the encoded params (so a transformed param keys by its wire form)", () => {
    const q = Pipeline.make({ ...base, params: Schema.Struct({ n: Schema.NumberFromString }) })
    assert.strictEqual(Pipeline.stateKey(q, { n: 42 }), Pipeline.stateKey(q, { n: 42.0 }))
    assert.notStrictEqual(Pipeline.stateKey(q, { n: 42 }), Pipeline.stateKey(q, { n: 43 }))
    assert.deepStrictEqual(Pipeline.paramsToJson(q, { n: 42 }), { n: "42" })
  })
})

describe("Pipeline.paramsToJson", () => {
  it("sorts keys and masks sensitive fields when asked", () => {
    const p = Pipeline.make({ ...base, options: { sensitive: ["table"] } })
    const params = { table: "secret_table", limit: 3 }
    assert.deepStrictEqual(Object.keys(Pipeline.paramsToJson(p, params) as object), ["limit", "table"])
    assert.deepStrictEqual(Pipeline.paramsToJson(p, params), { limit: 3, table: "secret_table" })
    assert.deepStrictEqual(Pipeline.paramsToJson(p, params, { mask: true }), { limit: 3, table: "***" })
    assert.deepStrictEqual(Pipeline.paramsToJson(p, params, { only: ["limit"] }), { limit: 3 })
  })
})

describe("Pipeline.contentHash", () => {
  const p = Pipeline.make(base)

  it("is stable for the same definition", () => {
    assert.strictEqual(Pipeline.contentHash(p), Pipeline.contentHash(Pipeline.make(base)))
    assert.match(Pipeline.contentHash(p), /^[0-9a-f]{64}$/)
  })

  it("changes with the description", () => {
    const other = Pipeline.make({ ...base, description: "Copies orders to the warehouse!" })
    assert.notStrictEqual(Pipeline.contentHash(p), Pipeline.contentHash(other))
  })

  it("changes with the version, params, options, transforms and sink", () => {
    const hashes = [
      p,
      Pipeline.make({ ...base, version: "1.0.1" }),
      Pipeline.make({ ...base, params: Schema.Struct({ table: Schema.String }) }),
      Pipeline.make({ ...base, options: { batch: { rows: 10 } } }),
      Pipeline.make({ ...base, transforms: Transform.identity<{ id: number }>().pipe(Transform.filter(() => true)) }),
      Pipeline.make({ ...base, sink: { ...sink, disposition: Sink.replace } })
    ].map(Pipeline.contentHash)
    assert.strictEqual(new Set(hashes).size, hashes.length)
  })

  it("does not depend on the key order of options", () => {
    const a = Pipeline.make({ ...base, options: { batch: { rows: 10, bytes: 100 }, concurrency: 2 } })
    const b = Pipeline.make({ ...base, options: { concurrency: 2, batch: { bytes: 100, rows: 10 } } })
    assert.strictEqual(Pipeline.contentHash(a), Pipeline.contentHash(b))
  })
})

describe("PipelineSet", () => {
  const a = Pipeline.make({ ...base, name: "a" })
  const b = Pipeline.make({ ...base, name: "b" })

  it("collects pipelines by name", () => {
    const set = PipelineSet.make("warehouse", [a, b])
    assert.strictEqual(set.name, "warehouse")
    assert.strictEqual(set.get("a"), a)
    assert.strictEqual(set.get("b"), b)
    assert.isUndefined(set.get("c"))
    assert.deepStrictEqual(
      set.pipelines.map((p) => p.name),
      ["a", "b"]
    )
  })

  it("refuses two pipelines with one name, even with different versions", () => {
    const a2 = Pipeline.make({ ...base, name: "a", version: "2.0.0" })
    const error = configErrorOf(() => PipelineSet.make("warehouse", [a, b, a2]))
    assert.strictEqual(error.path, "a")
    assert.include(error.component, "warehouse")
    assert.include(error.message, "two pipelines share this name")
  })

  it("is not changed by mutating the input array", () => {
    const input = [a]
    const set = PipelineSet.make("s", input)
    input.push(b)
    assert.strictEqual(set.pipelines.length, 1)
  })
})

describe("Config", () => {
  const Options = Schema.Struct({
    path: Schema.String,
    delimiter: Schema.optionalKey(Schema.String.check(Schema.isMaxLength(1)))
  })

  it.effect("decode names the failing field and refuses unknown keys", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual(yield* Config.decode("csv", Options, { path: "x" }), { path: "x" })
      const missing = yield* Effect.flip(Config.decode("csv", Options, { pth: "x" }))
      assert.strictEqual(missing.component, "csv")
      assert.include(["path", "pth"], missing.path)
      const bad = yield* Effect.flip(Config.decode("csv", Options, { path: "x", delimiter: ";;SECRET" }))
      assert.strictEqual(bad.path, "delimiter")
      assert.strictEqual(bad.message, `Invalid csv config at delimiter: ${bad.detail}`)
      assert.notInclude(bad.message, "SECRET")
    })
  )

  it("decodeSync throws the same ConfigError", () => {
    assert.deepStrictEqual(Config.decodeSync("csv", Options, { path: "p", delimiter: "," }), {
      path: "p",
      delimiter: ","
    })
    const error = configErrorOf(() => Config.decodeSync("csv", Options, { path: "p", extra: true }))
    assert.strictEqual(error.path, "extra")
  })

  it("ConfigError message without a path, and JSON form", () => {
    const error = new Config.ConfigError({ component: "runner", path: "", detail: "needs a StateStore" })
    assert.strictEqual(error.message, "Invalid runner config: needs a StateStore")
    assert.deepStrictEqual(JSON.parse(JSON.stringify(error)), {
      _tag: "ConfigError",
      component: "runner",
      path: "",
      detail: "needs a StateStore"
    })
  })
})

describe("Redacted params", () => {
  const withSecret = Pipeline.make<
    { readonly id: number },
    { readonly id: number },
    { readonly region: string; readonly token: Redacted.Redacted<string> }
  >({
    name: "secretive",
    version: "1.0.0",
    description: "takes a token",
    params: Schema.Struct({ region: Schema.String, token: Schema.RedactedFromValue(Schema.String) }),
    source: () => Memory.source([{ id: 1 }]),
    sink: Memory.sink<{ readonly id: number }>().sink
  })

  it("are masked in run records even when not listed as sensitive, and never enter the state key", () => {
    const params = Schema.decodeUnknownSync(withSecret.params)({ region: "eu", token: "tok-123-secret" })
    const json = JSON.stringify(Pipeline.paramsToJson(withSecret, params, { mask: true }))
    assert.notInclude(json, "tok-123-secret")
    assert.include(json, "eu")
    const rotated = Schema.decodeUnknownSync(withSecret.params)({ region: "eu", token: "tok-456-rotated" })
    assert.strictEqual(Pipeline.stateKey(withSecret, rotated), Pipeline.stateKey(withSecret, params))
    const otherRegion = Schema.decodeUnknownSync(withSecret.params)({ region: "us", token: "tok-123-secret" })
    assert.notStrictEqual(Pipeline.stateKey(withSecret, otherRegion), Pipeline.stateKey(withSecret, params))
  })
})

describe("Pipeline mcp.bind", () => {
  const make = (bind: Record<string, string>) =>
    Pipeline.make({
      name: "bound",
      version: "1.0.0",
      description: "a pipeline with a param bound to a token claim",
      params: Schema.Struct({ tenant_id: Schema.String }),
      source: Memory.source([{ id: 1 }]),
      sink: Memory.sink().sink,
      options: { mcp: { bind } }
    })

  it("accepts a param bound to a claim", () => {
    assert.deepStrictEqual(make({ tenant_id: "claim:org" }).options.mcp?.bind, { tenant_id: "claim:org" })
  })

  it("refuses a bound name that is not a param, and a reference that is not a claim, naming the field", () => {
    assert.throws(() => make({ tenant: "claim:org" }), /options\.mcp\.bind\.tenant.*not a param.*tenant_id/)
    assert.throws(() => make({ tenant_id: "org" }), /options\.mcp\.bind\.tenant_id.*claim:<name>/)
  })
})
