/**
 * Every error `mysql2` raises is classified here, in one ordered table: the server's error number (`errno`,
 * the same on MySQL and MariaDB), the driver's and Node's error codes, and the few driver messages that carry
 * neither. The first matching row gives the `ConnectorError` reason — and with it `retryable` — plus a detail
 * that says what to fix. The native error stays on the reason as `cause`; the detail is built from the code and
 * the condition's name only, never from the server's message, so it holds no bound value or record value.
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
 * What a row of the table matches: a server error number, a driver or Node error `code`, or — for errors that
 * carry neither — the error's message.
 *
 * @category models
 * @since 0.1.0
 */
export type Match =
  | { readonly _tag: "Errno"; readonly errno: number }
  | { readonly _tag: "Code"; readonly code: string }
  | { readonly _tag: "Message"; readonly pattern: RegExp }

/**
 * One row of the classification table.
 *
 * @category models
 * @since 0.1.0
 */
export interface Rule {
  readonly match: Match
  /** The condition's name (the server's `ER_…` name, or the driver's code). */
  readonly condition: string
  /** The reason it becomes; `retryable` follows from it. */
  readonly reason: ReasonTag
  /** What went wrong and what to fix, in words. */
  readonly fix: string
}

const errno = (n: number, condition: string, reason: ReasonTag, fix: string): Rule => ({
  match: { _tag: "Errno", errno: n },
  condition,
  reason,
  fix
})
const code = (c: string, reason: ReasonTag, fix: string): Rule => ({
  match: { _tag: "Code", code: c },
  condition: c,
  reason,
  fix
})
const message = (pattern: RegExp, condition: string, reason: ReasonTag, fix: string): Rule => ({
  match: { _tag: "Message", pattern },
  condition,
  reason,
  fix
})

const LOST = "the connection was lost (killed, reset or timed out); retry on a new connection"
const NETWORK = "the server could not be reached; check host, port and network, and that the server is running"
const RECORD = "a value does not fit its column (type, range, length or NOT NULL); fix the record or the column"

/**
 * The classification table, in the order it is searched; the first match wins. Anything that matches no row is
 * `Unknown` and not retryable.
 *
 * @category classification
 * @since 0.1.0
 */
export const rules: ReadonlyArray<Rule> = [
  // Contention: retry the transaction.
  errno(1213, "ER_LOCK_DEADLOCK", "Contention", "a deadlock was broken by rolling this transaction back; retry it"),
  errno(
    1205,
    "ER_LOCK_WAIT_TIMEOUT",
    "Contention",
    "a lock could not be taken in time (innodb_lock_wait_timeout); retry, or find the long transaction holding it"
  ),
  errno(1020, "ER_CHECKREAD", "Contention", "the row changed since it was read; retry the transaction"),
  // The server went away or refused the session: reconnect and retry.
  errno(
    1040,
    "ER_CON_COUNT_ERROR",
    "ConnectionError",
    "the server has no free connection slots; lower poolSize or the concurrent runs, or raise max_connections"
  ),
  errno(
    1203,
    "ER_TOO_MANY_USER_CONNECTIONS",
    "ConnectionError",
    "the user has too many connections open; lower poolSize or raise max_user_connections"
  ),
  errno(1053, "ER_SERVER_SHUTDOWN", "ConnectionError", "the server is shutting down; retry once it is back"),
  errno(1077, "ER_NORMAL_SHUTDOWN", "ConnectionError", "the server is shutting down; retry once it is back"),
  errno(1152, "ER_ABORTING_CONNECTION", "ConnectionError", LOST),
  errno(1158, "ER_NET_READ_ERROR", "ConnectionError", LOST),
  errno(1159, "ER_NET_READ_INTERRUPTED", "ConnectionError", LOST),
  errno(1160, "ER_NET_ERROR_ON_WRITE", "ConnectionError", LOST),
  errno(1161, "ER_NET_WRITE_INTERRUPTED", "ConnectionError", LOST),
  errno(1927, "ER_CONNECTION_KILLED", "ConnectionError", LOST),
  errno(4031, "ER_CLIENT_INTERACTION_TIMEOUT", "ConnectionError", LOST),
  errno(2006, "CR_SERVER_GONE_ERROR", "ConnectionError", LOST),
  errno(2013, "CR_SERVER_LOST", "ConnectionError", LOST),
  errno(1792, "ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION", "Unknown", "a write ran in a READ ONLY transaction"),
  // Timeouts.
  errno(
    1317,
    "ER_QUERY_INTERRUPTED",
    "Timeout",
    "the statement was interrupted (KILL QUERY or a statement timeout); retry, or narrow the query"
  ),
  errno(
    3024,
    "ER_QUERY_TIMEOUT",
    "Timeout",
    "the statement exceeded max_execution_time; retry, narrow the query, or raise the limit"
  ),
  errno(
    1969,
    "ER_STATEMENT_TIMEOUT",
    "Timeout",
    "the statement exceeded max_statement_time; retry, narrow the query, or raise the limit"
  ),
  // Credentials and privileges.
  errno(1045, "ER_ACCESS_DENIED_ERROR", "AuthenticationError", "the user or password was refused; check both"),
  errno(
    1698,
    "ER_ACCESS_DENIED_NO_PASSWORD_ERROR",
    "AuthenticationError",
    "the user was refused (unknown user, or a password the account does not take); check user and password"
  ),
  errno(
    1044,
    "ER_DBACCESS_DENIED_ERROR",
    "AuthenticationError",
    "the user may not use this database; GRANT it, or connect as a user that may"
  ),
  errno(
    1142,
    "ER_TABLEACCESS_DENIED_ERROR",
    "AuthenticationError",
    "the user lacks a privilege on the table; GRANT it"
  ),
  errno(
    1143,
    "ER_COLUMNACCESS_DENIED_ERROR",
    "AuthenticationError",
    "the user lacks a privilege on a column; GRANT it"
  ),
  errno(
    1227,
    "ER_SPECIFIC_ACCESS_DENIED_ERROR",
    "AuthenticationError",
    "the statement needs a privilege the user lacks; GRANT it"
  ),
  errno(
    1251,
    "ER_NOT_SUPPORTED_AUTH_MODE",
    "AuthenticationError",
    "the server asks for an authentication method the client does not offer; change the user's plugin"
  ),
  // Missing objects.
  errno(1049, "ER_BAD_DB_ERROR", "NotFound", "the database does not exist; check database (or create it)"),
  // Mistakes in the statement or the target: fatal.
  errno(1146, "ER_NO_SUCH_TABLE", "Unknown", "the table does not exist; check the table name and database"),
  errno(1054, "ER_BAD_FIELD_ERROR", "Unknown", "a column does not exist; check the column names"),
  errno(1064, "ER_PARSE_ERROR", "Unknown", "the statement has a syntax error; fix the query"),
  errno(1050, "ER_TABLE_EXISTS_ERROR", "Unknown", "the table already exists"),
  errno(
    1062,
    "ER_DUP_ENTRY",
    "Unknown",
    "a row with the same unique key already exists; append into a table without that key, or use a merge disposition"
  ),
  errno(
    1586,
    "ER_DUP_ENTRY_WITH_KEY_NAME",
    "Unknown",
    "a row with the same unique key already exists; append into a table without that key, or use a merge disposition"
  ),
  errno(
    1153,
    "ER_NET_PACKET_TOO_LARGE",
    "Unknown",
    "a statement is larger than max_allowed_packet; lower the batch size or raise max_allowed_packet"
  ),
  errno(
    1148,
    "ER_NOT_ALLOWED_COMMAND",
    "Unknown",
    "LOAD DATA LOCAL INFILE is disabled on the server (local_infile = 0); enable it or use the INSERT path"
  ),
  errno(
    3948,
    "ER_CLIENT_LOCAL_FILES_DISABLED",
    "Unknown",
    "LOAD DATA LOCAL INFILE is disabled on the server (MySQL 8: local_infile = 0); enable it or use the INSERT path"
  ),
  errno(
    4166,
    "ER_LOAD_INFILE_CAPABILITY_DISABLED",
    "Unknown",
    "LOAD DATA LOCAL INFILE is disabled on the server (MariaDB 10.6+: local_infile = 0); enable it or use the INSERT path"
  ),
  // Bad records: the record is refused, the run goes on.
  errno(1048, "ER_BAD_NULL_ERROR", "InvalidRecord", RECORD),
  errno(1264, "ER_WARN_DATA_OUT_OF_RANGE", "InvalidRecord", RECORD),
  errno(1265, "WARN_DATA_TRUNCATED", "InvalidRecord", RECORD),
  errno(1292, "ER_TRUNCATED_WRONG_VALUE", "InvalidRecord", RECORD),
  errno(1366, "ER_TRUNCATED_WRONG_VALUE_FOR_FIELD", "InvalidRecord", RECORD),
  errno(1406, "ER_DATA_TOO_LONG", "InvalidRecord", RECORD),
  errno(1451, "ER_ROW_IS_REFERENCED_2", "InvalidRecord", "a foreign key refers to the row; fix the record"),
  errno(1452, "ER_NO_REFERENCED_ROW_2", "InvalidRecord", "a foreign key has no parent row; fix the record"),
  errno(3140, "ER_INVALID_JSON_TEXT", "InvalidRecord", "a JSON value is not valid JSON; fix the record"),
  errno(4025, "ER_CONSTRAINT_FAILED", "InvalidRecord", "a CHECK constraint refused the record; fix the record"),
  // Driver and Node errors.
  code("PROTOCOL_CONNECTION_LOST", "ConnectionError", LOST),
  code("PROTOCOL_SEQUENCE_TIMEOUT", "Timeout", "the server did not answer in time; retry"),
  code("PROTOCOL_ENQUEUE_AFTER_FATAL_ERROR", "ConnectionError", LOST),
  code("PROTOCOL_ENQUEUE_AFTER_QUIT", "ConnectionError", LOST),
  code("ECONNREFUSED", "ConnectionError", NETWORK),
  code("ECONNRESET", "ConnectionError", "the connection was reset; retry on a new connection"),
  code("EPIPE", "ConnectionError", "the connection was closed while writing; retry on a new connection"),
  code("ETIMEDOUT", "ConnectionError", NETWORK),
  code("ECONNABORTED", "ConnectionError", LOST),
  code("EHOSTUNREACH", "ConnectionError", NETWORK),
  code("ENETUNREACH", "ConnectionError", NETWORK),
  code("EAI_AGAIN", "ConnectionError", "the host name could not be resolved right now; retry, or check DNS"),
  code("ENOTFOUND", "ConnectionError", "the host name does not resolve; check host"),
  message(/Pool is closed/i, "pool_closed", "Unknown", "the connection pool was closed while in use"),
  message(
    /Connection lost|closed state|Can't add new command when connection is in closed state/i,
    "connection_closed",
    "ConnectionError",
    LOST
  ),
  message(
    /connect ETIMEDOUT|Connection timeout/i,
    "connect_timeout",
    "Timeout",
    "no connection could be opened in time; retry, or raise connectTimeoutMs"
  )
]

const LABEL: Record<ReasonTag, string> = {
  ConnectionError: "Connection problem",
  AuthenticationError: "Authentication failed",
  Timeout: "Timed out",
  Contention: "Contention",
  InvalidRecord: "Invalid record",
  NotFound: "Not found",
  Unknown: "MySQL error"
}

interface Native {
  readonly errno?: unknown
  readonly code?: unknown
  readonly sqlState?: unknown
  readonly message?: unknown
  readonly errors?: unknown
  readonly cause?: unknown
  readonly fatal?: unknown
}

const isObject = (u: unknown): u is Native => typeof u === "object" && u !== null

const matches = (rule: Rule, native: Native): boolean => {
  switch (rule.match._tag) {
    case "Errno":
      return native.errno === rule.match.errno
    case "Code":
      return native.code === rule.match.code
    case "Message":
      return typeof native.message === "string" && rule.match.pattern.test(native.message)
  }
}

/**
 * The first row of the table that matches the error (or an error it wraps), with the error it matched. Codes
 * are tried on every candidate before messages.
 *
 * @category classification
 * @since 0.1.0
 */
export const match = (cause: unknown): { readonly rule: Rule; readonly native: unknown } | undefined =>
  ConnectorError.findRule<Rule, Native>(cause, rules, {
    byMessage: (rule) => rule.match._tag === "Message",
    matches
  })

const makeReason = (tag: ReasonTag, detail: string, cause: unknown): ConnectorError.Reason => {
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
      return new ConnectorError.InvalidRecord({ detail, cause })
    case "NotFound":
      return new ConnectorError.NotFound({ detail, cause })
    case "Unknown":
      return new ConnectorError.Unknown({ detail, cause, transient: false })
  }
}

const SAFE_CODE = /^[A-Z0-9_]{1,64}$/

/**
 * Classifies a native `mysql2` or Node error into a `ConnectorError` reason, by the first matching row of
 * `rules`. The native error is kept as `cause`; the detail names the condition, its error number and SQLSTATE
 * and says what to fix, but never quotes the server's message (which can hold a value). A `ConnectorError`
 * passed in keeps its reason; a `SqlError` is `Unknown`. Anything else is `Unknown` and not retryable.
 *
 * **Example** (A deadlock is retryable)
 *
 * ```ts
 * import { MysqlError } from "@data-mcp/connector-mysql"
 *
 * const native = Object.assign(new Error("Deadlock found"), { errno: 1213, code: "ER_LOCK_DEADLOCK", sqlState: "40001" })
 * const reason = MysqlError.classify(native, "write")
 * reason._tag      // "Contention"
 * reason.retryable // true
 * ```
 *
 * @category classification
 * @since 0.1.0
 */
export const classify = (cause: unknown, operation: string): ConnectorError.Reason => {
  if (ConnectorError.isConnectorError(cause)) return cause.reason
  if (cause instanceof SqlError)
    return new ConnectorError.Unknown({ detail: `The query was refused before it ran: ${cause.detail}`, cause })
  const found = match(cause)
  if (found === undefined) {
    const info = isObject(cause) ? cause : {}
    const kind =
      typeof info.errno === "number"
        ? ` (errno ${info.errno}${typeof info.code === "string" && SAFE_CODE.test(info.code) ? ` ${info.code}` : ""})`
        : typeof info.code === "string" && SAFE_CODE.test(info.code)
          ? ` (${info.code})`
          : ""
    return new ConnectorError.Unknown({
      detail: `Unexpected error during ${operation}${kind}; see the cause for the driver's message`,
      cause,
      transient: false
    })
  }
  const { native, rule } = found
  const info = isObject(native) ? native : {}
  const parts: Array<string> = []
  if (rule.match._tag === "Errno") {
    parts.push(`errno ${rule.match.errno} ${rule.condition}`)
    if (typeof info.sqlState === "string" && /^[0-9A-Z]{5}$/.test(info.sqlState))
      parts.push(`SQLSTATE ${info.sqlState}`)
  } else parts.push(rule.condition)
  const subject =
    rule.reason === "InvalidRecord"
      ? operation === "read"
        ? "A row could not be read"
        : "A record was refused"
      : LABEL[rule.reason]
  return makeReason(rule.reason, `${subject} (${parts.join(", ")}) during ${operation}: ${rule.fix}`, cause)
}

/**
 * Wraps a native error as the `ConnectorError` of the `mysql` connector for `operation` (`read`, `write`,
 * `open`, `check`, …), its reason from `classify`.
 *
 * @category classification
 * @since 0.1.0
 */
export const toConnectorError = (cause: unknown, operation: string): ConnectorError.ConnectorError =>
  ConnectorError.isConnectorError(cause) ? cause : ConnectorError.make("mysql", operation, classify(cause, operation))
