import { randomBytes } from "node:crypto"
import { afterAll } from "@effect/vitest"
import mysql from "mysql2/promise"
import * as MysqlConfig from "../src/MysqlConfig.ts"

/** The test server, from MYSQL_HOST / MYSQL_PORT / MYSQL_USER / MYSQL_DATABASE (default root@127.0.0.1:3306/test). */
export const server = MysqlConfig.fromEnv()

/** Opens a connection (in the connector's session settings); the caller ends it. */
export const openConnection = async (database?: string): Promise<mysql.Connection> => {
  const c = await mysql.createConnection({
    host: server.host,
    port: server.port ?? 3306,
    user: server.user,
    database: database ?? server.database,
    connectTimeout: 5_000,
    supportBigNumbers: true,
    bigNumberStrings: true
  })
  for (const statement of MysqlConfig.sessionSettings) await c.query(statement)
  return c
}

/** Runs `f` with a fresh connection (in the connector's session settings), closed afterwards. */
export const withConnection = async <A>(f: (c: mysql.Connection) => Promise<A>, database?: string): Promise<A> => {
  const c = await openConnection(database)
  try {
    return await f(c)
  } finally {
    await c.end().catch(() => undefined)
  }
}

const probe = async (): Promise<string | undefined> => {
  try {
    await withConnection(async () => undefined)
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
      `Skipping ${label} integration tests: MySQL/MariaDB at ${server.host}:${server.port ?? 3306} is unreachable (${reason})`
    )
  return reason
}

/** A test file's database: whether to skip, and a fresh database (dropped when the file ends) to work in. */
export interface Database {
  readonly unreachable: string | undefined
  /** The fresh database's name. */
  readonly name: string
  /** The connection options of the fresh database. */
  readonly config: MysqlConfig.MysqlConfig
}

/**
 * Probes the server (with CI=true it never skips), creates a fresh database for the file and registers an
 * `afterAll` that drops it.
 */
export const database = async (label: string, prefix: string): Promise<Database> => {
  const reason = await unreachable(label)
  const name = `${prefix}_${randomBytes(4).toString("hex")}`
  if (reason === undefined) {
    // The sink's LOAD DATA LOCAL INFILE path needs the server's local_infile (MySQL 8 defaults it to OFF).
    await withConnection((c) => c.query("set global local_infile = 1"))
    await withConnection((c) => c.query(`create database \`${name}\` character set utf8mb4 collate utf8mb4_bin`))
    afterAll(() => withConnection((c) => c.query(`drop database if exists \`${name}\``)))
  }
  return { unreachable: reason, name, config: { ...server, database: name, connectTimeoutMs: 5_000 } }
}
