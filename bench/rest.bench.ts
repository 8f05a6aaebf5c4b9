// REST benchmark: reading N records in pages from a local HTTP server, through the connector vs a hand-written
// undici loop, in one run.
//
// Server: node:http on 127.0.0.1 in this process, serving pre-serialised pages (offset/limit, `{ data: [...] }`,
// records of ~110 bytes: id, name, amount, updated_at, flag), so its own cost is a buffer write per page.
//
// Paths (interleaved each round, after an untimed warm-up):
//   raw       a hand-written loop: one undici Pool, GET ?offset=&limit=, JSON.parse, count the records, next offset
//             until a short page. No retries, no guard, no checkpoints.
//   source    RestSource.read (offset pagination, the SSRF guard on, timeouts, size limit, one batch and checkpoint
//             per page) drained with Stream.runForEach counting records.
//   pipeline  the same source through `Runner.run` (layerMemory) into a sink that counts: checkpoints saved,
//             events, batching included.
// Reported: medians of records/s over rounds, ratios vs raw, and a JSON line.
//
// Env: BENCH_RECORDS (default 200,000), BENCH_PAGE (default 1,000), BENCH_ROUNDS (default 5).
//
//   npm run bench:rest
//   (node --conditions=@data-mcp/source --import tsx bench/rest.bench.ts)
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { RestSource } from "@data-mcp/connector-rest"
import { Pipeline, Runner, Sink } from "@data-mcp/core"
import { Effect, Stream } from "effect"
import { Pool } from "undici"

const env = process.env
const N = Number(env.BENCH_RECORDS ?? 200_000)
const PAGE = Number(env.BENCH_PAGE ?? 1000)
const ROUNDS = Number(env.BENCH_ROUNDS ?? 5)

const pages = new Map<number, Buffer>()
for (let offset = 0; offset <= N; offset += PAGE) {
  const data = []
  for (let i = offset; i < Math.min(N, offset + PAGE); i++) {
    data.push({
      id: i,
      name: `customer ${i}`,
      amount: ((i * 37) % 100_000) / 100,
      updated_at: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString(),
      flag: i % 3 === 0
    })
  }
  pages.set(offset, Buffer.from(JSON.stringify({ data })))
}
const server = createServer((req, res) => {
  const url = new URL(req.url ?? "/", "http://127.0.0.1")
  const body = pages.get(Number(url.searchParams.get("offset") ?? 0)) ?? Buffer.from('{"data":[]}')
  res.writeHead(200, { "content-type": "application/json", "content-length": body.length }).end(body)
})
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

const raw = async (): Promise<number> => {
  const pool = new Pool(origin, { connections: 1 })
  let count = 0
  try {
    for (let offset = 0; ; offset += PAGE) {
      const response = await pool.request({ path: `/items?offset=${offset}&limit=${PAGE}`, method: "GET" })
      const body = JSON.parse(await response.body.text()) as { data: Array<unknown> }
      count += body.data.length
      if (body.data.length < PAGE) break
    }
  } finally {
    await pool.close()
  }
  return count
}

const source = RestSource.make({
  baseUrl: origin,
  path: "/items",
  records: "data",
  pagination: { type: "offset", limit: PAGE },
  allowHosts: ["127.0.0.1"]
})

const viaSource = (): Promise<number> => {
  let count = 0
  return Effect.runPromise(
    Stream.runForEach(source.read(undefined, { runId: "bench", batchRows: PAGE }), (batch) =>
      Effect.sync(() => {
        count += batch.records.length
      })
    )
  ).then(() => count)
}

let runs = 0
const viaPipeline = (): Promise<number> => {
  let count = 0
  const counting = Sink.make<unknown>({
    name: "count",
    capabilities: { transactional: false, idempotent: false },
    disposition: Sink.append,
    open: () =>
      Effect.succeed({
        write: (batch) =>
          Effect.sync(() => {
            count += batch.records.length
            return { written: batch.records.length }
          })
      })
  })
  const pipeline = Pipeline.make({
    name: `rest_bench_${runs++}`,
    version: "1.0.0",
    description: "rest bench",
    source,
    sink: counting
  })
  return Effect.runPromise(
    Runner.run(pipeline, {}).pipe(Effect.provide(Runner.layerMemory({ purgeIntervalMs: 0 })))
  ).then(() => count)
}

const paths = { raw, source: viaSource, pipeline: viaPipeline } as const
const times: Record<keyof typeof paths, Array<number>> = { raw: [], source: [], pipeline: [] }

const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

for (const f of Object.values(paths)) await f() // warm-up
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, f] of Object.entries(paths) as Array<[keyof typeof paths, () => Promise<number>]>) {
    const t0 = performance.now()
    const count = await f()
    const ms = performance.now() - t0
    if (count !== N) throw new Error(`${name} read ${count} records, expected ${N}`)
    times[name].push(ms)
  }
}

const rate = (name: keyof typeof paths) => N / (median(times[name]) / 1000)
const result = {
  records: N,
  page: PAGE,
  rounds: ROUNDS,
  rawPerSec: Math.round(rate("raw")),
  sourcePerSec: Math.round(rate("source")),
  pipelinePerSec: Math.round(rate("pipeline")),
  sourceVsRaw: Number((rate("source") / rate("raw")).toFixed(3)),
  pipelineVsRaw: Number((rate("pipeline") / rate("raw")).toFixed(3))
}
console.log(`records: ${N} in pages of ${PAGE}, ${ROUNDS} rounds (medians)`)
for (const name of Object.keys(paths) as Array<keyof typeof paths>) {
  console.log(
    `  ${name.padEnd(9)} ${Math.round(rate(name)).toLocaleString("en")} records/s  (${median(times[name]).toFixed(0)} ms)`
  )
}
console.log(`  source / raw = ${result.sourceVsRaw}, pipeline / raw = ${result.pipelineVsRaw} (target >= 0.8)`)
console.log(JSON.stringify(result))
server.close()
