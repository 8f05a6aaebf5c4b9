/**
 * Every error the `pg` driver raises is classified here, in one ordered table: PostgreSQL's SQLSTATE (an
 * exact code or a two-character class), Node's network error codes, and the few driver messages that carry no
 * code. The first matching row gives the `ConnectorError` reason — and with it `retryable` — plus a detail
 * that says what to fix. The native error stays on the reason as `cause`; the detail is built only from the
 * code and catalog names (schema, table, column, constraint), never from the server's message, so it holds no
 * bound value, record value or connection string.
 *
 * @since 0.1.0
 */
import { ConnectorError } from "@data-mcp/core"
import { SqlError } from "./Sql.ts"

/**
 * The reason a row of the table produces.
 *
 * @category models
 * @since 0.1.0
 */
export type ReasonTag = Exclude<ConnectorError.Reason["_tag"], "RateLimited">

/**
 * What a row of the table matches: an exact SQLSTATE, a SQLSTATE class (its first two characters), a Node
 * error `code`, or — for driver errors that carry no code — the error's message.
 *
 * @category models
 * @since 0.1.0
 */
export type Match =
  | { readonly _tag: "Sqlstate"; readonly code: string }
  | { readonly _tag: "SqlstateClass"; readonly prefix: string }
  | { readonly _tag: "NodeCode"; readonly code: string }
  | { readonly _tag: "Message"; readonly pattern: RegExp }

/**
 * One row of the classification table.
 *
 * @category models
 * @since 0.1.0
 */
export interface Rule {
  readonly match: Match
  /** The condition's name (PostgreSQL's name for a SQLSTATE). */
  readonly condition: string
  /** The reason it becomes; `retryable` follows from it. */
  readonly reason: ReasonTag
  /** What went wrong and what to fix, in words. */
  readonly fix: string
}

const sqlstate = (code: string, condition: string, reason: ReasonTag, fix: string): Rule => ({
  match: { _tag: "Sqlstate", code },
  condition,
  reason,
  fix
})
const sqlclass = (prefix: string, condition: string, reason: ReasonTag, fix: string): Rule => ({
  match: { _tag: "SqlstateClass", prefix },
  condition,
  reason,
  fix
})
const node = (code: string, reason: ReasonTag, fix: string): Rule => ({
  match: { _tag: "NodeCode", code },
  condition: code,
  reason,
  fix
})
const message = (pattern: RegExp, condition: string, reason: ReasonTag, fix: string): Rule => ({
  match: { _tag: "Message", pattern },
  condition,
  reason,
  fix
})

const NETWORK_FIX = "the server could not be reached; check host, port and network, and that PostgreSQL is running"
const TLS_FIX =
  "the server's TLS certificate was rejected; give the CA with ssl.ca, fix ssl.servername, or (not for production) set ssl.rejectUnauthorized to false"

/**
 * The classification table, in the order it is searched: exact codes before their class, the first match
 * wins. Anything that matches no row is `Unknown` and not retryable.
 *
 * @category classification
 * @since 0.1.0
 */
export const rules: ReadonlyArray<Rule> = [
  // Contention: retry the transaction.
  sqlstate(
    "40001",
    "serialization_failure",
    "Contention",
    "a concurrent transaction conflicted; retry the transaction"
  ),
  sqlstate("40P01", "deadlock_detected", "Contention", "a deadlock was broken by aborting this transaction; retry it"),
  sqlstate(
    "55P03",
    "lock_not_available",
    "Contention",
    "a lock could not be taken in time (lock_timeout or NOWAIT); retry, or find the long transaction holding it"
  ),
  // The server went away or refused the session: reconnect and retry.
  sqlstate("57P01", "admin_shutdown", "ConnectionError", "the server is shutting down; retry once it is back"),
  sqlstate("57P02", "crash_shutdown", "ConnectionError", "the server crashed and is restarting; retry once it is back"),
  sqlstate(
    "57P03",
    "cannot_connect_now",
    "ConnectionError",
    "the server is starting up or in recovery; retry in a moment"
  ),
  sqlstate(
    "57P05",
    "idle_session_timeout",
    "ConnectionError",
    "the server closed an idle session (idle_session_timeout); retry on a new connection"
  ),
  sqlstate(
    "53300",
    "too_many_connections",
    "ConnectionError",
    "the server has no free connection slots; lower poolSize or the number of concurrent runs, or raise max_connections"
  ),
  sqlclass(
    "08",
    "connection_exception",
    "ConnectionError",
    "the connection failed or was lost; retry on a new connection"
  ),
  // Timeouts.
  sqlstate(
    "57014",
    "query_canceled",
    "Timeout",
    "the statement was cancelled (statement_timeout); retry, narrow the query, or raise statementTimeoutMs"
  ),
  // Credentials and privileges.
  sqlstate("28P01", "invalid_password", "AuthenticationError", "the password was refused; check user and password"),
  sqlclass(
    "28",
    "invalid_authorization_specification",
    "AuthenticationError",
    "the server refused this user, host or database (pg_hba.conf); check user, database, ssl and the server's pg_hba.conf"
  ),
  sqlstate(
    "42501",
    "insufficient_privilege",
    "AuthenticationError",
    "the user lacks a privilege on the object; GRANT it, or connect as a user that has it"
  ),
  // Missing objects.
  sqlstate("3D000", "invalid_catalog_name", "NotFound", "the database does not exist; check database (or create it)"),
  sqlstate("3F000", "invalid_schema_name", "NotFound", "the schema does not exist; check schema (or create it)"),
  // Mistakes in the statement itself: fatal, fix the query or the target.
  sqlstate("42601", "syntax_error", "Unknown", "the statement has a syntax error; fix the query"),
  sqlstate("42P01", "undefined_table", "Unknown", "the table does not exist; check the table name and schema"),
  sqlstate("42703", "undefined_column", "Unknown", "the column does not exist; check the column name"),
  sqlstate(
    "42883",
    "undefined_function",
    "Unknown",
    "no function or operator matches these argument types; check the name and add explicit casts"
  ),
  sqlclass("42", "syntax_error_or_access_rule_violation", "Unknown", "the statement is invalid; fix the query"),
  sqlstate(
    "0A000",
    "feature_not_supported",
    "Unknown",
    "the statement uses something PostgreSQL does not support there (for example a data-modifying WITH inside a query stream, which may only read); rewrite the query"
  ),
  sqlstate(
    "25006",
    "read_only_sql_transaction",
    "Unknown",
    "the statement tried to write in a read-only transaction; a source only reads: remove the insert, update, delete, locking clause or other write from the query"
  ),
  // Bad records: dead-letter the record, the run goes on.
  sqlclass(
    "23",
    "integrity_constraint_violation",
    "InvalidRecord",
    "the record violates a constraint (unique, foreign key, not null, check); fix the record or the constraint"
  ),
  sqlclass(
    "22",
    "data_exception",
    "InvalidRecord",
    "a value does not fit its column (bad text representation, out of range, too long); fix the record or the column type"
  ),
  // Node network errors.
  node("ECONNREFUSED", "ConnectionError", NETWORK_FIX),
  node("ECONNRESET", "ConnectionError", "the connection was reset; retry on a new connection"),
  node("ETIMEDOUT", "ConnectionError", NETWORK_FIX),
  node("EPIPE", "ConnectionError", "the connection was closed while writing; retry on a new connection"),
  node("ECONNABORTED", "ConnectionError", "the connection was aborted; retry on a new connection"),
  node("EHOSTUNREACH", "ConnectionError", NETWORK_FIX),
  node("ENETUNREACH", "ConnectionError", NETWORK_FIX),
  node("EAI_AGAIN", "ConnectionError", "the host name could not be resolved right now; retry, or check DNS"),
  node("ENOTFOUND", "ConnectionError", "the host name does not resolve; check host"),
  node("DEPTH_ZERO_SELF_SIGNED_CERT", "Unknown", TLS_FIX),
  node("SELF_SIGNED_CERT_IN_CHAIN", "Unknown", TLS_FIX),
  node("UNABLE_TO_VERIFY_LEAF_SIGNATURE", "Unknown", TLS_FIX),
  node("CERT_HAS_EXPIRED", "Unknown", TLS_FIX),
  node("ERR_TLS_CERT_ALTNAME_INVALID", "Unknown", TLS_FIX),
  // Driver errors that carry no code.
  message(
    /Connection terminated|connection error and is not queryable/i,
    "connection_terminated",
    "ConnectionError",
    "the connection was closed unexpectedly; retry on a new connection"
  ),
  message(
    /timeout exceeded when trying to connect/i,
    "pool_connect_timeout",
    "Timeout",
    "no connection could be opened or taken from the pool in time; retry, raise connectTimeoutMs, or lower the load"
  ),
  message(/Query read timeout/i, "query_read_timeout", "Timeout", "the server did not answer in time; retry"),
  message(
    /SASL|password must be a string|password authentication/i,
    "authentication_setup",
    "AuthenticationError",
    "the server asked for a password the config does not give; set password or put it in connectionString"
  ),
  message(
    /does not support SSL/i,
    "ssl_not_supported",
    "Unknown",
    "the server does not accept TLS; set ssl to false, or enable ssl on the server"
  )
]

const LABEL: Record<ReasonTag, string> = {
  ConnectionError: "Connection problem",
  AuthenticationError: "Authentication failed",
  Timeout: "Timed out",
  Contention: "Contention",
  InvalidRecord: "Invalid record",
  NotFound: "Not found",
  Unknown: "PostgreSQL error"
}

interface Native {
  readonly code?: unknown
  readonly message?: unknown
  readonly severity?: unknown
  readonly schema?: unknown
  readonly table?: unknown
  readonly column?: unknown
  readonly constraint?: unknown
  readonly dataType?: unknown
  readonly position?: unknown
  readonly where?: unknown
  readonly errors?: unknown
  readonly cause?: unknown
}

const isObject = (u: unknown): u is Native => typeof u === "object" && u !== null

const SQLSTATE = /^[0-9A-Z]{5}$/

const matches = (rule: Rule, native: Native): boolean => {
  const code = typeof native.code === "string" ? native.code : undefined
  switch (rule.match._tag) {
    case "Sqlstate":
      return code === rule.match.code
    case "SqlstateClass":
      return code !== undefined && SQLSTATE.test(code) && code.startsWith(rule.match.prefix)
    case "NodeCode":
      return code === rule.match.code
    case "Message":
      return typeof native.message === "string" && rule.match.pattern.test(native.message)
  }
}

/**
 * The first row of the table that matches the error (or an error it wraps), with the error it matched.
 *
 * @category classification
 * @since 0.1.0
 */
export const match = (cause: unknown): { readonly rule: Rule; readonly native: unknown } | undefined =>
  ConnectorError.findRule<Rule, Native>(cause, rules, {
    byMessage: (rule) => rule.match._tag === "Message",
    matches
  })

const name = (u: unknown): string | undefined => {
  if (typeof u !== "string" || u.length === 0) return undefined
  return JSON.stringify(u.length > 63 ? `${u.slice(0, 63)}…` : u)
}

/** Catalog names quoted in the server's message for the few conditions whose fields do not carry them. */
const namesFromMessage = (code: string, text: string): Array<string> => {
  const pick = (pattern: RegExp, label: string): Array<string> => {
    const found = pattern.exec(text)?.[1]
    const quoted = name(found)
    return quoted === undefined ? [] : [`${label} ${quoted}`]
  }
  switch (code) {
    case "42P01":
      return pick(/relation "([^"]+)" does not exist/, "relation")
    case "42703":
      return [
        ...pick(/column "?([^"\s]+)"? (?:of relation "[^"]+" )?does not exist/, "column"),
        ...pick(/of relation "([^"]+)"/, "relation")
      ]
    case "3D000":
      return pick(/database "([^"]+)" does not exist/, "database")
    case "3F000":
      return pick(/schema "([^"]+)" does not exist/, "schema")
    case "28P01":
    case "28000":
      return pick(/user "([^"]+)"/, "user")
    default:
      return []
  }
}

const COPY_WHERE = /^COPY [^,]+, line (\d+)(?:, column ([^:]+))?/

/** `line` of a COPY error (1-based), when the server said where. */
const copyLine = (native: Native): number | undefined => {
  if (typeof native.where !== "string") return undefined
  const line = COPY_WHERE.exec(native.where)?.[1]
  return line === undefined ? undefined : Number(line)
}

const context = (rule: Rule, native: Native): string => {
  const code = typeof native.code === "string" ? native.code : undefined
  const parts: Array<string> = []
  if (code !== undefined && rule.match._tag !== "NodeCode") parts.push(`SQLSTATE ${code} ${rule.condition}`)
  else parts.push(rule.condition)
  const catalog: Array<[string, unknown]> = [
    ["schema", native.schema],
    ["table", native.table],
    ["column", native.column],
    ["constraint", native.constraint],
    ["type", native.dataType]
  ]
  for (const [label, value] of catalog) {
    const quoted = name(value)
    if (quoted !== undefined) parts.push(`${label} ${quoted}`)
  }
  if (code !== undefined && typeof native.message === "string") parts.push(...namesFromMessage(code, native.message))
  const line = copyLine(native)
  if (line !== undefined) {
    parts.push(`COPY line ${line}`)
    const column = name(COPY_WHERE.exec(String(native.where))?.[2])
    if (column !== undefined && native.column === undefined) parts.push(`column ${column}`)
  }
  if (code === "42601" && typeof native.position === "string" && /^\d+$/.test(native.position)) {
    parts.push(`at character ${native.position}`)
  }
  return parts.join(", ")
}

const makeReason = (
  tag: ReasonTag,
  detail: string,
  cause: unknown,
  index: number | undefined
): ConnectorError.Reason => {
  switch (tag) {
    case "ConnectionError":
      return new ConnectorError.ConnectionError({ detail, cause })
    case "AuthenticationError":
      return new ConnectorError.AuthenticationError({ detail, cause })
    case "Timeout":
      return new ConnectorError.Timeout({ detail, cause })
    case "Contention":
      return new ConnectorError.Contention({ detail, cause })
    case "InvalidRecord":
      return new ConnectorError.InvalidRecord(index === undefined ? { detail, cause } : { detail, cause, index })
    case "NotFound":
      return new ConnectorError.NotFound({ detail, cause })
    case "Unknown":
      return new ConnectorError.Unknown({ detail, cause, transient: false })
  }
}

const READS = new Set(["read", "discover", "estimate", "check"])

/**
 * Classifies a native `pg` or Node error into a `ConnectorError` reason, by the first matching row of
 * `rules`. The native error is kept as `cause`; the detail names the condition, its SQLSTATE and the catalog
 * objects involved and says what to fix, but never quotes the server's message, a bound value or the
 * connection string. A `ConnectorError` passed in keeps its reason; a `SqlError` (a query refused before it
 * ran) is `Unknown` with its own detail. Anything else is `Unknown` and not retryable.
 *
 * **Example** (A serialization failure is retryable)
 *
 * ```ts
 * import { PostgresError } from "@data-mcp/connector-postgres"
 *
 * const native = Object.assign(new Error("could not serialize access"), { code: "40001", severity: "ERROR" })
 * const reason = PostgresError.classify(native, "write")
 * reason._tag      // "Contention"
 * reason.retryable // true
 * ```
 *
 * @category classification
 * @since 0.1.0
 */
export const classify = (cause: unknown, operation: string): ConnectorError.Reason => {
  if (ConnectorError.isConnectorError(cause)) return cause.reason
  if (cause instanceof SqlError) {
    return new ConnectorError.Unknown({ detail: `The query was refused before it ran: ${cause.detail}`, cause })
  }
  const found = match(cause)
  if (found === undefined) {
    const code = isObject(cause) && typeof cause.code === "string" ? cause.code : undefined
    const kind = code === undefined ? "" : SQLSTATE.test(code) ? ` (SQLSTATE ${code})` : ` (${name(code)})`
    return new ConnectorError.Unknown({
      detail: `Unexpected error during ${operation}${kind}; see the cause for the driver's message`,
      cause,
      transient: false
    })
  }
  const { native, rule } = found
  const info = isObject(native) ? native : {}
  const line = copyLine(info)
  const subject =
    rule.reason === "InvalidRecord" ? (READS.has(operation) ? "A row could not be read" : "A record was refused") : null
  const detail = `${subject ?? LABEL[rule.reason]} (${context(rule, info)}): ${rule.fix}`
  return makeReason(rule.reason, detail, cause, line === undefined ? undefined : line - 1)
}

/**
 * Wraps a native error as the `ConnectorError` of the `postgres` connector for `operation` (`read`, `write`,
 * `connect`, `check`, …), its reason from `classify`.
 *
 * **Example** (Mapping a promise rejection)
 *
 * ```ts
 * import { PostgresError, Sql } from "@data-mcp/connector-postgres"
 * import { Effect } from "effect"
 * import type pg from "pg"
 *
 * const ping = (client: pg.Client) =>
 *   Effect.tryPromise({
 *     try: () => client.query(Sql.toQueryConfig(Sql.sql`select 1`)),
 *     catch: (cause) => PostgresError.toConnectorError(cause, "check")
 *   })
 * ```
 *
 * @category classification
 * @since 0.1.0
 */
export const toConnectorError = (cause: unknown, operation: string): ConnectorError.ConnectorError =>
  ConnectorError.isConnectorError(cause)
    ? cause
    : ConnectorError.make("postgres", operation, classify(cause, operation))
