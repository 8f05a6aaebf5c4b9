// Shared by the PostgresSource tests: statements on a fresh pool, and a source read to the end.
import type { Batch } from "@data-mcp/core"
import { Effect, Stream } from "effect"
import type pg from "pg"
import * as Pool from "../src/internal/pool.ts"
import type * as PostgresSource from "../src/PostgresSource.ts"
import type { Fragment } from "../src/Sql.ts"

/** The test server's connection options. */
export const config = Pool.configFromEnv()

/** Runs `f` with a pool that is closed afterwards. */
export const exec = <A, E>(f: (pool: pg.Pool) => Effect.Effect<A, E>) =>
  Effect.scoped(Effect.flatMap(Pool.pool(config), f))

/** Runs statements, one after the other. */
export const run = (...statements: ReadonlyArray<Fragment>) =>
  exec((pool) => Effect.forEach(statements, (s) => Pool.query(pool, s, "setup")))

/** The rows of a statement. */
export const rowsOf = <R extends Record<string, unknown>>(statement: Fragment) =>
  exec((pool) => Effect.map(Pool.query<R>(pool, statement, "check"), (r) => r.rows))

/** A PostgreSQL source. */
export type Source = ReturnType<typeof PostgresSource.make>

/** What a read returned. */
export type Batches = ReadonlyArray<Batch.Batch<PostgresSource.Row, PostgresSource.PostgresCheckpoint>>

/** Reads a source to the end, from a checkpoint, optionally asking for encoded batches. */
export const collect = (source: Source, from?: PostgresSource.PostgresCheckpoint, encodings?: ReadonlyArray<string>) =>
  Stream.runCollect(source.read(from, { runId: "t", batchRows: 10, ...(encodings === undefined ? {} : { encodings }) }))
