/**
 * Every MCP call leaves an audit event — denied and unauthenticated ones too: who called (`sub`, `client_id`,
 * tenant, `jti`), what (tool or resource, pipeline and version, run id), how it ended (outcome, error tag and
 * reason, duration, HTTP status) and with which params, their sensitive fields replaced by keyed HMACs so equal
 * values can be joined without being readable. Events go to an append-only `AuditSink` (a log, a JSONL file);
 * a write that cannot be made rejects, and the caller fails the call closed.
 *
 * @since 0.1.0
 */
import { createHmac } from "node:crypto"
import { Redacted, Schema } from "effect"
import * as AppendFile from "./internal/ops/appendFile.ts"

/**
 * How a call ended: `ok`; `error` (the tool or resource failed); `denied` (authenticated, not allowed);
 * `unauthenticated` (no valid token or API key). `started` is written before a call that changes something (a run,
 * a cancel, a registration) acts: if it cannot be written, the call does nothing (fail closed).
 *
 * @category schemas
 * @since 0.1.0
 */
export const Outcome = Schema.Literals(["started", "ok", "error", "denied", "unauthenticated"])

/**
 * How a call ended.
 *
 * @category models
 * @since 0.1.0
 */
export type Outcome = typeof Outcome.Type

/**
 * One audit event, as written (one JSON object per line in the file and log sinks). Field names are the
 * snake_case of DESIGN §7 and OAuth claims, so log pipelines can index them as they are.
 *
 * @category schemas
 * @since 0.1.0
 */
export const AuditEvent = Schema.Struct({
  time: Schema.String.annotate({ description: "ISO 8601 time the call started." }),
  sub: Schema.optional(Schema.String.annotate({ description: "The caller's subject (token `sub`, API key id)." })),
  client_id: Schema.optional(Schema.String.annotate({ description: "The OAuth client, when known." })),
  tenant: Schema.optional(Schema.String.annotate({ description: "The tenant the caller acts for." })),
  jti: Schema.optional(Schema.String.annotate({ description: "The token's id, to tie calls to one token." })),
  method: Schema.optional(Schema.String.annotate({ description: "The MCP method (`tools/call`, `resources/read`)." })),
  tool: Schema.optional(Schema.String.annotate({ description: "The tool called." })),
  resource: Schema.optional(Schema.String.annotate({ description: "The resource URI read." })),
  pipeline: Schema.optional(Schema.String.annotate({ description: "The pipeline the call concerned." })),
  pipeline_version: Schema.optional(Schema.String.annotate({ description: "That pipeline's version." })),
  run_id: Schema.optional(Schema.String.annotate({ description: "The run the call started or concerned." })),
  outcome: Outcome,
  error: Schema.optional(
    Schema.Struct({
      tag: Schema.String.annotate({ description: "The error's `_tag` (`Forbidden`, `InvalidToken`)." }),
      reason: Schema.optional(
        Schema.String.annotate({
          description: "A short reason (`insufficient_scope`, `expired`); never a token, secret or record value."
        })
      )
    })
  ),
  duration_ms: Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0)),
  params: Schema.optional(
    Schema.Record(Schema.String, Schema.Json).annotate({
      description: "The call's params, sensitive fields replaced by `hmac-sha256:<hex>` (see `protectParams`)."
    })
  ),
  transport: Schema.optional(Schema.Literals(["http", "stdio"])),
  http_status: Schema.optional(Schema.Int.annotate({ description: "The HTTP status answered, over HTTP." }))
})

/**
 * One audit event.
 *
 * @category models
 * @since 0.1.0
 */
export type AuditEvent = typeof AuditEvent.Type

const CLOSED = "the sink is closed"

/**
 * An audit sink could not write an event: the call it records must fail closed. The message names the sink
 * and the system error code, never the event.
 *
 * @category errors
 * @since 0.1.0
 */
export class AuditError extends Schema.TaggedError<AuditError>("@data-mcp/mcp-adapter/AuditError")("AuditError", {
  sink: Schema.String,
  detail: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {
  /** A storage failure may pass; a malformed event, a short key or a closed sink will not. */
  get retryable(): boolean {
    return this.sink !== "encoder" && this.sink !== "protectParams" && this.detail !== CLOSED
  }

  override get message(): string {
    return this.sink === "protectParams"
      ? `Cannot protect the audit params: ${this.detail}`
      : `Could not write the audit event to the ${this.sink} sink: ${this.detail}`
  }
}

/**
 * Where audit events go. Append-only: a sink never rewrites or drops what it accepted.
 *
 * **Details**
 *
 * `write` resolves once the event is as durable as the sink makes it (the file sink: fsynced) and rejects with
 * an `AuditError` when it cannot write it; callers then fail the call closed. `close` waits for pending writes
 * and releases the sink; writes after it reject.
 *
 * @category models
 * @since 0.1.0
 */
export interface AuditSink {
  readonly write: (event: AuditEvent) => Promise<void>
  readonly close: () => Promise<void>
}

const encode = Schema.encodeUnknownSync(AuditEvent)

const codeOf = (cause: unknown): string => {
  const code = (cause as { code?: unknown } | null)?.code
  return typeof code === "string" ? code : cause instanceof AuditError ? cause.detail : "write failed"
}

/**
 * An event as one JSON line (with its newline). Throws an `AuditError` when the event does not match
 * `AuditEvent`, so a malformed event fails the call instead of writing a line log readers cannot parse.
 *
 * @category encoding
 * @since 0.1.0
 */
export const toJsonLine = (event: AuditEvent): string => {
  let encoded: unknown
  try {
    encoded = encode(event)
  } catch {
    // The schema issue can quote a value of the event: keep only that it was malformed, not the issue.
    throw new AuditError({ sink: "encoder", detail: "the event does not match AuditEvent" })
  }
  return `${JSON.stringify(encoded)}\n`
}

const closedError = (sink: string) => new AuditError({ sink, detail: CLOSED })

// A sink over a line writer: encodes each event, refuses writes after close, and wraps a writer's failure in an
// AuditError naming the sink (and the system error code, never the event).
const lineSink = (
  sink: string,
  writeLine: (line: string) => void | Promise<void>,
  close: () => Promise<void>
): AuditSink => {
  let closed = false
  return {
    write: async (event) => {
      if (closed) throw closedError(sink)
      const line = toJsonLine(event)
      try {
        await writeLine(line)
      } catch (cause) {
        throw new AuditError({ sink, detail: codeOf(cause), cause })
      }
    },
    close: () => {
      closed = true
      return close()
    }
  }
}

/**
 * Options of `logSink`.
 *
 * @category models
 * @since 0.1.0
 */
export interface LogSinkOptions {
  /**
   * Receives each line (with its newline). Default: `process.stderr` — never stdout, which stdio servers speak
   * MCP on. A thrown error or rejected promise rejects the write.
   */
  readonly write?: ((line: string) => void | Promise<void>) | undefined
}

const stderrLine = (line: string): Promise<void> =>
  new Promise((resolve, reject) => {
    process.stderr.write(line, (error) => (error == null ? resolve() : reject(error)))
  })

/**
 * A sink that writes one JSON line per event to a logger (default: stderr). The log system behind it decides
 * durability; use `fileSink` for a local durable trail.
 *
 * **Example** (Audit to stderr)
 *
 * ```ts
 * import { Audit } from "@data-mcp/mcp-adapter"
 *
 * const sink = Audit.logSink()
 * await sink.write({ time: new Date().toISOString(), sub: "alice", tool: "list_pipelines", outcome: "ok", duration_ms: 3 })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const logSink = (options?: LogSinkOptions): AuditSink =>
  lineSink("log", options?.write ?? stderrLine, async () => undefined)

/**
 * Options of `fileSink`.
 *
 * @category models
 * @since 0.1.0
 */
export interface FileSinkOptions {
  /** The JSONL file; created (mode 0600) if missing, never truncated. Its directory must exist. */
  readonly path: string
  /**
   * Whether each write waits for `fdatasync` (default `true`). Turn it off only where losing the last
   * events of a crash is acceptable.
   */
  readonly sync?: boolean | undefined
}

/**
 * A sink appending one JSON line per event to a file, opened with the `a` flag (never truncated, also across
 * restarts). Each write resolves only after an `fdatasync` that covers it (and, when it created the file, an
 * `fsync` of the directory). Writes that arrive while a sync is
 * under way are group-committed: the next flush appends them together and syncs once, so concurrent calls
 * share a sync instead of queueing one each.
 *
 * **Details**
 *
 * A failed append or sync rejects every write of that flush with an `AuditError` (`ENOENT`, `ENOSPC`, …) and
 * closes the file; the next write reopens it and first ends a torn last line with a newline.
 *
 * **Example** (A durable audit trail)
 *
 * ```ts
 * import { Audit } from "@data-mcp/mcp-adapter"
 *
 * const sink = Audit.fileSink({ path: ".data-mcp/audit.jsonl" })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const fileSink = (options: FileSinkOptions): AuditSink => {
  const file = AppendFile.make(options.path, { sync: options.sync ?? true })
  return lineSink("file", file.append, file.close)
}

/**
 * The sink `memorySink` makes: its events, and a switch to make writes fail (for fail-closed tests).
 *
 * @category models
 * @since 0.1.0
 */
export interface MemorySink extends AuditSink {
  /** The events written, in order (as encoded: a copy, not the caller's object). */
  readonly events: ReadonlyArray<AuditEvent>
  /** From now on, writes reject with this error (`undefined`: they succeed again). */
  readonly setFailure: (cause: Error | undefined) => void
}

/**
 * A sink keeping events in memory, for tests.
 *
 * @category constructors
 * @since 0.1.0
 */
export const memorySink = (): MemorySink => {
  const events: Array<AuditEvent> = []
  let failure: Error | undefined
  const sink = lineSink(
    "memory",
    (line) => {
      if (failure !== undefined) throw failure
      events.push(JSON.parse(line) as AuditEvent)
    },
    async () => undefined
  )
  return {
    ...sink,
    events,
    setFailure: (cause) => {
      failure = cause
    }
  }
}

/**
 * The prefix of a protected value: `hmac-sha256:` then the lowercase hex digest.
 *
 * @category constants
 * @since 0.1.0
 */
export const HMAC_PREFIX = "hmac-sha256:"

const MAX_STRING = 1024
const MIN_KEY_BYTES = 16

const keyBytes = (key: Redacted.Redacted<string | Uint8Array>): Uint8Array => {
  const value = Redacted.value(key)
  const bytes = typeof value === "string" ? Buffer.from(value, "utf8") : value
  if (bytes.byteLength < MIN_KEY_BYTES) {
    throw new AuditError({ sink: "protectParams", detail: `the HMAC key must be at least ${MIN_KEY_BYTES} bytes` })
  }
  return bytes
}

// JSON-safe copy of a value: bigint → string, Date → ISO, bytes → their size, Redacted → "<redacted>";
// undefined and functions dropped, cycles cut.
const toJson = (value: unknown, seen: Set<object>): Schema.Json | undefined => {
  if (value === null || typeof value === "boolean" || typeof value === "string") return value
  if (typeof value === "number") return Number.isFinite(value) ? value : String(value)
  if (typeof value === "bigint") return value.toString()
  if (typeof value !== "object") return undefined
  if (Redacted.isRedacted(value)) return "<redacted>"
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString()
  if (value instanceof Uint8Array) return `<${value.byteLength} bytes>`
  if (seen.has(value)) return "<circular>"
  seen.add(value)
  try {
    if (Array.isArray(value)) return value.map((v) => toJson(v, seen) ?? null)
    const out: Record<string, Schema.Json> = {}
    for (const [k, v] of Object.entries(value)) {
      const json = toJson(v, seen)
      if (json !== undefined) out[k] = json
    }
    return out
  } finally {
    seen.delete(value)
  }
}

const cut = (node: Schema.Json): Schema.Json => {
  if (typeof node === "string") return node.length > MAX_STRING ? `${node.slice(0, MAX_STRING)}…` : node
  if (Array.isArray(node)) return node.map(cut)
  if (node === null || typeof node !== "object") return node
  return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, cut(v as Schema.Json)]))
}

// Canonical JSON (sorted keys) of a non-string value, so equal values give equal digests.
const canonical = (value: unknown): string => {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`
  }
  return JSON.stringify(value) ?? "null"
}

const digest = (key: Uint8Array, value: unknown): string =>
  HMAC_PREFIX +
  createHmac("sha256", key)
    .update(typeof value === "string" ? value : canonical(value), "utf8")
    .digest("hex")

// Replaces the value at `path` (split on dots; an array on the way applies the rest to each element) in a
// JSON-safe copy. A key that itself contains dots is matched whole first.
const protectPath = (node: Schema.Json, path: ReadonlyArray<string>, key: Uint8Array): Schema.Json => {
  if (Array.isArray(node)) return node.map((item) => protectPath(item, path, key))
  if (node === null || typeof node !== "object" || path.length === 0) return node
  const record = node as Record<string, Schema.Json>
  for (let i = path.length; i >= 1; i--) {
    const name = path.slice(0, i).join(".")
    if (!Object.hasOwn(record, name)) continue
    const rest = path.slice(i)
    const child = record[name] as Schema.Json
    return { ...record, [name]: rest.length === 0 ? digest(key, child) : protectPath(child, rest, key) }
  }
  return node
}

/**
 * Params ready for an audit event: a JSON-safe copy in which each `sensitive` field — a top-level name or a
 * dotted path (`customer.email`; through arrays, each element) — is replaced by `hmac-sha256:<hex>`, the
 * HMAC-SHA-256 of the value under the server's `key`. Equal values give equal digests under one key, so events
 * can be joined on them (an operator holding the key can also test a known value), but the value cannot be
 * read back.
 *
 * **Details**
 *
 * Strings are hashed as their UTF-8 text; other values as canonical JSON (sorted keys). `Redacted` values
 * anywhere become `"<redacted>"`; bigints become strings, dates ISO strings, byte arrays their size; strings
 * longer than 1,024 characters are cut. The key must hold at least 16 bytes (use 32 random ones); it never
 * appears in the output.
 *
 * **Example** (Joinable, unreadable emails)
 *
 * ```ts
 * import { Audit } from "@data-mcp/mcp-adapter"
 * import { Redacted } from "effect"
 *
 * const key = Redacted.make(process.env["AUDIT_HMAC_KEY"] ?? "a-test-key-of-32-bytes-at-least!!")
 * Audit.protectParams({ email: "a@example.com", limit: 10 }, ["email"], key)
 * // { email: "hmac-sha256:5f1c…", limit: 10 }
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const protectParams = (
  params: unknown,
  sensitive: ReadonlyArray<string>,
  key: Redacted.Redacted<string | Uint8Array>
): Record<string, Schema.Json> => {
  const bytes = keyBytes(key)
  const json = toJson(params, new Set())
  let out: Schema.Json =
    json !== null && typeof json === "object" && !Array.isArray(json) ? json : json === undefined ? {} : { value: json }
  for (const path of sensitive) {
    if (path.length > 0) out = protectPath(out, path.split("."), bytes)
  }
  // Cut after hashing, so a digest covers the whole value.
  return cut(out) as Record<string, Schema.Json>
}
