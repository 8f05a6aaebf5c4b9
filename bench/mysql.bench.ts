// MySQL / MariaDB benchmark: N rows PG → MariaDB and MariaDB → PG, each through a data-mcp pipeline and through the
// raw drivers, in one run.
//
// Data: one source table per side with the same N rows — id bigint (primary key), name (20-30 chars), amount
// decimal(12,2), at timestamp with microseconds — built server-side (PG `generate_series`, MariaDB `seq_1_to_N`).
// Every path writes into a fresh target table made by the same DDL (UNLOGGED on PG), with the same columns and no
// secondary index, verified afterwards (count = N) and dropped. (Before, the data-mcp MariaDB → PG path let the sink
// create a logged table, against the raw path's unlogged one.)
//
// Paths (interleaved each round, in a rotated order, after an untimed warm-up on 50,000 rows):
//   pg→my raw        pg-cursor reads (batches of 5,000, pg-types objects) → mysql2 multi-row `INSERT … VALUES ?`
//   pg→my dm infile  PostgresSource → MysqlSink (append, transactional, `load: "infile"`: LOAD DATA LOCAL INFILE
//                    streamed from memory, each batch with its fenced checkpoint in one transaction)
//   pg→my dm insert  the same with `load: "insert"` (multi-row INSERTs sized to max_allowed_packet)
//   my→pg raw        mysql2 `query().stream()` → batches of 5,000 → COPY text (a simple encoder) → COPY FROM STDIN
//   my→pg dm         MysqlSource (streamed keyset read) → PostgresSink (append, COPY, transactional)
// Reported: median rows/s per path over rounds, ratios dm / raw per direction (pg→my for both load paths), and
// the peak RSS of each path alone (raw ones too), for 50,000 and for N rows: the median of BENCH_RSS_RUNS (default 3)
// fresh child processes each, running this file bundled by esbuild under plain node (no TypeScript loader, which
// alone adds about 80 MiB), reading `process.resourceUsage().maxRSS`.
//
// The sink's LOAD DATA path needs the server's local_infile: the bench runs `SET GLOBAL local_infile = 1` first.
//
// Env: BENCH_ROWS (default 1,000,000), BENCH_ROUNDS (default 3), BENCH_RSS=0 skips the RSS children,
// BENCH_RSS_RUNS (3), BENCH_RSS_ROWS (further sizes for the RSS children, e.g. "3000000"), BENCH_PATHS (a
// comma-separated subset of the paths), PG* and MYSQL_* (defaults: loopback servers).
//
// Why the peak is higher for 1M rows than for 50,000 although nothing is retained: V8 collects lazily. A 50,000-row
// run ends before the first full collection; a longer one lets the old generation grow to its next limit (a few
// times the live heap) and lets the buffers it is done with (COPY and LOAD DATA text, socket reads) pile up to
// V8's external-memory trigger. Both level off: 3M rows peak within a few MiB of 1M (BENCH_RSS_ROWS=3000000), and
// the raw-driver paths, measured the same way, grow alike.
//
//   npm run bench:mysql

import { execFileSync } from "node:child_process"
import { Readable } from "node:stream"
import { pipeline } from "node:stream/promises"
import { MysqlConfig, MysqlSink, MysqlSource } from "@data-mcp/connector-mysql"
import { PostgresSink, PostgresSource } from "@data-mcp/connector-postgres"
import { Pipeline as P, type Pipeline, Runner } from "@data-mcp/core"
import { Effect } from "effect"
import mysql from "mysql2/promise"
import pg from "pg"
import { from as copyFrom } from "pg-copy-streams"
import Cursor from "pg-cursor"
import { bundle } from "./bundle.ts"

const env = process.env
const N = Number(env.BENCH_ROWS ?? 1_000_000)
const ROUNDS = Number(env.BENCH_ROUNDS ?? 3)
const WARM = 50_000
const BATCH = 5_000
const RSS_RUNS = Number(env.BENCH_RSS_RUNS ?? 3)
// Sizes measured for peak RSS besides the warm-up's and N (e.g. "3000000", to show where the peak levels off).
const EXTRA_RSS_ROWS = (env.BENCH_RSS_ROWS ?? "")
  .split(",")
  .filter((x) => x.trim() !== "")
  .map(Number)
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

const pgToMyDm = (load: "infile" | "insert") => async (n: number, t: string) => {
  // The same table as the raw path (the sink's DDL for these columns is the same, made here for symmetry).
  await myTarget(t)
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
        ],
        load
      }) as never,
      options
    })
  )
  return countMy(t)
}

const myToPgDm = async (n: number, t: string) => {
  // The same UNLOGGED table as the raw path (the sink would otherwise create a logged one, WAL and all).
  await pgTarget(t)
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

const dropMy = (t: string) =>
  withMy(async (c) => {
    await c.query(`drop table if exists ${t}`)
    await c.query("delete from data_mcp_state where target = ?", [t])
  })

const paths = {
  "pg→my raw": { run: pgToMyRaw, drop: (t: string) => withMy((c) => c.query(`drop table if exists ${t}`)) },
  "pg→my dm infile": { run: pgToMyDm("infile"), drop: dropMy },
  "pg→my dm insert": { run: pgToMyDm("insert"), drop: dropMy },
  "my→pg raw": { run: myToPgRaw, drop: (t: string) => withPg((c) => c.query(`drop table if exists ${t}`)) },
  "my→pg dm": { run: myToPgDm, drop: (t: string) => withPg((c) => c.query(`drop table if exists ${t}`)) }
} as const
type PathName = keyof typeof paths

let counter = 0
/** Rows per second, and this process's CPU (user + system, all threads) per row in µs: less swayed by neighbours. */
const measure = async (name: PathName, n: number) => {
  const t = `dm_bench_tgt_${process.pid}_${++counter}_${tag}`
  const started = performance.now()
  const cpu = process.cpuUsage()
  const count = await paths[name].run(n, t)
  const seconds = (performance.now() - started) / 1000
  const used = process.cpuUsage(cpu)
  await paths[name].drop(t)
  if (count !== n) throw new Error(`${name}: ${count} rows written, expected ${n}`)
  return { rate: n / seconds, cpuMicrosPerRow: (used.user + used.system) / n }
}

/** What a child reports: its peak RSS, and the peaks of the heap and of memory outside it (sampled every 10 ms). */
interface Peaks {
  readonly rss: number
  readonly heapUsed: number
  readonly heapTotal: number
  readonly arrayBuffers: number
}

/** Peak RSS of one data-mcp path over `n` rows, in a fresh child process (the parent's source tables). */
const peakRss = async (name: PathName, n: number): Promise<Peaks> => {
  const out = execFileSync(
    process.execPath,
    [await bundle(import.meta.url, "mysql.bench"), "--rss", name, String(n), tag],
    {
      encoding: "utf8",
      env: process.env,
      stdio: ["ignore", "pipe", "inherit"]
    }
  )
  return JSON.parse(out.trim().split("\n").at(-1) ?? "{}") as Peaks
}

/** The run with the median peak RSS of `RSS_RUNS` fresh children (a single peak varies with GC timing). */
const medianPeakRss = async (name: PathName, n: number): Promise<Peaks> => {
  const runs: Array<Peaks> = []
  for (let i = 0; i < RSS_RUNS; i++) runs.push(await peakRss(name, n))
  return [...runs].sort((a, b) => a.rss - b.rss)[Math.floor(runs.length / 2)]!
}

const rssChild = async () => {
  const name = process.argv[rssArg + 1] as PathName
  const peaks = { heapUsed: 0, heapTotal: 0, arrayBuffers: 0 }
  const sampler = setInterval(() => {
    const m = process.memoryUsage()
    peaks.heapUsed = Math.max(peaks.heapUsed, m.heapUsed)
    peaks.heapTotal = Math.max(peaks.heapTotal, m.heapTotal)
    peaks.arrayBuffers = Math.max(peaks.arrayBuffers, m.arrayBuffers)
  }, 10)
  await measure(name, Number(process.argv[rssArg + 2]))
  clearInterval(sampler)
  console.log(JSON.stringify({ rss: process.resourceUsage().maxRSS * 1024, ...peaks }))
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
  // The sink's LOAD DATA LOCAL INFILE path needs it (MySQL 8 defaults it to OFF; MariaDB to ON).
  await withMy((c) => c.query("set global local_infile = 1"))
  await setup(WARM)
  await setup(N)
  const all = Object.keys(paths) as Array<PathName>
  const names = env.BENCH_PATHS === undefined ? all : (env.BENCH_PATHS.split(",") as Array<PathName>)
  try {
    for (const name of names) await measure(name, WARM)
    const samples: Record<string, Array<number>> = Object.fromEntries(names.map((p) => [p, []]))
    const cpu: Record<string, Array<number>> = Object.fromEntries(names.map((p) => [p, []]))
    for (let round = 0; round < ROUNDS; round++) {
      // Interleaved, in a rotated order each round, so drift on a shared machine spreads over all paths.
      const order = names.map((_, i) => names[(i + round) % names.length]!)
      for (const name of order) {
        const { rate, cpuMicrosPerRow } = await measure(name, N)
        samples[name]!.push(rate)
        cpu[name]!.push(cpuMicrosPerRow)
        console.log(
          `  round ${round + 1} ${name.padEnd(16)} ${Math.round(rate).toLocaleString("en")} rows/s, ${cpuMicrosPerRow.toFixed(2)} µs CPU/row`
        )
      }
    }
    const med = Object.fromEntries(names.map((p) => [p, median(samples[p]!)]))
    const medCpu = Object.fromEntries(names.map((p) => [p, median(cpu[p]!)]))
    console.log("median rows/s, Node CPU µs/row:")
    for (const p of names)
      console.log(`  ${p.padEnd(16)} ${Math.round(med[p]!).toLocaleString("en")}  ${medCpu[p]!.toFixed(2)} µs`)
    const ratio = (a: PathName, b: PathName) =>
      med[a] === undefined || med[b] === undefined ? undefined : med[a]! / med[b]!
    const ratios = {
      "pg→my infile": ratio("pg→my dm infile", "pg→my raw"),
      "pg→my insert": ratio("pg→my dm insert", "pg→my raw"),
      "infile/insert": ratio("pg→my dm infile", "pg→my dm insert"),
      "my→pg": ratio("my→pg dm", "my→pg raw")
    }
    console.log(
      `ratios: ${Object.entries(ratios)
        .filter(([, r]) => r !== undefined)
        .map(([k, r]) => `${k} ${r!.toFixed(2)}×`)
        .join(", ")}`
    )
    // Flat memory: each path alone in fresh processes, over the small and the full table (and any
    // further sizes in BENCH_RSS_ROWS, whose tables are made here).
    const flat: Record<string, Record<number, Peaks>> = {}
    if (env.BENCH_RSS !== "0") {
      for (const n of EXTRA_RSS_ROWS) await setup(n)
      try {
        for (const p of names) {
          const peaks: Record<number, Peaks> = {}
          for (const n of [WARM, N, ...EXTRA_RSS_ROWS]) peaks[n] = await medianPeakRss(p, n)
          flat[p] = peaks
          const line = Object.entries(peaks)
            .map(
              ([n, r]) =>
                `${Number(n).toLocaleString("en")} rows ${mib(r.rss)} (heap ${mib(r.heapTotal)}, buffers ${mib(r.arrayBuffers)})`
            )
            .join(", ")
          console.log(
            `peak RSS alone, ${p.padEnd(16)} ${line}; ${N.toLocaleString("en")} / ${WARM.toLocaleString("en")} rows = ${(peaks[N]!.rss / peaks[WARM]!.rss).toFixed(2)}× (median of ${RSS_RUNS})`
          )
        }
      } finally {
        for (const n of EXTRA_RSS_ROWS) await cleanup(n)
      }
    }
    console.log(
      JSON.stringify({
        bench: "mysql",
        rows: N,
        rounds: ROUNDS,
        median: med,
        cpuMicrosPerRow: medCpu,
        ratios,
        peakRss: flat,
        versions
      })
    )
  } finally {
    await cleanup(WARM)
    await cleanup(N)
  }
}

await (rssArg >= 0 ? rssChild() : main())
