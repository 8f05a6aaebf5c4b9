// The statements of MysqlSink, each a bound `sql` fragment: DDL from declared or inferred columns (MySQL
// dialect), the live columns, the fenced state table, multi-row INSERTs (plain, or ON DUPLICATE KEY UPDATE for a
// merge), and the staging swap of a replace.
import type * as MysqlCodec from "../MysqlCodec.ts"
import { type Fragment, sql } from "../Sql.ts"

/** The column types a sink declares or infers, and the DDL each becomes. */
export const columnTypes = [
  "bigint",
  "int",
  "decimal",
  "double",
  "varchar",
  "text",
  "boolean",
  "timestamp",
  "datetime",
  "date",
  "json",
  "blob"
] as const

export type ColumnType = (typeof columnTypes)[number]

export interface DeclaredColumn {
  readonly name: string
  readonly type: ColumnType
}

/** A table and the columns it is created with. */
export interface Target {
  readonly database: string
  readonly table: string
  readonly columns: ReadonlyArray<DeclaredColumn>
}

const DDL: Record<ColumnType, Fragment> = {
  bigint: sql`bigint`,
  int: sql`int`,
  decimal: sql`decimal(65, 30)`,
  double: sql`double`,
  varchar: sql`varchar(255)`,
  text: sql`longtext`,
  boolean: sql`boolean`,
  // NULL DEFAULT NULL: without it a first TIMESTAMP column may get ON UPDATE CURRENT_TIMESTAMP.
  timestamp: sql`timestamp(6) null default null`,
  datetime: sql`datetime(6)`,
  date: sql`date`,
  json: sql`json`,
  blob: sql`longblob`
}

/** The DDL type of a column; a text key becomes `varchar(255)` (a `longtext` cannot be a key). */
export const ddlType = (type: ColumnType, isKey = false): Fragment =>
  isKey && type === "text" ? DDL.varchar : DDL[type]

// An empty database names the table alone (DDL printed for the user's current database).
const name = (t: { readonly database: string; readonly table: string }) =>
  t.database === "" ? sql.ident(t.table) : sql.ident([t.database, t.table])

export const createTable = (target: Target, key: ReadonlyArray<string> | undefined) => {
  const keys = new Set(key ?? [])
  const columns = target.columns.map((c) => sql`${sql.ident(c.name)} ${ddlType(c.type, keys.has(c.name))}`)
  const primary =
    key === undefined || key.length === 0 ? [] : [sql`primary key (${sql.join(key.map((k) => sql.ident(k)))})`]
  return sql`create table if not exists ${name(target)} (${sql.join([...columns, ...primary])}) engine = InnoDB default charset = utf8mb4 collate = utf8mb4_bin`
}

export const addColumn = (target: Target, column: DeclaredColumn) =>
  sql`alter table ${name(target)} add column ${sql.ident(column.name)} ${ddlType(column.type)}`

/** The live columns, with JSON told apart (MySQL's `json` type, or MariaDB's `longtext` with `json_valid`). */
export const readColumns = (target: { readonly database: string; readonly table: string }) => sql`
  select c.COLUMN_NAME as name, lower(c.DATA_TYPE) as dataType, lower(c.COLUMN_TYPE) as columnType,
    c.CHARACTER_MAXIMUM_LENGTH as maxLength,
    (lower(c.DATA_TYPE) = 'json' or exists (
      select 1 from information_schema.TABLE_CONSTRAINTS tc join information_schema.CHECK_CONSTRAINTS k
        on k.CONSTRAINT_SCHEMA = tc.CONSTRAINT_SCHEMA and k.CONSTRAINT_NAME = tc.CONSTRAINT_NAME
      where tc.TABLE_SCHEMA = c.TABLE_SCHEMA and tc.TABLE_NAME = c.TABLE_NAME and tc.CONSTRAINT_TYPE = 'CHECK'
        and k.CHECK_CLAUSE = concat('json_valid(', char(96), c.COLUMN_NAME, char(96), ')'))) as isJson
  from information_schema.COLUMNS c
  where c.TABLE_SCHEMA = ${target.database} and c.TABLE_NAME = ${target.table}
  order by c.ORDINAL_POSITION`

/** A live column row as `readColumns` returns it. */
export interface ColumnRow {
  readonly name: string
  readonly dataType: string
  readonly columnType: string
  readonly maxLength: number | string | null
  readonly isJson: number | string
}

export const toTargetColumn = (row: ColumnRow): MysqlCodec.TargetColumn => {
  const json = Number(row.isJson) === 1
  const dataType = json ? "json" : row.dataType
  const bounded = ["varchar", "char", "binary", "varbinary"].includes(dataType)
  return {
    name: row.name,
    dataType,
    unsigned: row.columnType.includes("unsigned"),
    ...(bounded && row.maxLength !== null ? { maxLength: Number(row.maxLength) } : {})
  }
}

export const STATE_TABLE = "data_mcp_state"

const stateTable = (database: string) => sql.ident([database, STATE_TABLE])

export const createStateTable = (database: string) => sql`
  create table if not exists ${stateTable(database)} (
    state_key varchar(255) not null, target varchar(130) not null, token bigint not null, seq bigint not null,
    checkpoint longtext null, updated_at timestamp(6) not null default current_timestamp(6), run_id varchar(255) null,
    primary key (state_key, target)) engine = InnoDB default charset = utf8mb4 collate = utf8mb4_bin`

/** Whether the state table has `run_id` (tables made before it existed get it with `addStateRunId`). */
export const stateHasRunId = (database: string) =>
  sql`select count(*) as n from information_schema.columns
    where table_schema = ${database} and table_name = ${STATE_TABLE} and column_name = 'run_id'`

export const addStateRunId = (database: string) =>
  sql`alter table ${stateTable(database)} add column run_id varchar(255) null`

export const lockState = (database: string, stateKey: string, target: string) =>
  sql`select token, seq, run_id from ${stateTable(database)} where state_key = ${stateKey} and target = ${target} for update`

export const saveState = (
  database: string,
  stateKey: string,
  target: string,
  token: number,
  seq: number,
  checkpoint: string | null,
  runId: string
) => sql`insert into ${stateTable(database)} (state_key, target, token, seq, checkpoint, run_id)
  values (${stateKey}, ${target}, ${token}, ${seq}, ${checkpoint}, ${runId})
  on duplicate key update token = values(token), seq = values(seq), checkpoint = values(checkpoint), run_id = values(run_id), updated_at = current_timestamp(6)`

export const loadCheckpoint = (database: string, stateKey: string, target: string) =>
  sql`select checkpoint from ${stateTable(database)} where state_key = ${stateKey} and target = ${target}`

export const clearCheckpoint = (database: string, stateKey: string, target: string) =>
  sql`update ${stateTable(database)} set checkpoint = null where state_key = ${stateKey} and target = ${target}`

/**
 * `insert into t (cols) values (…), (…)`: the rows are one bound value, a list of lists, which mysql2 escapes
 * value by value into the row tuples (as `VALUES ?` with nested arrays): nothing is spliced in by this library.
 */
export const insertRows = (
  target: { readonly database: string; readonly table: string },
  columns: ReadonlyArray<string>,
  rows: ReadonlyArray<ReadonlyArray<unknown>>
) => sql`insert into ${name(target)} (${sql.join(columns.map((c) => sql.ident(c)))}) values ${rows}`

/** What a merge needs to know. */
export interface MergeSpec {
  readonly key: ReadonlyArray<string>
  readonly versionBy?: string | undefined
  readonly deleteWhen?: string | undefined
}

/**
 * A merge: `insert … on duplicate key update`. With `versionBy`, a row updates only if its version is not older
 * than the stored one; the version column is assigned last, since MySQL evaluates assignments left to right.
 */
export const upsertRows = (
  target: { readonly database: string; readonly table: string },
  columns: ReadonlyArray<string>,
  rows: ReadonlyArray<ReadonlyArray<unknown>>,
  merge: MergeSpec
) => {
  const keys = new Set(merge.key)
  const updated = columns.filter((c) => !keys.has(c) && c !== merge.versionBy)
  const ordered =
    merge.versionBy !== undefined && columns.includes(merge.versionBy) ? [...updated, merge.versionBy] : updated
  const assign = (c: string) => {
    const col = sql.ident(c)
    if (merge.versionBy === undefined) return sql`${col} = values(${col})`
    const v = sql.ident(merge.versionBy)
    return sql`${col} = if(${v} is null or values(${v}) >= ${v}, values(${col}), ${col})`
  }
  // Key-only tables: a no-op assignment keeps the statement valid.
  const updates =
    ordered.length === 0 ? [sql`${sql.ident(merge.key[0]!)} = ${sql.ident(merge.key[0]!)}`] : ordered.map(assign)
  return sql`${insertRows(target, columns, rows)} on duplicate key update ${sql.join(updates)}`
}

/** Deletes one key's row, unless a `versionBy` says the stored row is newer. */
export const deleteKey = (
  target: { readonly database: string; readonly table: string },
  key: ReadonlyArray<readonly [string, unknown]>,
  version: readonly [string, unknown] | undefined
) => {
  const conditions = key.map(([c, v]) => sql`${sql.ident(c)} = ${v}`)
  if (version !== undefined && version[1] !== null)
    conditions.push(sql`(${sql.ident(version[0])} is null or ${sql.ident(version[0])} <= ${version[1]})`)
  return sql`delete from ${name(target)} where ${sql.join(conditions, sql` and `)}`
}

export const tableExists = (t: { readonly database: string; readonly table: string }) =>
  sql`select count(*) as n from information_schema.TABLES where TABLE_SCHEMA = ${t.database} and TABLE_NAME = ${t.table}`

export const createLike = (
  staging: { readonly database: string; readonly table: string },
  target: { readonly database: string; readonly table: string }
) => sql`create table if not exists ${name(staging)} like ${name(target)}`

export const truncate = (t: { readonly database: string; readonly table: string }) => sql`truncate table ${name(t)}`

export const dropTable = (t: { readonly database: string; readonly table: string }) =>
  sql`drop table if exists ${name(t)}`

/** One atomic `RENAME TABLE`: the target out of the way, the staging table in. */
export const swap = (
  target: { readonly database: string; readonly table: string },
  staging: { readonly database: string; readonly table: string },
  old: { readonly database: string; readonly table: string } | undefined
) =>
  old === undefined
    ? sql`rename table ${name(staging)} to ${name(target)}`
    : sql`rename table ${name(target)} to ${name(old)}, ${name(staging)} to ${name(target)}`

/** A named lock of the session (DDL and swaps of one table never run at once). */
export const getLock = (lockName: string, seconds: number) => sql`select get_lock(${lockName}, ${seconds}) as got`
export const releaseLock = (lockName: string) => sql`select release_lock(${lockName}) as released`

export const maxPacket = sql`select @@max_allowed_packet as maxPacket`

/** Whether the server takes `LOAD DATA LOCAL INFILE` (a global variable; MySQL 8 defaults it to OFF). */
export const localInfile = sql`select @@local_infile as \`on\``

export const savepoint = sql`savepoint dm_load`
export const rollbackToSavepoint = sql`rollback to savepoint dm_load`
export const releaseSavepoint = sql`release savepoint dm_load`

export const begin = sql`start transaction`
export const commit = sql`commit`
export const rollback = sql`rollback`

export const loadState = (database: string, stateKey: string, target: string) =>
  sql`select token from ${stateTable(database)} where state_key = ${stateKey} and target = ${target}`

/** Empties a table inside a transaction (TRUNCATE would commit it). */
export const deleteAll = (t: { readonly database: string; readonly table: string }) => sql`delete from ${name(t)}`
