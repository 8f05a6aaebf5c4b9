// Versioned migrations for the state stores' tables. Every layer applies the missing ones when it is built, in one
// transaction that first takes a transaction-scoped advisory lock keyed on the schema, so replicas starting at the
// same moment apply each migration exactly once and the others wait, then see it recorded.
import { Config } from "@data-mcp/core"
import { Effect } from "effect"
import type pg from "pg"
import type * as PostgresError from "../PostgresError.ts"
import { type Fragment, sql } from "../Sql.ts"
import * as Pool from "./pool.ts"

/** The first key of the two-key advisory lock every migration run takes (the second is `hashtext(schema)`). */
export const LOCK_KEY = 0x646d_6d67 // "dmmg"

/** The state stores' default schema. */
export const DEFAULT_SCHEMA = "data_mcp"

/** One migration: a version and the statements that take the schema from `version - 1` to it. */
export interface Migration {
  readonly version: number
  readonly description: string
  readonly statements: (schema: string) => ReadonlyArray<Fragment>
}

const table = (schema: string, name: string) => sql.ident([schema, name])

/** Every migration, in order. Append only: a released migration is never edited. */
export const migrations: ReadonlyArray<Migration> = [
  {
    version: 1,
    description: "state: one row per state key (fencing token, lease holder, checkpoint)",
    statements: (schema) => [
      sql`create table if not exists ${table(schema, "data_mcp_state")} (
        key text primary key,
        token bigint not null check (token >= 0),
        holder_run_id text,
        expires_at bigint,
        checkpoint json,
        updated_at timestamptz not null default now(),
        check ((holder_run_id is null) = (expires_at is null))
      )`
    ]
  },
  {
    version: 2,
    description: "runs: one row per run (indexed fields and the record as JSON) and its ordered events",
    statements: (schema) => [
      sql`create table if not exists ${table(schema, "data_mcp_runs")} (
        id text primary key,
        pipeline text not null,
        status text not null,
        caller text,
        tenant text,
        created_ms bigint not null,
        heartbeat_ms bigint,
        record json not null
      )`,
      sql`create index if not exists data_mcp_runs_list on ${table(schema, "data_mcp_runs")} (created_ms desc, id collate "C" desc)`,
      sql`create index if not exists data_mcp_runs_pipeline on ${table(schema, "data_mcp_runs")} (pipeline, created_ms desc)`,
      sql`create index if not exists data_mcp_runs_active on ${table(schema, "data_mcp_runs")} (heartbeat_ms) where status in ('running', 'queued')`,
      sql`create table if not exists ${table(schema, "data_mcp_run_events")} (
        run_id text not null references ${table(schema, "data_mcp_runs")} (id) on delete cascade,
        seq bigserial not null,
        at_ms bigint,
        event json not null,
        primary key (run_id, seq)
      )`
    ]
  },
  {
    version: 3,
    description: "dead letters: one row per letter in append order (indexed fields and the letter as JSON)",
    statements: (schema) => [
      sql`create table if not exists ${table(schema, "data_mcp_dead_letters")} (
        seq bigserial primary key,
        id text not null unique,
        pipeline text not null,
        state_key text not null,
        run_id text not null,
        tenant text,
        at_ms bigint,
        letter json not null
      )`,
      sql`create index if not exists data_mcp_dead_letters_pipeline on ${table(schema, "data_mcp_dead_letters")} (pipeline, seq)`,
      sql`create index if not exists data_mcp_dead_letters_run on ${table(schema, "data_mcp_dead_letters")} (run_id, seq)`,
      sql`create index if not exists data_mcp_dead_letters_at on ${table(schema, "data_mcp_dead_letters")} (at_ms)`
    ]
  },
  {
    version: 4,
    description: "registry: one row per pipeline name and version (the entry as JSON)",
    statements: (schema) => [
      sql`create table if not exists ${table(schema, "data_mcp_registry")} (
        name text not null,
        version text not null,
        hash text not null,
        entry json not null,
        updated_at timestamptz not null default now(),
        primary key (name, version)
      )`
    ]
  }
]

/** Validates a schema name for the state tables: non-empty, at most 63 bytes (PostgreSQL would truncate it). */
export const validateSchema = (schema: string | undefined): Effect.Effect<string, Config.ConfigError> => {
  const name = schema ?? DEFAULT_SCHEMA
  return name.length > 0 && Buffer.byteLength(name, "utf8") <= 63 && !name.includes("\u0000")
    ? Effect.succeed(name)
    : Effect.fail(
        new Config.ConfigError({
          component: "postgres state",
          path: "schema",
          detail: "a schema name of 1 to 63 bytes without NUL characters"
        })
      )
}

type QueryError = ReturnType<typeof PostgresError.toConnectorError>

/**
 * Creates the schema if needed and applies the migrations it lacks, under `pg_advisory_xact_lock(LOCK_KEY,
 * hashtext(schema))` in one transaction. Idempotent; safe to run from several processes at once. Returns the
 * versions applied by this call.
 */
export const migrate = (
  pool: pg.Pool,
  schema: string,
  list: ReadonlyArray<Migration> = migrations
): Effect.Effect<ReadonlyArray<number>, QueryError> =>
  Effect.scoped(
    Effect.gen(function* () {
      const client: pg.PoolClient = yield* Pool.client(pool, "migrate")
      const run = (fragment: Fragment) => Pool.query(client, fragment, "migrate")
      yield* run(sql`begin`)
      const body = Effect.gen(function* () {
        yield* run(sql`select pg_advisory_xact_lock(${LOCK_KEY}::int4, hashtext(${schema}))`)
        yield* run(sql`create schema if not exists ${sql.ident(schema)}`)
        yield* run(
          sql`create table if not exists ${table(schema, "data_mcp_migrations")} (
            version int primary key,
            description text not null default '',
            applied_at timestamptz not null default now()
          )`
        )
        const done = yield* run(sql`select version from ${table(schema, "data_mcp_migrations")}`)
        const have = new Set(done.rows.map((row) => Number(row.version)))
        const applied: Array<number> = []
        for (const migration of [...list].sort((a, b) => a.version - b.version)) {
          if (have.has(migration.version)) continue
          for (const statement of migration.statements(schema)) yield* run(statement)
          yield* run(
            sql`insert into ${table(schema, "data_mcp_migrations")} (version, description) values (${migration.version}, ${migration.description})`
          )
          applied.push(migration.version)
        }
        yield* run(sql`commit`)
        return applied
      })
      return yield* body.pipe(Effect.onError(() => Effect.ignore(run(sql`rollback`))))
    })
  )
