// Fault tests against the real MariaDB/MySQL (MYSQL_HOST…, default root@127.0.0.1:3306): a MariaDB → MariaDB
// pipeline (MysqlSource → map → transactional MysqlSink append) whose source connection (of a plain and of a
// chunked read), then sink transaction connection, is killed mid-run with `KILL <id>`: the run retries and the target holds exactly the source's rows
// (count, distinct ids, checksum). And a failing run with a password that must never show it.
// With CI=true the suite must run; otherwise an unreachable server skips it with the reason printed.
import { randomBytes } from "node:crypto"
import { Pipeline, Runner, RunStore, Transform } from "@data-mcp/core"
import { FaultInjection } from "@data-mcp/core/testing"
import { assert, beforeAll, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Logger, Redacted } from "effect"
import * as MysqlSink from "../src/MysqlSink.ts"
import * as MysqlSource from "../src/MysqlSource.ts"
import * as Db from "./utils.ts"

const db = await Db.database("fault", "dm_faults")

type Row = { readonly id: bigint; readonly name: string }

const COLUMNS = [
  { name: "id", type: "bigint" },
  { name: "name", type: "text" }
] as const

/** Creates `table` with `n` rows: bigint ids, unicode text. */
const createSource = (table: string, n: number) =>
  Db.withConnection(async (c) => {
    await c.query(`create table \`${table}\` (id bigint primary key, name text not null)`)
    for (let from = 1; from <= n; from += 5_000) {
      const rows = Array.from({ length: Math.min(5_000, n - from + 1) }, (_, i) => [
        from + i,
        `näme ${from + i} 🎉 ${String((from + i) * 7919).repeat(120)}`
      ])
      await c.query(`insert into \`${table}\` (id, name) values ?`, [rows])
    }
  }, db.name)

/** count, distinct ids, and an order-independent checksum of a table. */
const fingerprint = (table: string) =>
  Effect.promise(() =>
    Db.withConnection(async (c) => {
      const [rows] = await c.query(
        `select cast(count(*) as char) as n, cast(count(distinct id) as char) as ids, cast(sum(crc32(concat(id, ':', name))) as char) as checksum from \`${table}\``
      )
      return (rows as Array<{ n: string; ids: string; checksum: string | null }>)[0]!
    }, db.name)
  )

const countOf = (table: string) =>
  Effect.promise(() =>
    Db.withConnection(async (c) => {
      try {
        const [rows] = await c.query(`select count(*) as n from \`${table}\``)
        return Number((rows as Array<{ n: string }>)[0]!.n)
      } catch {
        return 0
      }
    }, db.name)
  )

const pipelineOf = (options: {
  readonly name: string
  readonly source: string
  readonly target: string
  readonly slowMs?: number
  /** Read the source as a chunked snapshot (3 readers). */
  readonly chunks?: boolean
}) => {
  const source = MysqlSource.make({
    connection: { ...db.config, poolSize: 5 },
    streams: [
      options.chunks === true
        ? { table: options.source, key: "id", chunks: { rows: 2_500, concurrency: 3 } }
        : { table: options.source, key: "id" }
    ],
    batchSize: 500
  })
  const sink = MysqlSink.make({ connection: db.config, table: options.target, columns: COLUMNS, transactional: true })
  return Pipeline.make<MysqlSource.Row, Row>({
    name: options.name,
    version: "1.0.0",
    description: "MariaDB to MariaDB through faults",
    source,
    transforms: Transform.identity<MysqlSource.Row>().pipe(
      Transform.map((r): Row => ({ id: r.id as bigint, name: r.name as string }))
    ),
    sink: options.slowMs === undefined ? sink : FaultInjection.slowSink(sink, options.slowMs),
    options: {
      batch: { rows: 500, maxWaitMs: 20 },
      retry: { initialDelayMs: 5, maxDelayMs: 50, maxAttempts: 8 },
      deadLetterBudget: { maxCount: 0 }
    }
  })
}

/**
 * Kills one connection of this file's database with `KILL <id>`, from a separate connection, polling until one
 * shows the statement (or, for a chunk reader, holds a read-only snapshot transaction): the source's streamed select (large rows keep the server sending while backpressure holds
 * the client), or the sink's `SELECT … FOR UPDATE` of its state row, which the killer first blocks by locking that
 * row itself (and lets go after the kill).
 */
const killOne = (which: "source" | "reader" | "sink", target: string) =>
  Effect.promise(() =>
    Db.withConnection(async (c) => {
      const blocker = which === "sink" ? await Db.openConnection(db.name) : undefined
      try {
        if (blocker !== undefined) {
          await blocker.query("start transaction")
          await blocker.query("select * from data_mcp_state where target = ? for update", [target])
        }
        const pattern = which === "source" ? "select t.%order by%" : "select token, seq, run_id from %for update"
        for (let attempt = 0; attempt < 2_000; attempt++) {
          const [rows] =
            which === "reader"
              ? // A chunk reader: a connection in a read-only snapshot transaction, reading or idle between ranges.
                await c.query(
                  `select p.ID as id, concat(p.COMMAND, ': ', coalesce(left(p.INFO, 30), 'between ranges')) as doing
                    from information_schema.PROCESSLIST p join information_schema.INNODB_TRX t on t.trx_mysql_thread_id = p.ID
                    where p.DB = ? and p.ID <> connection_id() and t.trx_is_read_only = 1`,
                  [db.name]
                )
              : await c.query(
                  `select ID as id, left(INFO, 40) as doing from information_schema.PROCESSLIST
                    where DB = ? and ID <> connection_id() and COMMAND = 'Query' and INFO like ?`,
                  [db.name, pattern]
                )
          const found = (rows as Array<{ id: number | string; doing: string }>)[0]
          if (found !== undefined) {
            await c.query(`kill ${Number(found.id)}`)
            return [found]
          }
          await new Promise((resolve) => setTimeout(resolve, 2))
        }
        return []
      } finally {
        await blocker?.query("rollback").catch(() => undefined)
        await blocker?.end().catch(() => undefined)
      }
    })
  )

const runnerLayer = () => Runner.layerMemory({ purgeIntervalMs: 0 })

describe.skipIf(db.unreachable !== undefined)("MySQL faults", () => {
  beforeAll(() => createSource("src_20k", 20_000))

  const connectionKill = (which: "source" | "reader" | "sink", chunks = false) =>
    Effect.gen(function* () {
      const target = `t_kill_${which}${chunks ? "_chunks" : ""}`
      const pipeline = pipelineOf({
        name: `faults_kill_${which}${chunks ? "_chunks" : ""}_${db.name}`,
        source: "src_20k",
        target,
        slowMs: 15,
        chunks
      })
      const handle = yield* Runner.start(pipeline, {})
      const killed = yield* Effect.forkChild(
        Effect.gen(function* () {
          // Mid-run: once the sink has committed a few batches.
          while ((yield* countOf(target)) < 2_000) yield* Effect.sleep(10)
          const all: Array<{ id: number | string; doing: string }> = []
          for (let round = 0; round < 5; round++) {
            all.push(...(yield* killOne(which, target)))
            yield* Effect.sleep(150)
            const events = yield* RunStore.RunStore.use((s) => s.events(handle.id)).pipe(Effect.orElseSucceed(() => []))
            if (events.some((e) => e._tag === "RetryScheduled")) break
          }
          return all
        }),
        { startImmediately: true }
      )
      const summary = yield* handle.result
      const victims = yield* Fiber.join(killed)
      const retries = (yield* RunStore.RunStore.use((s) => s.events(handle.id))).filter(
        (e) => e._tag === "RetryScheduled"
      )
      console.log(
        `KILL ${which}${chunks ? " (chunked)" : ""}: ${victims.map((v) => `${v.id} (${v.doing}…)`).join(", ")}; ${retries.length} retries`
      )
      assert.strictEqual(summary.status, "succeeded")
      assert.isAbove(victims.length, 0, "a connection was killed")
      assert.isAbove(retries.length, 0, "the run retried")
      const [expected, actual] = [yield* fingerprint("src_20k"), yield* fingerprint(target)]
      assert.deepStrictEqual(actual, expected)
      assert.strictEqual(actual.n, "20000")
      assert.strictEqual(actual.ids, "20000")
    }).pipe(Effect.provide(runnerLayer()))

  it.live(
    "the source's connection killed mid-read: the run retries and the target holds exactly the source's rows",
    () => connectionKill("source")
  )

  it.live(
    "a chunk reader's connection killed mid-run: the run retries from its checkpoint and the target holds exactly the source's rows",
    () => connectionKill("reader", true)
  )

  it.live(
    "the sink's transaction connection killed mid-run: the run retries and the target holds exactly the source's rows",
    () => connectionKill("sink")
  )

  it.live("a failing run never shows the password", () =>
    Effect.gen(function* () {
      const PASSWORD = `pw-${randomBytes(12).toString("hex")}`
      const config = {
        ...db.config,
        user: `dm_nobody_${randomBytes(3).toString("hex")}`,
        password: Redacted.make(PASSWORD)
      }
      const logged: Array<string> = []
      const capture = Logger.layer([
        Logger.make((entry) => {
          logged.push(JSON.stringify(entry.message, (_, v) => (typeof v === "bigint" ? `${v}` : v)))
          logged.push(String(entry.cause))
        })
      ])
      const name = `faults_secrets_${db.name}`
      const pipeline = Pipeline.make<MysqlSource.Row, MysqlSource.Row>({
        name,
        version: "1.0.0",
        description: "a failing pipeline with a password",
        source: MysqlSource.make({ connection: config, streams: [{ table: "src_20k", key: "id" }] }),
        sink: MysqlSink.make({ connection: config, table: "t_secret", columns: COLUMNS }) as never,
        options: { batch: { rows: 100 }, retry: { initialDelayMs: 1, maxDelayMs: 5, maxAttempts: 2 } }
      })
      const exit = yield* Effect.exit(Runner.run(pipeline, {}).pipe(Effect.provide(capture)))
      assert.isTrue(Exit.isFailure(exit), "the run fails: the user does not exist")
      const cause = Exit.isFailure(exit) ? exit.cause : undefined
      const error = cause === undefined ? undefined : Cause.squash(cause)
      const runs = yield* RunStore.RunStore.use((s) => s.list({ pipeline: name }))
      const record = runs.runs[0]
      assert.isDefined(record, "the run is recorded")
      const events = yield* RunStore.RunStore.use((s) => s.events(record!.id))
      const json = (v: unknown) => JSON.stringify(v, (_, x) => (typeof x === "bigint" ? `${x}` : x))
      const text = [
        String(cause),
        cause === undefined ? "" : Cause.pretty(cause),
        error instanceof Error ? `${error.message}\n${String(error)}\n${error.stack}` : String(error),
        json(error),
        json(runs),
        json(events),
        logged.join("\n")
      ].join("\n")
      assert.isAbove(logged.length, 0, "the failed run logged something")
      assert.include(text, "AuthenticationError", "the error says what to fix")
      assert.notInclude(text, PASSWORD)
    }).pipe(Effect.provide(runnerLayer()))
  )
})
