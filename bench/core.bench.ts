// Core benchmark (`npm run bench`).
//
// 1. Throughput: an in-memory source → 3 transforms (map, filter, map) → a counting sink, through the runner,
//    against a hand-written `for` loop over the same records doing the same work, in the same process and run:
//    the loop applies the same three functions and hands its output records to the same counting sink in
//    batches of 5,000, as a hand-written pipeline must (a loop that never materialises its outputs lets V8
//    erase the allocations, which no pipeline can do; we report that figure too, as "fused loop").
//    Reported as records/s for both and their ratio (target ≥ 0.5×).
// 2. Memory: peak RSS of a run of 1M and of 10M generated records, each in a fresh process, and their ratio
//    (target: 10M within 1.2× of 1M — backpressure keeps memory flat). Both processes run with the same old-space
//    cap (128 MiB: a tenth of what holding 10M records would need, so a leak would crash the run, not pass it).
//    Without a cap V8 raises its old-space limit after a few seconds of allocation, whatever is retained, so the
//    uncapped figures follow V8's heap sizing rather than the runner; they are printed too.
import { execFileSync } from "node:child_process"
import { fileURLToPath } from "node:url"
import { Memory, Pipeline, Runner, Sink, Transform } from "@data-mcp/core"
import { Effect } from "effect"

interface Row {
  readonly id: number
  readonly name: string
  readonly amount: number
}

interface Out {
  readonly id: number
  readonly label: string
  readonly cents: number
}

// The same work for both sides.
const enrich = (r: Row): Row => ({ id: r.id, name: r.name, amount: r.amount * 1.2 })
const keep = (r: Row): boolean => r.amount >= 10
const shape = (r: Row): Out => ({
  id: r.id,
  label: r.name.toUpperCase(),
  cents: Math.round(r.amount * 100)
})

const makeRow = (i: number): Row => ({ id: i, name: `user-${i % 997}`, amount: (i % 1000) / 10 })

function* generate(n: number): Generator<Row> {
  for (let i = 0; i < n; i++) yield makeRow(i)
}

/** The counting sink's work, shared by the runner's sink and the hand-written loop. */
const makeCounter = () => {
  let count = 0
  let checksum = 0
  const consume = (records: ReadonlyArray<Out>) => {
    for (let i = 0; i < records.length; i++) checksum += records[i]!.cents
    count += records.length
  }
  return { consume, result: () => ({ count, checksum }) }
}

const countingSink = () => {
  const counter = makeCounter()
  const sink = Sink.make<Out>({
    name: "count",
    capabilities: { transactional: false, idempotent: false },
    disposition: Sink.append,
    open: () =>
      Effect.succeed({
        write: (batch) =>
          Effect.sync(() => {
            counter.consume(batch.records)
            return { written: batch.records.length }
          })
      })
  })
  return { sink, result: counter.result }
}

const pipelineOver = (records: Iterable<Row>, sink: Sink.Sink<Out>) =>
  Pipeline.make<Row, Out>({
    name: "bench",
    version: "1.0.0",
    description: "benchmark pipeline",
    source: Memory.source(records, { batchSize: 5000 }),
    transforms: Transform.identity<Row>().pipe(Transform.map(enrich), Transform.filter(keep), Transform.map(shape)),
    sink
  })

const runPipeline = (records: Iterable<Row>) =>
  Effect.gen(function* () {
    const { sink, result } = countingSink()
    const summary = yield* Runner.run(pipelineOver(records, sink), {})
    return { ...result(), written: summary.recordsWritten }
  }).pipe(Effect.provide(Runner.layerMemory({ purgeIntervalMs: 0 })), Effect.runPromise)

const handLoop = (records: ReadonlyArray<Row>) => {
  const counter = makeCounter()
  let out: Array<Out> = []
  for (let i = 0; i < records.length; i++) {
    const a = enrich(records[i]!)
    if (!keep(a)) continue
    out.push(shape(a))
    if (out.length === 5000) {
      counter.consume(out)
      out = []
    }
  }
  counter.consume(out)
  return counter.result()
}

/** The same work with nothing materialised: V8 can scalar-replace every intermediate object. */
const fusedLoop = (records: ReadonlyArray<Row>) => {
  let count = 0
  let checksum = 0
  for (let i = 0; i < records.length; i++) {
    const a = enrich(records[i]!)
    if (!keep(a)) continue
    checksum += shape(a).cents
    count++
  }
  return { count, checksum }
}

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

// Every timed phase starts from a collected heap, so no phase pays for the garbage of the one before it.
const collect = () => (globalThis as { gc?: () => void }).gc?.()

const throughput = async (n: number, rounds: number) => {
  const records = Array.from({ length: n }, (_, i) => makeRow(i))
  const loopRates: Array<number> = []
  const fusedRates: Array<number> = []
  const runnerRates: Array<number> = []
  let expected: { count: number; checksum: number } | undefined
  // Warm up both paths, then alternate so machine noise hits both alike.
  handLoop(records)
  fusedLoop(records)
  await runPipeline(records.slice(0, 200_000))
  for (let round = 0; round < rounds; round++) {
    collect()
    let t = performance.now()
    const loop = handLoop(records)
    loopRates.push(n / ((performance.now() - t) / 1000))
    collect()
    t = performance.now()
    fusedLoop(records)
    fusedRates.push(n / ((performance.now() - t) / 1000))
    collect()
    t = performance.now()
    const piped = await runPipeline(records)
    runnerRates.push(n / ((performance.now() - t) / 1000))
    expected ??= loop
    if (piped.count !== loop.count || piped.checksum !== loop.checksum) {
      throw new Error(`the runner and the loop disagree: ${JSON.stringify({ piped, loop })}`)
    }
  }
  return { loop: median(loopRates), fused: median(fusedRates), runner: median(runnerRates), kept: expected?.count ?? 0 }
}

const HEAP_CAP = "--max-old-space-size=128"

const peakRss = (n: number, flags: ReadonlyArray<string> = [HEAP_CAP]): number => {
  const out = execFileSync(
    process.execPath,
    [...process.execArgv, ...flags, fileURLToPath(import.meta.url), "--rss", String(n)],
    { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }
  )
  const line = out.trim().split("\n").at(-1) ?? ""
  return Number(JSON.parse(line).maxRssBytes)
}

const main = async () => {
  const rssIndex = process.argv.indexOf("--rss")
  if (rssIndex >= 0) {
    const n = Number(process.argv[rssIndex + 1])
    const result = await runPipeline(generate(n))
    if (result.written <= 0) throw new Error("nothing written")
    console.log(JSON.stringify({ records: n, maxRssBytes: process.resourceUsage().maxRSS * 1024 }))
    return
  }
  if ((globalThis as { gc?: unknown }).gc === undefined)
    throw new Error("run with node --expose-gc (npm run bench does)")
  const n = Number(process.env.BENCH_RECORDS ?? 2_000_000)
  const rounds = Number(process.env.BENCH_ROUNDS ?? 5)
  console.log(`core benchmark — node ${process.version}, ${n.toLocaleString("en")} records × ${rounds} rounds`)
  const t = await throughput(n, rounds)
  const ratio = t.runner / t.loop
  const fmt = (x: number) => `${(x / 1e6).toFixed(2)}M rec/s`
  console.log(
    `throughput  hand-written loop ${fmt(t.loop)}   runner ${fmt(t.runner)}   ratio ${ratio.toFixed(2)}× (target ≥ 0.50×)`
  )
  console.log(
    `            (fused loop with nothing materialised ${fmt(t.fused)}: runner/fused ${(t.runner / t.fused).toFixed(2)}×)`
  )
  const small = peakRss(1_000_000)
  const large = peakRss(10_000_000)
  const rssRatio = large / small
  const mib = (x: number) => `${(x / 2 ** 20).toFixed(0)} MiB`
  console.log(
    `peak RSS    1M records ${mib(small)}   10M records ${mib(large)}   ratio ${rssRatio.toFixed(2)}× (target ≤ 1.20×; ${HEAP_CAP})`
  )
  const smallFree = peakRss(1_000_000, [])
  const largeFree = peakRss(10_000_000, [])
  console.log(
    `            no heap cap: 1M ${mib(smallFree)}   10M ${mib(largeFree)}   ratio ${(largeFree / smallFree).toFixed(2)}× (V8 heap sizing)`
  )
  console.log(
    JSON.stringify({
      recordsPerSecond: {
        loop: Math.round(t.loop),
        fusedLoop: Math.round(t.fused),
        runner: Math.round(t.runner),
        ratio: Number(ratio.toFixed(3))
      },
      peakRss: {
        "1M": small,
        "10M": large,
        ratio: Number(rssRatio.toFixed(3)),
        uncapped: { "1M": smallFree, "10M": largeFree, ratio: Number((largeFree / smallFree).toFixed(3)) }
      },
      targetsMet: ratio >= 0.5 && rssRatio <= 1.2
    })
  )
}

await main()
