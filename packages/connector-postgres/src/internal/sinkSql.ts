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

/** A column as the table has it (read from information_schema): a declarable type or one the sink only writes. */
export type LiveType = ColumnType | "smallint" | "real" | "varchar" | "character" | "json" | "other"

export interface LiveColumn {
  readonly name: string
  readonly type: LiveType
  /** The declared length of a varchar(n) / character(n) column. */
  readonly maxLength?: number | undefined
}

const liveTypeSql: Record<Exclude<LiveType, ColumnType>, Fragment> = {
  smallint: sql`smallint`,
  real: sql`real`,
  varchar: sql`text`,
  character: sql`text`,
  json: sql`json`,
  other: sql`text`
}

const typeFragment = (type: LiveType): Fragment =>
  Object.hasOwn(typeSql, type) ? typeSql[type as ColumnType] : liveTypeSql[type as Exclude<LiveType, ColumnType>]

/** The codec OID a live column is written with (a type the codec does not know is written as text). */
export const liveOid = (column: LiveColumn): number => {
  switch (column.type) {
    case "smallint":
      return PostgresCodec.Oid.int2
    case "real":
      return PostgresCodec.Oid.float4
    case "varchar":
      return PostgresCodec.Oid.varchar
    case "character":
      return PostgresCodec.Oid.bpchar
    case "json":
      return PostgresCodec.Oid.json
    case "other":
      return PostgresCodec.Oid.text
    default:
      return typeOid[column.type]
  }
}

const dataTypes: Record<string, LiveType> = {
  bigint: "bigint",
  integer: "integer",
  smallint: "smallint",
  numeric: "numeric",
  "double precision": "double precision",
  real: "real",
  text: "text",
  "character varying": "varchar",
  character: "character",
  boolean: "boolean",
  "timestamp with time zone": "timestamptz",
  "timestamp without time zone": "timestamp",
  date: "date",
  jsonb: "jsonb",
  json: "json",
  bytea: "bytea"
}

/** The live type of an information_schema `data_type`. */
export const liveTypeOf = (dataType: string): LiveType => dataTypes[dataType] ?? "other"

/** The table's columns in order: `name`, `data_type`, `len` (character_maximum_length). */
export const readColumns = (target: Target) =>
  sql`select column_name::text as name, data_type::text as data_type, character_maximum_length as len from information_schema.columns where table_schema = ${target.schema} and table_name = ${target.table} order by ordinal_position`

export const addColumn = (target: Target, name: string, type: ColumnType) =>
  sql`alter table ${tableOf(target)} add column if not exists ${sql.ident(name)} ${typeSql[type]}`

/** A lossless widening (int4→int8→numeric, real→double precision, varchar(n)→text, date→timestamp(tz)). */
export const alterColumnType = (target: Target, name: string, type: ColumnType) =>
  sql`alter table ${tableOf(target)} alter column ${sql.ident(name)} type ${typeSql[type]}`

/** The name of the state table, in the target table's schema. */
export const STATE_TABLE = "data_mcp_state"

export interface Target {
  readonly schema: string
  readonly table: string
  readonly columns: ReadonlyArray<LiveColumn>
}

const tableOf = (target: Target) => sql.ident([target.schema, target.table])
const stateOf = (target: Target) => sql.ident([target.schema, STATE_TABLE])

/** Serialises first-run DDL of every sink writing to this schema (held until the transaction ends). */
export const ddlLock = (target: Target) =>
  sql`select pg_advisory_xact_lock(hashtext(${`data_mcp:ddl:${target.schema}`}))`

export const createTable = (target: Target) =>
  sql`create table if not exists ${tableOf(target)} (${sql.join(
    target.columns.map((c) => sql`${sql.ident(c.name)} ${typeFragment(c.type)}`)
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

// ---------------------------------------------------------------------------------------------------------------
// merge: a per-transaction temp staging table, de-duplicated per key, applied by upsert or delete-insert.

/** The merge disposition, with its columns already checked against the declared ones. */
export interface MergeSpec {
  readonly key: ReadonlyArray<string>
  readonly strategy: "upsert" | "delete-insert"
  readonly versionBy?: string | undefined
  readonly deleteWhen?: string | undefined
  readonly softDelete?: string | undefined
  /** How a soft delete marks the row: a timestamp column gets now(), a boolean column true. */
  readonly softDeleteKind?: "timestamp" | "boolean" | undefined
}

/** The staging table of one merge transaction (dropped at commit). */
export const MERGE_STAGE = "data_mcp_merge_stage"
/** The column that numbers staged rows in COPY order (ties on the version go to the last one). */
export const ORDINAL = "__dm_ord"

export const mergeStage = (target: Target): Target => ({
  schema: "pg_temp",
  table: MERGE_STAGE,
  columns: target.columns
})

/** Bytes-safe truncation of an identifier prefix, so that `prefix + suffix` stays within 63 bytes. */
const fit = (prefix: string, suffix: string): string => {
  let p = prefix
  while (Buffer.byteLength(p + suffix, "utf8") > 63) p = p.slice(0, -1)
  return p + suffix
}

export const keyIndexName = (target: Target) => fit(target.table, "__dm_key")

export const createKeyIndex = (target: Target, key: ReadonlyArray<string>) =>
  sql`create unique index if not exists ${sql.ident(keyIndexName(target))} on ${tableOf(target)} (${sql.join(
    key.map((k) => sql.ident(k))
  )})`

export const createMergeStage = (target: Target) =>
  sql`create temp table if not exists ${sql.ident(MERGE_STAGE)} (like ${tableOf(target)}, ${sql.ident(ORDINAL)} bigint generated always as identity) on commit drop`

const cols = (target: Target) => sql.join(target.columns.map((c) => sql.ident(c.name)))
const qualified = (alias: string, name: string) => sql`${sql.ident(alias)}.${sql.ident(name)}`

/** The staged rows, one per key: the highest version, ties to the last in the batch. */
const deduplicated = (spec: MergeSpec) => {
  const key = sql.join(spec.key.map((k) => sql.ident(k)))
  const version = spec.versionBy === undefined ? sql.empty : sql`${sql.ident(spec.versionBy)} desc nulls last, `
  return sql`(select distinct on (${key}) * from ${sql.ident(["pg_temp", MERGE_STAGE])} order by ${key}, ${version}${sql.ident(ORDINAL)} desc)`
}

const keyMatch = (spec: MergeSpec, a: string, b: string) =>
  sql.join(
    spec.key.map((k) => sql`${qualified(a, k)} = ${qualified(b, k)}`),
    sql` and `
  )

/** The target row `t` is not newer than the staged row `s` (a null target version is the oldest). */
const notNewer = (spec: MergeSpec, t: string, s: string) =>
  spec.versionBy === undefined
    ? sql`true`
    : sql`(${qualified(t, spec.versionBy)} is null or ${qualified(t, spec.versionBy)} <= ${qualified(s, spec.versionBy)})`

const isDelete = (spec: MergeSpec, s: string) =>
  spec.deleteWhen === undefined ? sql`false` : sql`coalesce(${qualified(s, spec.deleteWhen)}, false)`

/** The value inserted for each column: a soft-deleted record gets its marker. */
const projected = (target: Target, spec: MergeSpec, s: string) =>
  sql.join(
    target.columns.map((c) =>
      spec.softDelete !== undefined && spec.deleteWhen !== undefined && c.name === spec.softDelete
        ? sql`case when ${isDelete(spec, s)} then ${spec.softDeleteKind === "boolean" ? sql`true` : sql`now()`} else ${qualified(s, c.name)} end`
        : qualified(s, c.name)
    )
  )

/** Hard deletes: staged deletes remove their key's target row unless it is newer. */
export const mergeHardDelete = (target: Target, spec: MergeSpec) =>
  sql`delete from ${tableOf(target)} as t using ${deduplicated(spec)} as s where ${keyMatch(spec, "t", "s")} and ${isDelete(spec, "s")} and ${notNewer(spec, "t", "s")}`

const insertable = (spec: MergeSpec) =>
  spec.deleteWhen !== undefined && spec.softDelete === undefined ? sql`not ${isDelete(spec, "s")}` : sql`true`

/** upsert: `insert … on conflict (key) do update … where` the target row is not newer. */
export const mergeUpsert = (target: Target, spec: MergeSpec) => {
  const nonKey = target.columns.filter((c) => !spec.key.includes(c.name))
  const keyList = sql.join(spec.key.map((k) => sql.ident(k)))
  const sets = nonKey.map((c) =>
    c.name === spec.softDelete && spec.softDeleteKind === "timestamp" && spec.deleteWhen !== undefined
      ? // A repeated soft delete keeps the first deletion time.
        sql`${sql.ident(c.name)} = case when ${isDelete(spec, "excluded")} then coalesce(${qualified("t", c.name)}, ${qualified("excluded", c.name)}) else ${qualified("excluded", c.name)} end`
      : sql`${sql.ident(c.name)} = ${qualified("excluded", c.name)}`
  )
  const onConflict =
    sets.length === 0 ? sql`do nothing` : sql`do update set ${sql.join(sets)} where ${notNewer(spec, "t", "excluded")}`
  return sql`insert into ${tableOf(target)} as t (${cols(target)}) select ${projected(target, spec, "s")} from ${deduplicated(spec)} as s where ${insertable(spec)} on conflict (${keyList}) ${onConflict}`
}

/** delete-insert, step 1: remove the target rows of staged keys that are not newer than the staged row. */
export const mergeDeleteMatching = (target: Target, spec: MergeSpec) =>
  sql`delete from ${tableOf(target)} as t using ${deduplicated(spec)} as s where ${keyMatch(spec, "t", "s")} and ${notNewer(spec, "t", "s")}`

/** delete-insert, step 2: insert the staged rows whose key is no longer in the target (hard deletes skipped). */
export const mergeInsertMissing = (target: Target, spec: MergeSpec) =>
  sql`insert into ${tableOf(target)} (${cols(target)}) select ${projected(target, spec, "s")} from ${deduplicated(spec)} as s where ${insertable(spec)} and not exists (select 1 from ${tableOf(target)} as t where ${keyMatch(spec, "t", "s")})`

/** COPY into the merge stage (its ordinal column fills itself in COPY order). */
export const copyFromStage = (target: Target) => copyFrom(mergeStage(target))

// ---------------------------------------------------------------------------------------------------------------
// replace: a staging table that survives restarts, swapped in at the end of the run.

export const stagingTarget = (target: Target, stateKeyHash: string): Target => ({
  ...target,
  table: fit(target.table, `__dm_staging_${stateKeyHash}`)
})

/** Serialises swaps of one target table (held until the transaction ends). */
export const swapLock = (target: Target) =>
  sql`select pg_advisory_xact_lock(hashtext(${`data_mcp:swap:${target.schema}.${target.table}`}))`

export const tableExists = (target: Target) =>
  sql`select to_regclass(${`${quoteIdent(target.schema)}.${quoteIdent(target.table)}`}) is not null as present`

const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`

export const truncate = (target: Target) => sql`truncate ${tableOf(target)}`

export const dropTable = (target: Target) => sql`drop table if exists ${tableOf(target)}`

/** Renames the staging table (same schema) to the target's name. */
export const renameTo = (staging: Target, target: Target) =>
  sql`alter table ${tableOf(staging)} rename to ${sql.ident(target.table)}`

/** The staging table, shaped like the existing target (indexes, defaults and constraints included). */
export const createStagingLike = (staging: Target, target: Target) =>
  sql`create table if not exists ${tableOf(staging)} (like ${tableOf(target)} including all)`

/** Forgets the run's checkpoint (the next replace starts over); keeps the token for fencing. */
export const clearCheckpoint = (target: Target, stateKey: string) =>
  sql`update ${stateOf(target)} set checkpoint = null where state_key = ${stateKey}`
