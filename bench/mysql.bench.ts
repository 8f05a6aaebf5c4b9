// MySQL / MariaDB benchmark: N rows PG → MariaDB and MariaDB → PG, each through a data-mcp pipeline and through the
// raw drivers, in one run.
//
// Data: one source table per side with the same N rows — id bigint (primary key), name (20-30 chars), amount
// decimal(12,2), at timestamp with microseconds — built server-side (PG `generate_series`, MariaDB `seq_1_to_N`).
// Every path writes into a fresh target table with the same columns and no secondary index, verified afterwards
// (count = N) and dropped.
//
// Paths (interleaved each round, after an untimed warm-up on 50,000 rows):
//   pg→my raw   pg-cursor reads (batches of 5,000, pg-types objects) → mysql2 multi-row `INSERT … VALUES ?` per batch
//   pg→my dm    PostgresSource → MysqlSink (append, transactional: each batch with its fenced checkpoint)
//   my→pg raw   mysql2 `query().stream()` → batches of 5,000 → COPY text (a simple encoder) → one COPY FROM STDIN each
//   my→pg dm    MysqlSource (streamed keyset read) → PostgresSink (append, COPY, transactional)
// Reported: median rows/s per path over rounds, ratios dm / raw per direction, and the process's peak RSS sampled
// every 20 ms: after the warm-up, and after all rounds (flat memory: the second is not much above the first).
//
// Env: BENCH_ROWS (default 1,000,000), BENCH_ROUNDS (default 3), PG* and MYSQL_* (defaults: loopback servers).
//
//   npm run bench:mysql
import { execFileSync } from "node:child_process"
import { Readable } from "node:stream"
import { pipeline } from "node:stream/promises"
import { fileURLToPath } from "node:url"
import { MysqlConfig, MysqlSink, MysqlSource } from "@data-mcp/connector-mysql"
import { PostgresSink, PostgresSource } from "@data-mcp/connector-postgres"
import { Pipeline as P, type Pipeline, Runner } from "@data-mcp/core"
import { Effect } from "effect"
import mysql from "mysql2/promise"
import pg from "pg"
import { from as copyFrom } from "pg-copy-streams"
import Cursor from "pg-cursor"

const env = process.env
const N = Number(env.BENCH_ROWS ?? 1_000_000)
const ROUNDS = Number(env.BENCH_ROUNDS ?? 3)
const WARM = 50_000
const BATCH = 5_000
const rssArg = process.argv.indexOf("--rss")
// A child measuring one path's peak RSS reads the parent's tables (same tag).
const tag = rssArg >= 0 ? process.argv[rssArg + 3]! : `${process.pid}_${Date.now().toString(36)}`
const pgConnection = {
  host: env.PGHOST ?? "127.0.0.1",
  port: Number(env.PGPORT ?? 5432),
  user: env.PGUSER ?? "postgres",
  database: env.PGDATABASE ?? "test"
}
const myConfig = MysqlConfig.fromEnv()
const myConnection = {
  host: myConfig.host,
  port: myConfig.port ?? 3306,
  user: myConfig.user,
  database: myConfig.database,
  supportBigNumbers: true,
  bigNumberStrings: true,
  timezone: "Z" as const
}

const withPg = async <A>(f: (c: pg.Client) => Promise<A>): Promise<A> => {
  const c = new pg.Client(pgConnection)
  await c.connect()
  try {
    return await f(c)
  } finally {
    await c.end()
  }
}
const withMy = async <A>(f: (c: mysql.Connection) => Promise<A>): Promise<A> => {
  const c = await mysql.createConnection(myConnection)
  try {
    for (const s of MysqlConfig.sessionSettings) await c.query(s)
    return await f(c)
  } finally {
    await c.end()
  }
}

let peak = 0
const sampler = setInterval(() => {
  peak = Math.max(peak, process.memoryUsage().rss)
}, 20)

const srcName = (n: number) => `dm_bench_src_${n}_${tag}`

const setup = async (n: number) => {
  await withPg(async (c) => {
    await c.query(
      `create unlogged table ${srcName(n)} (id bigint primary key, name text not null, amount numeric(12,2) not null, at timestamptz not null)`
    )
    await c.query(
      `insert into ${srcName(n)} select g, 'name ' || g || ' ' || md5(g::text)::varchar(8), (g % 100000) / 100.0, timestamptz '2026-01-01' + g * interval '1.000001 second' from generate_series(1, $1) g`,
      [n]
    )
    // Statistics, so keyset pages use the primary key (as a real table would have them).
    await c.query(`vacuum analyze ${srcName(n)}`)
  })
  await withMy(async (c) => {
    await c.query(
      `create table ${srcName(n)} (id bigint primary key, name text not null, amount decimal(12,2) not null, at timestamp(6) not null)`
    )
    await c.query(
      `insert into ${srcName(n)} select seq, concat('name ', seq, ' ', left(md5(seq), 8)), (seq mod 100000) / 100, timestamp '2026-01-01 00:00:00' + interval seq second + interval seq microsecond from seq_1_to_${n}`
    )
  })
}

const cleanup = async (n: number) => {
  await withPg((c) => c.query(`drop table if exists ${srcName(n)}`))
  await withMy((c) => c.query(`drop table if exists ${srcName(n)}`))
}

const myTarget = (t: string) =>
  withMy((c) =>
    c.query(`create table ${t} (id bigint, name longtext, amount decimal(65,30), at timestamp(6) null default null)`)
  )
const pgTarget = (t: string) =>
  withPg((c) => c.query(`create unlogged table ${t} (id bigint, name text, amount numeric, at timestamptz)`))

const countMy = (t: string) =>
  withMy(async (c) => Number(((await c.query(`select count(*) as n from ${t}`))[0] as Array<{ n: string }>)[0]!.n))
const countPg = (t: string) => withPg(async (c) => Number((await c.query(`select count(*) as n from ${t}`)).rows[0].n))

const pgToMyRaw = async (n: number, t: string) => {
  await myTarget(t)
  await withPg(async (src) =>
    withMy(async (dst) => {
      const cursor = src.query(new Cursor(`select id, name, amount, at from ${srcName(n)} order by id`))
      for (;;) {
        const rows = await cursor.read(BATCH)
        if (rows.length === 0) break
        await dst.query(`insert into ${t} (id, name, amount, at) values ?`, [
          rows.map((r) => [r.id, r.name, r.amount, r.at])
        ])
      }
      await cursor.close()
    })
  )
  return countMy(t)
}

const escapeCopy = (v: unknown): string => {
  if (v === null) return "\\N"
  const s = v instanceof Date ? v.toISOString() : String(v)
  return s.replace(/[\\\t\n\r]/g, (c) => (c === "\\" ? "\\\\" : c === "\t" ? "\\t" : c === "\n" ? "\\n" : "\\r"))
}

const myToPgRaw = async (n: number, t: string) => {
  await pgTarget(t)
  await withMy(async (src) =>
    withPg(async (dst) => {
      const raw = (src as unknown as { readonly connection: import("mysql2").Connection }).connection
      const rows = raw
        .query(`select id, name, amount, at from ${srcName(n)} order by id`)
        .stream({ highWaterMark: BATCH })
      let batch: Array<string> = []
      const flush = async () => {
        if (batch.length === 0) return
        const text = batch.join("")
        batch = []
        await pipeline(Readable.from([text]), dst.query(copyFrom(`copy ${t} (id, name, amount, at) from stdin`)))
      }
      for await (const r of rows as AsyncIterable<{ id: string; name: string; amount: string; at: Date }>) {
        batch.push(`${escapeCopy(r.id)}\t${escapeCopy(r.name)}\t${escapeCopy(r.amount)}\t${escapeCopy(r.at)}\n`)
        if (batch.length >= BATCH) await flush()
      }
      await flush()
    })
  )
  return countPg(t)
}

const runPipeline = <A, B>(pipe: Pipeline.Pipeline<unknown, A, B>) =>
  Effect.runPromise(
    Runner.run(pipe, {}).pipe(Effect.scoped, Effect.provide(Runner.layerMemory({ purgeIntervalMs: 0 })))
  )

const options = { batch: { rows: BATCH, maxWaitMs: 1000 } }

const pgToMyDm = async (n: number, t: string) => {
  await runPipeline(
    P.make({
      name: `bench_pg_my_${t}`,
      version: "1.0.0",
      description: "PG → MariaDB",
      source: PostgresSource.make({
        connection: pgConnection,
        streams: [{ table: srcName(n), key: "id" }],
        batchSize: BATCH
      }),
      sink: MysqlSink.make({
        connection: myConfig,
        table: t,
        columns: [
          { name: "id", type: "bigint" },
          { name: "name", type: "text" },
          { name: "amount", type: "decimal" },
          { name: "at", type: "timestamp" }
        ]
      }) as never,
      options
    })
  )
  return countMy(t)
}

const myToPgDm = async (n: number, t: string) => {
  await runPipeline(
    P.make({
      name: `bench_my_pg_${t}`,
      version: "1.0.0",
      description: "MariaDB → PG",
      source: MysqlSource.make({ connection: myConfig, streams: [{ table: srcName(n), key: "id" }], batchSize: BATCH }),
      sink: PostgresSink.make({
        connection: pgConnection,
        table: t,
        columns: [
          { name: "id", type: "bigint" },
          { name: "name", type: "text" },
          { name: "amount", type: "numeric" },
          { name: "at", type: "timestamptz" }
        ]
      }) as never,
      options
    })
  )
  return countPg(t)
}

const paths = {
  "pg→my raw": { run: pgToMyRaw, drop: (t: string) => withMy((c) => c.query(`drop table if exists ${t}`)) },
  "pg→my dm": {
    run: pgToMyDm,
    drop: (t: string) =>
      withMy(async (c) => {
        await c.query(`drop table if exists ${t}`)
        await c.query("delete from data_mcp_state where target = ?", [t])
      })
  },
  "my→pg raw": { run: myToPgRaw, drop: (t: string) => withPg((c) => c.query(`drop table if exists ${t}`)) },
  "my→pg dm": { run: myToPgDm, drop: (t: string) => withPg((c) => c.query(`drop table if exists ${t}`)) }
} as const
type PathName = keyof typeof paths

let counter = 0
const measure = async (name: PathName, n: number) => {
  const t = `dm_bench_tgt_${process.pid}_${++counter}_${tag}`
  const started = performance.now()
  const count = await paths[name].run(n, t)
  const seconds = (performance.now() - started) / 1000
  await paths[name].drop(t)
  if (count !== n) throw new Error(`${name}: ${count} rows written, expected ${n}`)
  return n / seconds
}

/** Peak RSS of one data-mcp path over `n` rows, in a fresh child process (the parent's source tables). */
const rssOf = (name: PathName, n: number): number => {
  const out = execFileSync(
    process.execPath,
    [...process.execArgv, fileURLToPath(import.meta.url), "--rss", name, String(n), tag],
    {
      encoding: "utf8",
      env: process.env
    }
  )
  return Number(/RSS (\d+)/.exec(out)?.[1])
}

const rssChild = async () => {
  const name = process.argv[rssArg + 1] as PathName
  await measure(name, Number(process.argv[rssArg + 2]))
  clearInterval(sampler)
  console.log(`RSS ${peak}`)
}

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`

const main = async () => {
  const versions = {
    mariadb: await withMy(async (c) => ((await c.query("select version() as v"))[0] as Array<{ v: string }>)[0]!.v),
    postgres: await withPg(async (c) => (await c.query("show server_version")).rows[0].server_version as string)
  }
  console.log(
    `mysql benchmark — node ${process.version}, MariaDB ${versions.mariadb}, PostgreSQL ${versions.postgres}; ${N.toLocaleString("en")} rows × ${ROUNDS} rounds`
  )
  await setup(WARM)
  await setup(N)
  const names = Object.keys(paths) as Array<PathName>
  try {
    for (const name of names) await measure(name, WARM)
    const warmPeak = peak
    const samples: Record<string, Array<number>> = Object.fromEntries(names.map((p) => [p, []]))
    for (let round = 0; round < ROUNDS; round++) {
      // Interleaved, in a rotated order each round, so drift on a shared machine spreads over all paths.
      const order = names.map((_, i) => names[(i + round) % names.length]!)
      for (const name of order) {
        const rate = await measure(name, N)
        samples[name]!.push(rate)
        console.log(`  round ${round + 1} ${name.padEnd(10)} ${Math.round(rate).toLocaleString("en")} rows/s`)
      }
    }
    const med = Object.fromEntries(names.map((p) => [p, median(samples[p]!)]))
    console.log("median rows/s:")
    for (const p of names) console.log(`  ${p.padEnd(10)} ${Math.round(med[p]!).toLocaleString("en")}`)
    const ratios = {
      "pg→my": med["pg→my dm"]! / med["pg→my raw"]!,
      "my→pg": med["my→pg dm"]! / med["my→pg raw"]!
    }
    console.log(`ratio dm/raw: pg→my ${ratios["pg→my"].toFixed(2)}×, my→pg ${ratios["my→pg"].toFixed(2)}×`)
    console.log(
      `peak RSS: ${mib(warmPeak)} after the ${WARM.toLocaleString("en")}-row warm-up, ${mib(peak)} after ${ROUNDS} rounds of ${N.toLocaleString("en")} rows`
    )
    // Flat memory: each data-mcp path alone in a fresh process, over the small and the full table.
    const flat = Object.fromEntries(
      (["pg→my dm", "my→pg dm"] as const).map((p) => [p, { [WARM]: rssOf(p, WARM), [N]: rssOf(p, N) }])
    )
    for (const [p, r] of Object.entries(flat))
      console.log(
        `peak RSS alone, ${p}: ${mib(r[WARM]!)} for ${WARM.toLocaleString("en")} rows, ${mib(r[N]!)} for ${N.toLocaleString("en")} rows`
      )
    console.log(
      JSON.stringify({
        bench: "mysql",
        rows: N,
        rounds: ROUNDS,
        median: med,
        ratios,
        peakRss: { warmUp: warmPeak, all: peak, alone: flat },
        versions
      })
    )
  } finally {
    await cleanup(WARM)
    await cleanup(N)
    clearInterval(sampler)
  }
}

await (rssArg >= 0 ? rssChild() : main())
