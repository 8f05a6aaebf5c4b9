import { createRequire } from "node:module"
import { Batch, SchemaInference, type Sink, type Source, Transform } from "@data-mcp/core"
import { afterAll } from "@effect/vitest"
import { Effect, Stream } from "effect"
import type pg from "pg"
import * as Pool from "../src/internal/pool.ts"
import type { Fragment } from "../src/Sql.ts"

// vitest runs Node with `--conditions import`, under which pg's index requires pg-pool's ESM build; the client
// alone does not need the pool, so load it directly for set-up and tear-down.
const Client = createRequire(import.meta.url)("pg/lib/client.js") as typeof pg.Client

/** The test server, from the usual `PG*` variables. */
export const connection = {
  host: process.env.PGHOST ?? "127.0.0.1",
  port: Number(process.env.PGPORT ?? 5432),
  user: process.env.PGUSER ?? "postgres",
  database: process.env.PGDATABASE ?? "test"
}

/** Runs `f` with a fresh client, closed afterwards. */
export const withClient = async <A>(f: (client: pg.Client) => Promise<A>): Promise<A> => {
  const client = new Client({ ...connection, connectionTimeoutMillis: 5_000 })
  await client.connect()
  try {
    return await f(client)
  } finally {
    await client.end().catch(() => undefined)
  }
}

const probe = async (): Promise<string | undefined> => {
  try {
    await withClient(async () => undefined)
    return undefined
  } catch (e) {
    return e instanceof Error ? e.message : String(e)
  }
}

/**
 * Why the server is unreachable, or `undefined` when it is (and always `undefined` with CI=true: there the tests
 * run and fail if the server is down). Warns once that the tests of `label` will skip.
 */
export const unreachable = async (label: string): Promise<string | undefined> => {
  const reason = process.env.CI === "true" ? undefined : await probe()
  if (reason !== undefined)
    console.warn(
      `Skipping ${label} integration tests: PostgreSQL at ${connection.host}:${connection.port} is unreachable (${reason})`
    )
  return reason
}

/** A test file's database: whether to skip, and fresh schemas dropped when the file ends. */
export interface Database {
  /** Why the server is unreachable, when the file's tests skip; `undefined` when they run. */
  readonly unreachable: string | undefined
  /** A new schema name under the file's unique prefix, dropped in `afterAll`. */
  readonly freshSchema: () => string
}

/**
 * Probes the server (with CI=true it never skips: the tests run and fail if the server is down), warns when the
 * tests of `label` will skip, and registers an `afterAll` that drops every schema `freshSchema` named.
 */
export const database = async (label: string, prefix: string): Promise<Database> => {
  const reason = await unreachable(label)
  // One schema per test, all under this file's unique prefix, dropped at the end.
  const unique = `${prefix}_${process.pid}_${Date.now().toString(36)}`
  let counter = 0
  const schemas: Array<string> = []
  afterAll(async () => {
    if (reason !== undefined) return
    await withClient(async (client) => {
      for (const schema of schemas) await client.query(`drop schema if exists "${schema}" cascade`)
    })
  })
  return {
    unreachable: reason,
    freshSchema: () => {
      const schema = `${unique}_${counter++}`
      schemas.push(schema)
      return schema
    }
  }
}

const pgConnection = { ...Pool.configFromEnv(), connectTimeoutMs: 5_000 }

/** Runs one statement on a short-lived pool. */
export const exec = (fragment: Fragment) =>
  Effect.scoped(Effect.flatMap(Pool.pool(pgConnection), (pool) => Pool.query(pool, fragment, "check")))

/** Opens a sink for state key `key` as run `r<token>` holding lease `token`, as the runner would. */
export const openWriter = <A>(sink: Sink.Sink<A>, key: string, token = 1) =>
  sink.open({
    runId: `r${token}`,
    pipeline: "test",
    stateKey: key,
    lease: { key, runId: `r${token}`, token, expiresAt: Date.now() + 60_000 }
  })

/** A batch of the default stream. */
export const batch = <A>(records: ReadonlyArray<A>) => ({ stream: "default", records, checkpoint: null })

/** A write result's schema changes, one line each: `schema.table v2: + added: email (text); ~ widened: …`. */
export const changesOf = (result: Sink.WriteResult): ReadonlyArray<string> =>
  (result.schemaChanges ?? []).map(
    (c) => `${c.target} v${c.version}: ${SchemaInference.formatDiff(c.diff).replaceAll("\n", "; ")}`
  )

/**
 * The two ways rows travel PG → PG: with no transform as COPY text, undecoded ("encoded"; the sink loads
 * those whose columns match as they are), or, with a transform, as decoded records ("records").
 */
export const LANES = ["encoded", "records"] as const

/** The transforms that make a pipeline take `lane`: none, or a map returning a copy (which needs records). */
export const transformsFor = <A extends object>(lane: (typeof LANES)[number]) =>
  lane === "records" ? { transforms: Transform.identity<A>().pipe(Transform.map((r) => ({ ...r }))) } : {}

/** The source, observed: whether the runner asked it for COPY text (undecoded rows), and what it handed over. */
export const observed = <A, C>(
  source: Source.Source<A, C>,
  seen: { asked: boolean; encoded: number }
): Source.Source<A, C> => ({
  ...source,
  read: (from, context) => {
    if (context.encodings?.includes("postgres/copy-text") === true) seen.asked = true
    return Stream.map(source.read(from, context), (batch) => {
      if (Batch.encodedOf(batch) !== undefined) seen.encoded++
      return batch
    })
  }
})
