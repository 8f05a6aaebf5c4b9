// The statements the sink runs, all built with `sql` (identifiers through `sql.ident`, values bound): first-run
// DDL under an advisory lock, the fenced state row, and the COPY command.
import * as PostgresCodec from "../PostgresCodec.ts"
import { type Fragment, sql } from "../Sql.ts"

/** The column types a sink can declare. */
export const columnTypes = [
  "bigint",
  "integer",
  "numeric",
  "double precision",
  "text",
  "boolean",
  "timestamptz",
  "timestamp",
  "date",
  "jsonb",
  "bytea"
] as const

export type ColumnType = (typeof columnTypes)[number]

/** The DDL spelling of each type: closed, so it can be literal SQL text. */
const typeSql: Record<ColumnType, Fragment> = {
  bigint: sql`bigint`,
  integer: sql`integer`,
  numeric: sql`numeric`,
  "double precision": sql`double precision`,
  text: sql`text`,
  boolean: sql`boolean`,
  timestamptz: sql`timestamptz`,
  timestamp: sql`timestamp`,
  date: sql`date`,
  jsonb: sql`jsonb`,
  bytea: sql`bytea`
}

/** The codec OID of each type. */
export const typeOid: Record<ColumnType, number> = {
  bigint: PostgresCodec.Oid.int8,
  integer: PostgresCodec.Oid.int4,
  numeric: PostgresCodec.Oid.numeric,
  "double precision": PostgresCodec.Oid.float8,
  text: PostgresCodec.Oid.text,
  boolean: PostgresCodec.Oid.bool,
  timestamptz: PostgresCodec.Oid.timestamptz,
  timestamp: PostgresCodec.Oid.timestamp,
  date: PostgresCodec.Oid.date,
  jsonb: PostgresCodec.Oid.jsonb,
  bytea: PostgresCodec.Oid.bytea
}

export interface DeclaredColumn {
  readonly name: string
  readonly type: ColumnType
}

/** The name of the state table, in the target table's schema. */
export const STATE_TABLE = "data_mcp_state"

export interface Target {
  readonly schema: string
  readonly table: string
  readonly columns: ReadonlyArray<DeclaredColumn>
}

const tableOf = (target: Target) => sql.ident([target.schema, target.table])
const stateOf = (target: Target) => sql.ident([target.schema, STATE_TABLE])

/** Serialises first-run DDL of every sink writing to this schema (held until the transaction ends). */
export const ddlLock = (target: Target) =>
  sql`select pg_advisory_xact_lock(hashtext(${`data_mcp:ddl:${target.schema}`}))`

export const createTable = (target: Target) =>
  sql`create table if not exists ${tableOf(target)} (${sql.join(
    target.columns.map((c) => sql`${sql.ident(c.name)} ${typeSql[c.type]}`)
  )})`

export const createStateTable = (target: Target) =>
  sql`create table if not exists ${stateOf(target)} (state_key text primary key, token bigint not null, seq bigint not null, checkpoint jsonb)`

/** Locks the state row (if any) for the rest of the transaction. */
export const lockState = (target: Target, stateKey: string) =>
  sql`select token::text as token, seq::text as seq from ${stateOf(target)} where state_key = ${stateKey} for update`

/**
 * Records (token, seq) and the checkpoint (kept when `checkpoint` is `null`). Guarded so that a lower token
 * never overwrites a higher one: no row returned means a newer run wrote first (fenced).
 */
export const saveState = (target: Target, stateKey: string, token: number, seq: number, checkpoint: string | null) =>
  sql`insert into ${stateOf(target)} as s (state_key, token, seq, checkpoint) values (${stateKey}, ${token}, ${seq}, ${checkpoint}::jsonb) on conflict (state_key) do update set token = excluded.token, seq = excluded.seq, checkpoint = coalesce(excluded.checkpoint, s.checkpoint) where s.token <= excluded.token returning state_key`

export const loadCheckpoint = (target: Target, stateKey: string) =>
  sql`select checkpoint from ${stateOf(target)} where state_key = ${stateKey}`

/** `COPY … FROM STDIN`: identifiers only, no bound values (COPY cannot take parameters). */
export const copyFrom = (target: Target) =>
  sql`copy ${tableOf(target)} (${sql.join(target.columns.map((c) => sql.ident(c.name)))}) from stdin`

export const begin = sql`begin`
export const commit = sql`commit`
export const rollback = sql`rollback`
