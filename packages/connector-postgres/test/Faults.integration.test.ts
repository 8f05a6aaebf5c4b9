// Fault tests against the real PostgreSQL (PGHOST/PGPORT/PGUSER/PGDATABASE, default 127.0.0.1:5432 postgres/test):
// a PG → PG pipeline (PostgresSource → map → transactional PostgresSink append) whose source backend, then sink
// transaction backend, is killed mid-run with pg_terminate_backend; the runner's fiber cancelled at seeded random
// points over 50 iterations and re-run; and a failing run with a password (and a connection string) that must
// never show it. With CI=true the suite must run; otherwise an unreachable server skips it with the reason.
import { randomBytes } from "node:crypto"
import { Pipeline, Runner, RunStore, Transform } from "@data-mcp/core"
import { FaultInjection } from "@data-mcp/core/testing"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Logger, Redacted } from "effect"
import pg from "pg"
import * as Pool from "../src/internal/pool.ts"
import * as PostgresSink from "../src/PostgresSink.ts"
import * as PostgresSource from "../src/PostgresSource.ts"
import { sql } from "../src/Sql.ts"
import * as Db from "./utils.ts"

const env = Pool.configFromEnv()
const host = env.host ?? "127.0.0.1"
const port = env.port ?? 5432
const user = env.user ?? "postgres"
const database = env.database ?? "test"

const exec = <A, E>(f: (pool: pg.Pool) => Effect.Effect<A, E>) => Effect.scoped(Effect.flatMap(Pool.pool(env), f))

const unreachable = await Db.unreachable("fault")

const suffix = randomBytes(4).toString("hex")
const schema = `dm_faults_${suffix}`
const SOURCE_APP = `dm_faults_src_${suffix}`
const SINK_APP = `dm_faults_snk_${suffix}`

/** A pipeline's connection: host fields, the given application_name. */
const connection = (applicationName: string) => ({
  host,
  port,
  user,
  database,
  connectTimeoutMs: 5_000,
  applicationName
})

type Row = { readonly id: bigint; readonly name: string }

const COLUMNS = [
  { name: "id", type: "bigint" },
  { name: "name", type: "text" }
] as const

/** Creates `schema.table` with `n` rows: bigint ids, unicode text. */
const createSource = (table: string, n: number) =>
  exec((p) =>
    Effect.gen(function* () {
      const t = sql.ident([schema, table])
      yield* Pool.query(p, sql`create table ${t} (id bigint primary key, name text not null)`, "setup")
      yield* Pool.query(
        p,
        sql`insert into ${t} select g, 'näme ' || g || ' ' || md5(g::text) from generate_series(1, ${n}) g`,
        "setup"
      )
    })
  )

/** count, distinct ids, and an order-independent checksum of a table. */
const fingerprint = (table: string) =>
  exec((p) =>
    Effect.map(
      Pool.query<{ n: string; ids: string; checksum: string | null }>(
        p,
        sql`select count(*)::text as n, count(distinct id)::text as ids, sum(hashtext(id::text || name)::bigint)::text as checksum from ${sql.ident([schema, table])}`,
        "check"
      ),
      (r) => r.rows[0]!
    )
  )

const countOf = (table: string) =>
  Effect.promise(async () => {
    const client = new pg.Client({ host, port, user, database })
    await client.connect()
    try {
      const r = await client.query<{ n: string }>(
        `select count(*)::text as n from ${pg.escapeIdentifier(schema)}.${pg.escapeIdentifier(table)}`
      )
      return Number(r.rows[0]!.n)
    } catch {
      return 0
    } finally {
      await client.end()
    }
  })

const pipelineOf = (options: {
  readonly name: string
  readonly source: string
  readonly target: string
  readonly batchRows: number
  readonly slowMs?: number
}) => {
  const source = PostgresSource.make({
    connection: connection(SOURCE_APP),
    streams: [{ table: [schema, options.source], key: "id" }],
    batchSize: options.batchRows
  })
  const sink = PostgresSink.make({
    connection: connection(SINK_APP),
    table: [schema, options.target],
    columns: COLUMNS,
    transactional: true
  })
  return Pipeline.make<PostgresSource.Row, Row>({
    name: options.name,
    version: "1.0.0",
    description: "PG to PG through faults",
    source,
    transforms: Transform.identity<PostgresSource.Row>().pipe(
      Transform.map((r): Row => ({ id: r.id as bigint, name: r.name as string }))
    ),
    sink: options.slowMs === undefined ? sink : FaultInjection.slowSink(sink, options.slowMs),
    options: {
      batch: { rows: options.batchRows, maxWaitMs: 20 },
      retry: { initialDelayMs: 5, maxDelayMs: 50, maxAttempts: 8 },
      deadLetterBudget: { maxCount: 0 }
    }
  })
}

/** Kills, from a separate client, one backend of `applicationName` running a statement inside a transaction. */
const killOne = (applicationName: string) =>
  Effect.promise(async () => {
    const client = new pg.Client({ host, port, user, database, application_name: `dm_faults_killer_${suffix}` })
    await client.connect()
    try {
      for (let attempt = 0; attempt < 20_000; attempt++) {
        const r = await client.query<{ pid: number; query: string; killed: boolean }>(
          `select pid, query, pg_terminate_backend(pid) as killed from pg_stat_activity
            where application_name = $1 and pid <> pg_backend_pid() and xact_start is not null and state = 'active'`,
          [applicationName]
        )
        const killed = r.rows.filter((row) => row.killed)
        if (killed.length > 0) return killed
        await new Promise((resolve) => setTimeout(resolve, 1))
      }
      return []
    } finally {
      await client.end()
    }
  })

/**
 * Once `ready` holds, kills a backend of `applicationName` (see `killOne`); if the run shows no retry soon after
 * (the statement ended between the look-up and the kill), kills again, at most 5 times. Returns what it killed.
 */
const killer = <R>(options: {
  readonly applicationName: string
  readonly ready: () => Effect.Effect<boolean, never, R>
  readonly retried: () => Effect.Effect<boolean, never, R>
}) =>
  Effect.gen(function* () {
    while (!(yield* options.ready())) yield* Effect.sleep(10)
    // A kill that lands on a connection idle in the pool is absorbed by the pool (nothing to retry): keep killing,
    // briefly apart, until the run has retried a failed query (or a generous number of tries is spent).
    const all: Array<{ pid: number; query: string }> = []
    for (let round = 0; round < 60; round++) {
      all.push(...(yield* killOne(options.applicationName)))
      yield* Effect.sleep(50)
      if (yield* options.retried()) break
    }
    return all
  })

// The connector listens for pg's "error" events on its pools and clients (src/internal/pool.ts): a killed backend
// must surface as a retryable failure of the query in flight, never as an uncaught exception. No shim here, so
// vitest fails these tests on any unhandled error.

/** Cancellation points are drawn in [0, MAX_CANCEL_DELAY_MS): a whole 2,000-row run takes about that long. */
const MAX_CANCEL_DELAY_MS = 250

const runnerLayer = () => Runner.layerMemory({ purgeIntervalMs: 0 })

/** A seeded PRNG (mulberry32). */
const prng = (seed: number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const describeIf = unreachable === undefined ? describe : describe.skip

describeIf("PostgreSQL faults", () => {
  beforeAll(() =>
    Effect.runPromise(
      Effect.gen(function* () {
        yield* exec((p) => Pool.query(p, sql`create schema ${sql.ident(schema)}`, "setup"))
        yield* createSource("src_20k", 20_000)
        yield* createSource("src_2k", 2_000)
      })
    )
  )
  afterAll(() =>
    Effect.runPromise(exec((p) => Pool.query(p, sql`drop schema if exists ${sql.ident(schema)} cascade`, "cleanup")))
  )

  const backendKill = (which: "source" | "sink") =>
    Effect.gen(function* () {
      const target = `t_kill_${which}`
      const pipeline = pipelineOf({
        name: `faults_kill_${which}_${suffix}`,
        source: "src_20k",
        target,
        batchRows: 500,
        slowMs: 15
      })
      const started = Date.now()
      const handle = yield* Runner.start(pipeline, {})
      const killed = yield* Effect.forkChild(
        killer({
          applicationName: which === "source" ? SOURCE_APP : SINK_APP,
          // Mid-run: once the sink has committed a few batches.
          ready: () => Effect.map(countOf(target), (n) => n >= 2_000),
          retried: () =>
            Effect.map(
              RunStore.RunStore.use((s) => s.events(handle.id)),
              (events) => events.some((e) => e._tag === "RetryScheduled")
            ).pipe(Effect.orElseSucceed(() => false))
        }),
        { startImmediately: true }
      )
      const summary = yield* handle.result
      const pids = yield* Fiber.join(killed)
      const events = yield* RunStore.RunStore.use((s) => s.events(handle.id))
      const retries = events.filter((e) => e._tag === "RetryScheduled")
      console.log(
        `kill ${which}: killed ${pids.map((k) => `${k.pid} (${k.query.slice(0, 40)}…)`).join(", ")}; ${retries.length} retries; ${Date.now() - started} ms`
      )
      assert.strictEqual(summary.status, "succeeded")
      assert.isAbove(pids.length, 0, "a backend was killed")
      assert.isAbove(retries.length, 0, "the run retried")
      const [expected, actual] = [yield* fingerprint("src_20k"), yield* fingerprint(target)]
      assert.deepStrictEqual(actual, expected)
      assert.strictEqual(actual.n, "20000")
      assert.strictEqual(actual.ids, "20000")
    }).pipe(Effect.provide(runnerLayer()))

  it.live(
    "the source's backend killed mid-read: the run retries and the target holds exactly the source's rows",
    () => backendKill("source"),
    { timeout: 60_000 }
  )

  it.live(
    "the sink's transaction backend killed mid-run: the run retries and the target holds exactly the source's rows",
    () => backendKill("sink"),
    { timeout: 60_000 }
  )
  it.live(
    "the runner's fiber cancelled at 50 seeded random points, then re-run: every source row exactly once",
    () =>
      Effect.gen(function* () {
        const seed = Number(process.env.FAULTS_SEED ?? Math.floor(Math.random() * 2 ** 31))
        console.log(`fiber kills: seed ${seed} (FAULTS_SEED=${seed} replays it)`)
        const random = prng(seed)
        const expected = yield* fingerprint("src_2k")
        const started = Date.now()
        const outcomes: Record<string, number> = {}
        for (let i = 0; i < 50; i++) {
          const target = `t_fiber_${i}`
          const pipeline = pipelineOf({ name: `faults_fiber_${i}_${suffix}`, source: "src_2k", target, batchRows: 100 })
          const delayMs = Math.floor(random() * MAX_CANCEL_DELAY_MS)
          const handle = yield* Runner.start(pipeline, {})
          yield* Effect.sleep(delayMs)
          const cancelled = yield* handle.cancel
          outcomes[cancelled.status] = (outcomes[cancelled.status] ?? 0) + 1
          let runs = 1
          let status = cancelled.status
          while (status !== "succeeded" && runs < 10) {
            status = (yield* Runner.run(pipeline, {})).status
            runs++
          }
          assert.strictEqual(status, "succeeded", `iteration ${i} (seed ${seed}, cancelled after ${delayMs} ms)`)
          assert.deepStrictEqual(
            yield* fingerprint(target),
            expected,
            `iteration ${i} (seed ${seed}, cancelled after ${delayMs} ms): the target holds each row once`
          )
        }
        console.log(
          `fiber kills: 50 iterations in ${Date.now() - started} ms; first runs ended ${JSON.stringify(outcomes)}`
        )
      }).pipe(Effect.provide(runnerLayer())),
    { timeout: 120_000 }
  )

  const secretsCase = (variant: "fields" | "connectionString") =>
    Effect.gen(function* () {
      const PASSWORD = `pw-${randomBytes(12).toString("hex")}`
      const secret = Redacted.make(PASSWORD)
      const config =
        variant === "fields"
          ? { host, port, user, database, password: secret, connectTimeoutMs: 5_000 }
          : {
              connectionString: Redacted.make(
                `postgres://${encodeURIComponent(user)}:${PASSWORD}@${host}:${port}/${encodeURIComponent(database)}`
              ),
              connectTimeoutMs: 5_000
            }
      const logged: Array<string> = []
      const capture = Logger.layer([
        Logger.make((entry) => {
          logged.push(JSON.stringify(entry.message, (_, v) => (typeof v === "bigint" ? `${v}` : v)))
          logged.push(String(entry.cause))
        })
      ])
      const name = `faults_secrets_${variant.toLowerCase()}_${suffix}`
      const missing = `dm_faults_missing_${suffix}`
      const pipeline = Pipeline.make<PostgresSource.Row, PostgresSource.Row>({
        name,
        version: "1.0.0",
        description: "a failing pipeline with a password",
        source: PostgresSource.make({ connection: config, streams: [{ table: [schema, "src_2k"], key: "id" }] }),
        sink: PostgresSink.make({ connection: config, table: [missing, "t"], columns: COLUMNS }) as never,
        options: { batch: { rows: 100 }, retry: { initialDelayMs: 1, maxDelayMs: 5, maxAttempts: 2 } }
      })
      const exit = yield* Effect.exit(Runner.run(pipeline, {}).pipe(Effect.provide(capture)))
      assert.isTrue(Exit.isFailure(exit), "the run fails: the sink's schema does not exist")
      const cause = Exit.isFailure(exit) ? exit.cause : undefined
      const error = cause === undefined ? undefined : Cause.squash(cause)
      const runs = yield* RunStore.RunStore.use((s) => s.list({ pipeline: name }))
      const record = runs.runs[0]
      assert.isDefined(record, "the run is recorded")
      const events = yield* RunStore.RunStore.use((s) => s.events(record!.id))
      const stored = yield* RunStore.RunStore.use((s) => s.get(record!.id))
      const json = (v: unknown) => JSON.stringify(v, (_, x) => (typeof x === "bigint" ? `${x}` : x))
      const text = [
        String(cause),
        cause === undefined ? "" : Cause.pretty(cause),
        error instanceof Error ? `${error.message}\n${String(error)}\n${error.stack}` : String(error),
        json(error),
        json(runs),
        json(stored),
        json(events),
        logged.join("\n")
      ].join("\n")
      assert.isAbove(logged.length, 0, "the failed run logged something")
      assert.isAbove(events.length, 0, "the failed run has events")
      assert.include(text, missing, "the error names what to fix")
      assert.notInclude(text, PASSWORD)
    }).pipe(Effect.provide(runnerLayer()))

  it.live("a failing run never shows the password (host fields)", () => secretsCase("fields"), { timeout: 30_000 })
  it.live("a failing run never shows the password (connection string)", () => secretsCase("connectionString"), {
    timeout: 30_000
  })
})
