// Every row of MysqlError's classification table, on native-shaped errors: no server needed.
import { ConnectorError } from "@data-mcp/core"
import { assert, describe, it } from "@effect/vitest"
import * as MysqlError from "../src/MysqlError.ts"
import { SqlError } from "../src/Sql.ts"

const server = (errno: number, code: string, message = "server says: 'value-123'") =>
  Object.assign(new Error(message), { errno, code, sqlState: "HY000", fatal: false })
const node = (code: string) => Object.assign(new Error(`connect ${code}`), { code })

describe("MysqlError.classify", () => {
  const cases: ReadonlyArray<readonly [unknown, string, boolean]> = [
    [server(1213, "ER_LOCK_DEADLOCK"), "Contention", true],
    [server(1205, "ER_LOCK_WAIT_TIMEOUT"), "Contention", true],
    [server(1040, "ER_CON_COUNT_ERROR"), "ConnectionError", true],
    [server(1927, "ER_CONNECTION_KILLED"), "ConnectionError", true],
    [server(2013, "CR_SERVER_LOST"), "ConnectionError", true],
    [node("PROTOCOL_CONNECTION_LOST"), "ConnectionError", true],
    [node("ECONNRESET"), "ConnectionError", true],
    [node("ECONNREFUSED"), "ConnectionError", true],
    [server(1317, "ER_QUERY_INTERRUPTED"), "Timeout", true],
    [server(1045, "ER_ACCESS_DENIED_ERROR"), "AuthenticationError", false],
    [server(1142, "ER_TABLEACCESS_DENIED_ERROR"), "AuthenticationError", false],
    [server(1049, "ER_BAD_DB_ERROR"), "NotFound", false],
    [server(1064, "ER_PARSE_ERROR"), "Unknown", false],
    [server(1146, "ER_NO_SUCH_TABLE"), "Unknown", false],
    [server(1054, "ER_BAD_FIELD_ERROR"), "Unknown", false],
    [server(1062, "ER_DUP_ENTRY"), "Unknown", false],
    [server(1406, "ER_DATA_TOO_LONG"), "InvalidRecord", false],
    [server(1366, "ER_TRUNCATED_WRONG_VALUE_FOR_FIELD"), "InvalidRecord", false],
    [server(1148, "ER_NOT_ALLOWED_COMMAND"), "Unknown", false],
    [server(3948, "ER_CLIENT_LOCAL_FILES_DISABLED"), "Unknown", false],
    [server(4166, "ER_LOAD_INFILE_CAPABILITY_DISABLED"), "Unknown", false]
  ]
  for (const [error, tag, retryable] of cases)
    it(`${(error as { code: string }).code} → ${tag}${retryable ? " (retryable)" : ""}`, () => {
      const reason = MysqlError.classify(error, "write")
      assert.strictEqual(reason._tag, tag)
      assert.strictEqual(reason.retryable, retryable)
      // The detail names the condition and never quotes the server's message (which can hold values).
      assert.notInclude(reason.detail ?? "", "value-123")
      assert.strictEqual(reason.cause, error)
    })

  it("every row of the table is reachable: no row shadows a later one with the same match", () => {
    const seen = new Set<string>()
    for (const rule of MysqlError.rules) {
      const key = JSON.stringify(rule.match, (_k, v) => (v instanceof RegExp ? String(v) : v))
      assert.isFalse(seen.has(key), key)
      seen.add(key)
    }
  })

  it("finds the code on a wrapped error, keeps a ConnectorError, and refuses to guess the rest", () => {
    const wrapped = Object.assign(new Error("outer"), { cause: server(1213, "ER_LOCK_DEADLOCK") })
    assert.strictEqual(MysqlError.classify(wrapped, "write")._tag, "Contention")
    const own = ConnectorError.make("mysql", "read", new ConnectorError.Timeout({ detail: "x" }))
    assert.strictEqual(MysqlError.classify(own, "write"), own.reason)
    assert.strictEqual(MysqlError.classify(new SqlError({ detail: "bad" }), "write")._tag, "Unknown")
    const unknown = MysqlError.classify(server(9999, "ER_SOMETHING_NEW"), "read")
    assert.strictEqual(unknown._tag, "Unknown")
    assert.isFalse(unknown.retryable)
    assert.include(unknown.detail ?? "", "errno 9999")
    const error = MysqlError.toConnectorError(server(1213, "ER_LOCK_DEADLOCK"), "write")
    assert.strictEqual(error.connector, "mysql")
    assert.isTrue(error.retryable)
  })
})
