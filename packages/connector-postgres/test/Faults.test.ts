import { inspect } from "node:util"
import { PostgresError, Sql } from "@data-mcp/connector-postgres"
import { ConnectorError } from "@data-mcp/core"
import { assert, describe, it } from "@effect/vitest"

// No server here: every error is built by hand, shaped as pg and Node shape theirs.

/** The shape of pg-protocol's `DatabaseError` (the driver's class for a server ErrorResponse). */
class DatabaseError extends Error {
  code: string | undefined
  severity: string | undefined
  detail: string | undefined
  routine: string | undefined
  constructor(
    message: string,
    readonly length: number,
    override readonly name: string
  ) {
    super(message)
  }
}

const PASSWORD = "pw-Tr0ub4dor&3"
const VALUE = "alice@example.com"

/** A pg `DatabaseError` as the driver builds it from an ErrorResponse. The message and detail carry a value. */
const dbError = (code: string, fields: Partial<Record<string, string>> = {}, message = `boom ${VALUE}`) => {
  const error = new DatabaseError(message, message.length, "error")
  error.code = code
  error.severity = "ERROR"
  error.detail = `Key (email)=(${VALUE}) already exists; password=${PASSWORD}`
  error.routine = "fake"
  Object.assign(error, fields)
  return error
}

/** A Node socket error. */
const nodeError = (code: string) =>
  Object.assign(new Error(`connect ${code} postgres://u:${PASSWORD}@db:5432/x`), {
    code,
    errno: -1,
    syscall: "connect"
  })

/** A driver error with no code, only a message. */
const driverError = (message: string) => new Error(`${message} (postgres://u:${PASSWORD}@db/x)`)

type Case = readonly [name: string, cause: unknown, tag: ConnectorError.Reason["_tag"], retryable: boolean]

const cases: ReadonlyArray<Case> = [
  ["40001 serialization failure", dbError("40001"), "Contention", true],
  ["40P01 deadlock", dbError("40P01"), "Contention", true],
  ["55P03 lock not available", dbError("55P03"), "Contention", true],
  ["57P01 admin shutdown", dbError("57P01"), "ConnectionError", true],
  ["57P02 crash shutdown", dbError("57P02"), "ConnectionError", true],
  ["57P03 cannot connect now", dbError("57P03"), "ConnectionError", true],
  ["57P05 idle session timeout", dbError("57P05"), "ConnectionError", true],
  ["53300 too many connections", dbError("53300"), "ConnectionError", true],
  ["08006 connection failure", dbError("08006"), "ConnectionError", true],
  ["08001 cannot establish", dbError("08001"), "ConnectionError", true],
  ["08P01 protocol violation", dbError("08P01"), "ConnectionError", true],
  ["57014 statement timeout", dbError("57014"), "Timeout", true],
  [
    "28P01 bad password",
    dbError("28P01", {}, `password authentication failed for user "etl"`),
    "AuthenticationError",
    false
  ],
  ["28000 pg_hba refused", dbError("28000"), "AuthenticationError", false],
  ["42501 insufficient privilege", dbError("42501"), "AuthenticationError", false],
  ["3D000 database missing", dbError("3D000", {}, `database "shop" does not exist`), "NotFound", false],
  ["3F000 schema missing", dbError("3F000", {}, `schema "raw" does not exist`), "NotFound", false],
  ["42601 syntax error", dbError("42601", { position: "15" }, `syntax error at or near "${VALUE}"`), "Unknown", false],
  ["42P01 undefined table", dbError("42P01", {}, `relation "orders" does not exist`), "Unknown", false],
  [
    "42703 undefined column",
    dbError("42703", {}, `column "amount" of relation "orders" does not exist`),
    "Unknown",
    false
  ],
  ["42883 undefined function", dbError("42883"), "Unknown", false],
  ["42P07 other class 42 (duplicate table)", dbError("42P07"), "Unknown", false],
  ["0A000 feature not supported", dbError("0A000"), "Unknown", false],
  ["25006 write in a read-only transaction", dbError("25006"), "Unknown", false],
  [
    "23505 unique violation",
    dbError("23505", { table: "users", constraint: "users_email_key" }),
    "InvalidRecord",
    false
  ],
  ["23503 foreign key violation", dbError("23503"), "InvalidRecord", false],
  ["23502 not null violation", dbError("23502", { column: "email" }), "InvalidRecord", false],
  [
    "22P02 invalid text representation",
    dbError("22P02", {}, `invalid input syntax for type integer: "${VALUE}"`),
    "InvalidRecord",
    false
  ],
  ["22003 numeric out of range", dbError("22003"), "InvalidRecord", false],
  ["22001 string too long", dbError("22001"), "InvalidRecord", false],
  ["ECONNREFUSED", nodeError("ECONNREFUSED"), "ConnectionError", true],
  ["ECONNRESET", nodeError("ECONNRESET"), "ConnectionError", true],
  ["ETIMEDOUT", nodeError("ETIMEDOUT"), "ConnectionError", true],
  ["EPIPE", nodeError("EPIPE"), "ConnectionError", true],
  ["ECONNABORTED", nodeError("ECONNABORTED"), "ConnectionError", true],
  ["EHOSTUNREACH", nodeError("EHOSTUNREACH"), "ConnectionError", true],
  ["ENETUNREACH", nodeError("ENETUNREACH"), "ConnectionError", true],
  ["EAI_AGAIN", nodeError("EAI_AGAIN"), "ConnectionError", true],
  ["ENOTFOUND", nodeError("ENOTFOUND"), "ConnectionError", true],
  ["DEPTH_ZERO_SELF_SIGNED_CERT", nodeError("DEPTH_ZERO_SELF_SIGNED_CERT"), "Unknown", false],
  ["SELF_SIGNED_CERT_IN_CHAIN", nodeError("SELF_SIGNED_CERT_IN_CHAIN"), "Unknown", false],
  ["UNABLE_TO_VERIFY_LEAF_SIGNATURE", nodeError("UNABLE_TO_VERIFY_LEAF_SIGNATURE"), "Unknown", false],
  ["CERT_HAS_EXPIRED", nodeError("CERT_HAS_EXPIRED"), "Unknown", false],
  ["ERR_TLS_CERT_ALTNAME_INVALID", nodeError("ERR_TLS_CERT_ALTNAME_INVALID"), "Unknown", false],
  ["Connection terminated unexpectedly", driverError("Connection terminated unexpectedly"), "ConnectionError", true],
  [
    "Connection terminated due to connection timeout",
    driverError("Connection terminated due to connection timeout"),
    "ConnectionError",
    true
  ],
  [
    "client not queryable after a connection error",
    driverError("Client has encountered a connection error and is not queryable"),
    "ConnectionError",
    true
  ],
  ["pool connect timeout", driverError("timeout exceeded when trying to connect"), "Timeout", true],
  ["query read timeout", driverError("Query read timeout"), "Timeout", true],
  [
    "SCRAM without a password",
    driverError("SASL: SCRAM-SERVER-FIRST-MESSAGE: client password must be a string"),
    "AuthenticationError",
    false
  ],
  ["server without TLS", driverError("The server does not support SSL connections"), "Unknown", false],
  // Not in the table: Unknown, not retryable.
  ["XX000 internal error", dbError("XX000"), "Unknown", false],
  ["a plain Error", new Error(`something odd ${PASSWORD}`), "Unknown", false],
  ["a thrown string", `raw ${PASSWORD}`, "Unknown", false],
  ["undefined", undefined, "Unknown", false]
]

const shows = (reason: ConnectorError.Reason, operation: string): ReadonlyArray<string> => {
  const error = ConnectorError.make("postgres", operation, reason)
  return [reason.detail ?? "", error.message, String(error)]
}

describe("PostgresError.classify", () => {
  for (const [name, cause, tag, retryable] of cases) {
    it(`${name} → ${tag}${retryable ? " (retryable)" : " (fatal)"}`, () => {
      const reason = PostgresError.classify(cause, "write")
      assert.strictEqual(reason._tag, tag)
      assert.strictEqual(reason.retryable, retryable)
      assert.strictEqual(reason.cause, cause, "the native error is kept as the cause")
      assert.isString(reason.detail)
      for (const shown of shows(reason, "write")) {
        assert.notInclude(shown, PASSWORD)
        assert.notInclude(shown, VALUE)
        assert.notInclude(shown, "postgres://")
      }
    })
  }

  it("every row of the table is exercised by a case above", () => {
    const hit = new Set(cases.map(([, cause]) => PostgresError.match(cause)?.rule))
    const missed = PostgresError.rules.filter((rule) => !hit.has(rule)).map((rule) => rule.condition)
    assert.deepStrictEqual(missed, [])
  })

  it("exact codes win over their class (order of the table)", () => {
    assert.strictEqual(PostgresError.match(dbError("28P01"))?.rule.condition, "invalid_password")
    assert.strictEqual(PostgresError.match(dbError("28000"))?.rule.condition, "invalid_authorization_specification")
    assert.strictEqual(PostgresError.match(dbError("42P01"))?.rule.condition, "undefined_table")
    assert.strictEqual(PostgresError.match(dbError("42P07"))?.rule.condition, "syntax_error_or_access_rule_violation")
  })

  it("details name the condition, the SQLSTATE and catalog objects, and say what to fix", () => {
    const unique = PostgresError.classify(dbError("23505", { table: "users", constraint: "users_email_key" }), "write")
    assert.strictEqual(
      unique.detail,
      'A record was refused (SQLSTATE 23505 integrity_constraint_violation, table "users", constraint "users_email_key"): the record violates a constraint (unique, foreign key, not null, check); fix the record or the constraint'
    )
    const table = PostgresError.classify(dbError("42P01", {}, `relation "public.orders" does not exist`), "read")
    assert.include(table.detail, 'relation "public.orders"')
    assert.include(table.detail, "SQLSTATE 42P01 undefined_table")
    const column = PostgresError.classify(
      dbError("42703", {}, `column "amount" of relation "orders" does not exist`),
      "read"
    )
    assert.include(column.detail, 'column "amount"')
    assert.include(column.detail, 'relation "orders"')
    const db = PostgresError.classify(dbError("3D000", {}, `database "shop" does not exist`), "connect")
    assert.include(db.detail, 'database "shop"')
    assert.include(db.detail, "check database")
    const syntax = PostgresError.classify(
      dbError("42601", { position: "15" }, `syntax error at or near "${VALUE}"`),
      "read"
    )
    assert.include(syntax.detail, "at character 15")
    const timeout = PostgresError.classify(dbError("57014"), "read")
    assert.include(timeout.detail, "statementTimeoutMs")
    const refused = PostgresError.classify(nodeError("ECONNREFUSED"), "connect")
    assert.strictEqual(
      refused.detail,
      "Connection problem (ECONNREFUSED): the server could not be reached; check host, port and network, and that PostgreSQL is running"
    )
  })

  it("a bad value read vs written reads differently", () => {
    assert.match(PostgresError.classify(dbError("22P02"), "read").detail ?? "", /^A row could not be read/)
    assert.match(PostgresError.classify(dbError("22P02"), "write").detail ?? "", /^A record was refused/)
  })

  it("a COPY error gives the record's index and column, never the value", () => {
    const cause = dbError("22P02", { where: `COPY orders, line 3, column amount: "${VALUE}"` })
    const reason = PostgresError.classify(cause, "write")
    assert.strictEqual(reason._tag, "InvalidRecord")
    assert.strictEqual(reason._tag === "InvalidRecord" ? reason.index : undefined, 2)
    assert.include(reason.detail, "COPY line 3")
    assert.include(reason.detail, 'column "amount"')
    assert.notInclude(reason.detail, VALUE)
  })

  it("finds the code inside an AggregateError and a cause chain", () => {
    const aggregate = new AggregateError([nodeError("ECONNREFUSED"), nodeError("ECONNREFUSED")], "connect failed")
    assert.strictEqual(PostgresError.classify(aggregate, "connect")._tag, "ConnectionError")
    const wrapped = new Error("query failed", { cause: dbError("40001") })
    assert.strictEqual(PostgresError.classify(wrapped, "write")._tag, "Contention")
    // A code anywhere beats a message: the wrapper's message mentions a terminated connection.
    const both = new Error("Connection terminated", { cause: dbError("23505") })
    assert.strictEqual(PostgresError.classify(both, "write")._tag, "InvalidRecord")
  })

  it("an unknown SQLSTATE or Node code is named, the message is not", () => {
    const reason = PostgresError.classify(dbError("XX000"), "read")
    assert.strictEqual(
      reason.detail,
      "Unexpected error during read (SQLSTATE XX000); see the cause for the driver's message"
    )
    const node = PostgresError.classify(nodeError("EWEIRD"), "read")
    assert.include(node.detail, '"EWEIRD"')
    assert.isFalse(node.retryable)
  })

  it("a ConnectorError keeps its reason; a refused query is Unknown and fatal", () => {
    const original = ConnectorError.make("postgres", "read", new ConnectorError.Timeout({ detail: "slow" }))
    assert.strictEqual(PostgresError.classify(original, "write"), original.reason)
    assert.strictEqual(PostgresError.toConnectorError(original, "write"), original)
    let refused: unknown
    try {
      Sql.sql`select 1; select 2`
    } catch (error) {
      refused = error
    }
    const reason = PostgresError.classify(refused, "read")
    assert.strictEqual(reason._tag, "Unknown")
    assert.isFalse(reason.retryable)
    assert.include(reason.detail, "one statement")
  })

  it("toConnectorError names the connector and operation; retryable follows the reason", () => {
    const error = PostgresError.toConnectorError(dbError("40P01"), "write")
    assert.instanceOf(error, ConnectorError.ConnectorError)
    assert.strictEqual(error.connector, "postgres")
    assert.strictEqual(error.operation, "write")
    assert.isTrue(error.retryable)
    assert.match(
      error.message,
      /^postgres write failed \(Contention\): Contention \(SQLSTATE 40P01 deadlock_detected\)/
    )
    assert.isFalse(PostgresError.toConnectorError(dbError("23505"), "write").retryable)
  })

  it("the error's message and JSON never carry the password or a value", () => {
    for (const [, cause] of cases) {
      const error = PostgresError.toConnectorError(cause, "write")
      assert.notInclude(error.message, PASSWORD)
      assert.notInclude(error.message, VALUE)
      assert.notInclude(JSON.stringify({ message: error.message, detail: error.reason.detail }), PASSWORD)
      // util.inspect shows the native cause for debugging; the connection string in a driver message is the
      // driver's, so only the detail and message are promised clean. The detail line itself is clean:
      assert.notInclude(inspect(error.reason.detail), PASSWORD)
    }
  })
})
