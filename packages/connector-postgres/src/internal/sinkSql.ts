// The statements the sink runs, all built with `sql` (identifiers through `sql.ident`, values bound): first-run
// DDL under an advisory lock, the fenced state row, and the COPY command.
import * as PostgresCodec from "../PostgresCodec.ts"
import { type Fragment, sql } from "../Sql.ts"

/** The scalar column types a sink can declare. */
export const scalarTypes = [
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

export type ScalarType = (typeof scalarTypes)[number]

/**
 * An array of a scalar type. PostgreSQL array types have no fixed dimensions: a `bigint[]` column holds
 * one- or multi-dimensional arrays alike.
 */
export type ArrayType = `${ScalarType}[]`

/** A column type a sink can declare: a scalar type or an array of one. */
export type ColumnType = ScalarType | ArrayType

/** The column types a sink can declare, in canonical spelling. */
export const columnTypes: ReadonlyArray<ColumnType> = [...scalarTypes, ...scalarTypes.map((t): ArrayType => `${t}[]`)]

const aliasOf: Readonly<Record<string, ScalarType>> = {
  int8: "bigint",
  int4: "integer",
  float8: "double precision",
  bool: "boolean"
}

/** PostgreSQL's short names for declarable types (`int8`, `int4`, `float8`, `bool` and their arrays). */
export const typeAliases: ReadonlyArray<string> = Object.keys(aliasOf).flatMap((a) => [a, `${a}[]`])

/** The canonical spelling of a declared type or alias (`int8[]` → `bigint[]`). */
export const canonicalType = (type: string): ColumnType => {
  const array = type.endsWith("[]")
  const base = array ? type.slice(0, -2) : type
  const scalar = aliasOf[base] ?? (base as ScalarType)
  return array ? `${scalar}[]` : scalar
}

export interface DeclaredColumn {
  readonly name: string
  readonly type: ColumnType
}

/** A scalar type as the table has it: a declarable type or one the sink only writes. */
export type LiveScalar = ScalarType | "smallint" | "real" | "varchar" | "character" | "json" | "uuid" | "other"

/** A column type as the table has it (read from information_schema): a live scalar or an array of one. */
export type LiveType = LiveScalar | `${LiveScalar}[]`

export interface LiveColumn {
  readonly name: string
  readonly type: LiveType
  /** The declared length of a varchar(n) / character(n) column. */
  readonly maxLength?: number | undefined
}

/** The DDL spelling of each scalar type: closed, so it can be literal SQL text. */
const scalarSql: Record<LiveScalar, Fragment> = {
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
  bytea: sql`bytea`,
  smallint: sql`smallint`,
  real: sql`real`,
  varchar: sql`text`,
  character: sql`text`,
  json: sql`json`,
  uuid: sql`uuid`,
  other: sql`text`
}

/** The codec OIDs of each scalar type and of its array type (a type the codec does not know is written as text). */
const scalarOids: Record<LiveScalar, readonly [scalar: number, array: number]> = {
  bigint: [PostgresCodec.Oid.int8, PostgresCodec.Oid._int8],
  integer: [PostgresCodec.Oid.int4, PostgresCodec.Oid._int4],
  numeric: [PostgresCodec.Oid.numeric, PostgresCodec.Oid._numeric],
  "double precision": [PostgresCodec.Oid.float8, PostgresCodec.Oid._float8],
  text: [PostgresCodec.Oid.text, PostgresCodec.Oid._text],
  boolean: [PostgresCodec.Oid.bool, PostgresCodec.Oid._bool],
  timestamptz: [PostgresCodec.Oid.timestamptz, PostgresCodec.Oid._timestamptz],
  timestamp: [PostgresCodec.Oid.timestamp, PostgresCodec.Oid._timestamp],
  date: [PostgresCodec.Oid.date, PostgresCodec.Oid._date],
  jsonb: [PostgresCodec.Oid.jsonb, PostgresCodec.Oid._jsonb],
  bytea: [PostgresCodec.Oid.bytea, PostgresCodec.Oid._bytea],
  smallint: [PostgresCodec.Oid.int2, PostgresCodec.Oid._int2],
  real: [PostgresCodec.Oid.float4, PostgresCodec.Oid._float4],
  varchar: [PostgresCodec.Oid.varchar, PostgresCodec.Oid._varchar],
  character: [PostgresCodec.Oid.bpchar, PostgresCodec.Oid._bpchar],
  json: [PostgresCodec.Oid.json, PostgresCodec.Oid._json],
  uuid: [PostgresCodec.Oid.uuid, PostgresCodec.Oid._uuid],
  other: [PostgresCodec.Oid.text, PostgresCodec.Oid._text]
}

/** The element type of an array type, or `undefined` for a scalar type. */
export const elementType = (type: LiveType): LiveScalar | undefined =>
  type.endsWith("[]") ? (type.slice(0, -2) as LiveScalar) : undefined

const typeFragment = (type: LiveType): Fragment => {
  const element = elementType(type)
  return element === undefined ? scalarSql[type as LiveScalar] : sql`${scalarSql[element]}[]`
}

/** The codec OID a column type is written with. */
export const typeOid = (type: LiveType): number => {
  const element = elementType(type)
  return element === undefined ? scalarOids[type as LiveScalar][0] : scalarOids[element][1]
}

/** The codec OID a live column is written with. */
export const liveOid = (column: LiveColumn): number => typeOid(column.type)

const dataTypes: Record<string, LiveScalar> = {
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
  bytea: "bytea",
  uuid: "uuid"
}

/** Array element types by `udt_name` (the array type's name: `_int8`). */
const udtElements: Record<string, LiveScalar> = {
  _int8: "bigint",
  _int4: "integer",
  _int2: "smallint",
  _numeric: "numeric",
  _float8: "double precision",
  _float4: "real",
  _text: "text",
  _varchar: "varchar",
  _bpchar: "character",
  _bool: "boolean",
  _timestamptz: "timestamptz",
  _timestamp: "timestamp",
  _date: "date",
  _jsonb: "jsonb",
  _json: "json",
  _bytea: "bytea",
  _uuid: "uuid"
}

/** The live type of an information_schema `data_type` (and, for `ARRAY`, the `udt_name` naming its element). */
export const liveTypeOf = (dataType: string, udtName?: string | null): LiveType =>
  dataType === "ARRAY" ? `${udtElements[udtName ?? ""] ?? "other"}[]` : (dataTypes[dataType] ?? "other")

/**
 * The table's columns in order: `name`, `data_type`, `udt` (udt_name; `_int8` for an array) and `len` (the
 * length of a varchar(n) / character(n) column or of its array's elements, which information_schema leaves out).
 */
export const readColumns = (target: Target) =>
  sql`select c.column_name::text as name, c.data_type::text as data_type, c.udt_name::text as udt, coalesce(c.character_maximum_length, case when c.udt_name in ('_varchar', '_bpchar') then (select nullif(a.atttypmod, -1) - 4 from pg_catalog.pg_attribute a join pg_catalog.pg_class r on r.oid = a.attrelid join pg_catalog.pg_namespace n on n.oid = r.relnamespace where n.nspname = c.table_schema and r.relname = c.table_name and a.attname = c.column_name) end) as len from information_schema.columns c where c.table_schema = ${target.schema} and c.table_name = ${target.table} order by c.ordinal_position`

export const addColumn = (target: Target, name: string, type: ColumnType) =>
  sql`alter table ${tableOf(target)} add column if not exists ${sql.ident(name)} ${typeFragment(type)}`

/**
 * A lossless widening (int4→int8→numeric, real→double precision, varchar(n)→text, date→timestamp(tz)), of a
 * column or of an array column's elements (int4[]→int8[]).
 */
export const alterColumnType = (target: Target, name: string, type: ColumnType) =>
  sql`alter table ${tableOf(target)} alter column ${sql.ident(name)} type ${typeFragment(type)}`

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
  sql`create table if not exists ${stateOf(target)} (state_key text primary key, token bigint not null, seq bigint not null, checkpoint jsonb, run_id text)`

/** State tables made before `run_id` existed get it (null: no write of theirs is ever taken for a replay). */
export const addStateRunId = (target: Target) =>
  sql`alter table ${stateOf(target)} add column if not exists run_id text`

/** Locks the state row (if any) for the rest of the transaction. */
export const lockState = (target: Target, stateKey: string) =>
  sql`select token::text as token, seq::text as seq, run_id from ${stateOf(target)} where state_key = ${stateKey} for update`

/**
 * Records (token, seq) and the checkpoint (kept when `checkpoint` is `null`). Guarded so that a lower token
 * never overwrites a higher one: no row returned means a newer run wrote first (fenced).
 */
export const saveState = (
  target: Target,
  stateKey: string,
  token: number,
  seq: number,
  checkpoint: string | null,
  runId: string
) =>
  sql`insert into ${stateOf(target)} as s (state_key, token, seq, checkpoint, run_id) values (${stateKey}, ${token}, ${seq}, ${checkpoint}::jsonb, ${runId}) on conflict (state_key) do update set token = excluded.token, seq = excluded.seq, checkpoint = coalesce(excluded.checkpoint, s.checkpoint), run_id = excluded.run_id where s.token <= excluded.token returning state_key`

export const loadCheckpoint = (target: Target, stateKey: string) =>
  sql`select checkpoint from ${stateOf(target)} where state_key = ${stateKey}`

/** `COPY … FROM STDIN`: identifiers only, no bound values (COPY cannot take parameters). */
export const copyFrom = (target: Target, binary = false) =>
  sql`copy ${tableOf(target)} (${sql.join(target.columns.map((c) => sql.ident(c.name)))}) from stdin${binary ? sql` (format binary)` : sql.empty}`

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
