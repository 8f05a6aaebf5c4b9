// The audit sinks (file: append-only, durable, never truncating, failing loudly; log; memory) and the keyed
// protection of sensitive params.
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { Redacted } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Audit } from "../src/index.ts"

const event = (n: number, extra?: Partial<Audit.AuditEvent>): Audit.AuditEvent => ({
  time: new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString(),
  sub: "alice",
  client_id: "agent-1",
  tenant: "acme",
  jti: `jti-${n}`,
  method: "tools/call",
  tool: "run_pipeline",
  pipeline: "orders",
  pipeline_version: "1.0.0",
  run_id: `run-${n}`,
  outcome: "ok",
  duration_ms: n,
  transport: "http",
  http_status: 200,
  ...extra
})

const lines = async (file: string) =>
  (await fs.readFile(file, "utf8"))
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Audit.AuditEvent)

let dir: string
beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "audit-"))
})
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true })
})

describe("fileSink", () => {
  it("appends one JSON line per event and never truncates, across reopen", async () => {
    const file = path.join(dir, "trail.jsonl")
    const first = Audit.fileSink({ path: file })
    await first.write(event(1))
    await first.write(event(2, { outcome: "denied", error: { tag: "Forbidden", reason: "insufficient_scope" } }))
    await first.close()
    const second = Audit.fileSink({ path: file })
    await second.write(event(3, { outcome: "unauthenticated", http_status: 401 }))
    await second.close()
    const read = await lines(file)
    expect(read.map((e) => e.run_id)).toEqual(["run-1", "run-2", "run-3"])
    expect(read[1]).toEqual(event(2, { outcome: "denied", error: { tag: "Forbidden", reason: "insufficient_scope" } }))
    expect(((await fs.stat(file)).mode & 0o777).toString(8)).toBe("600")
  })

  it("ends a torn last line (a crash mid-write) before appending", async () => {
    const file = path.join(dir, "torn.jsonl")
    await fs.writeFile(file, `${JSON.stringify(event(1))}\n{"time":"2026-01-0`)
    const sink = Audit.fileSink({ path: file })
    await sink.write(event(2))
    await sink.close()
    const text = await fs.readFile(file, "utf8")
    expect(text.split("\n")).toEqual([JSON.stringify(event(1)), '{"time":"2026-01-0', JSON.stringify(event(2)), ""])
  })

  it("keeps every concurrent write, each resolved after its sync (group commit)", async () => {
    const file = path.join(dir, "concurrent.jsonl")
    const sink = Audit.fileSink({ path: file })
    await Promise.all(Array.from({ length: 200 }, (_, i) => sink.write(event(i))))
    await sink.close()
    const read = await lines(file)
    expect(read).toHaveLength(200)
    expect(new Set(read.map((e) => e.run_id)).size).toBe(200)
  })

  it("rejects with an AuditError when the directory does not exist", async () => {
    const sink = Audit.fileSink({ path: path.join(dir, "missing", "trail.jsonl") })
    const error = await sink.write(event(1)).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(Audit.AuditError)
    expect((error as Audit.AuditError).detail).toBe("ENOENT")
    expect((error as Audit.AuditError).message).not.toContain("alice")
  })

  it("rejects when the directory is removed after a write, and writes again once it is back", async () => {
    const sub = path.join(dir, "removed")
    await fs.mkdir(sub)
    const file = path.join(sub, "trail.jsonl")
    const sink = Audit.fileSink({ path: file })
    await sink.write(event(1))
    // The open descriptor still writes to the unlinked file; a new sink (a restart) must fail.
    await fs.rm(sub, { recursive: true })
    const restarted = Audit.fileSink({ path: file })
    await expect(restarted.write(event(2))).rejects.toBeInstanceOf(Audit.AuditError)
    await fs.mkdir(sub)
    await restarted.write(event(3))
    expect((await lines(file)).map((e) => e.run_id)).toEqual(["run-3"])
    await sink.close()
    await restarted.close()
  })

  it("rejects when the parent is not a directory", async () => {
    const notDir = path.join(dir, "plain-file")
    await fs.writeFile(notDir, "x")
    const error = await Audit.fileSink({ path: path.join(notDir, "trail.jsonl") })
      .write(event(1))
      .catch((e: unknown) => e)
    expect((error as Audit.AuditError).detail).toBe("ENOTDIR")
  })

  it("rejects every write when the device is full (ENOSPC)", async () => {
    const sink = Audit.fileSink({ path: "/dev/full" })
    const results = await Promise.allSettled([sink.write(event(1)), sink.write(event(2)), sink.write(event(3))])
    expect(results.every((r) => r.status === "rejected")).toBe(true)
    expect(((results[0] as PromiseRejectedResult).reason as Audit.AuditError).detail).toBe("ENOSPC")
    await sink.close()
  })

  it("rejects after close, and rejects a malformed event without writing it", async () => {
    const file = path.join(dir, "closed.jsonl")
    const sink = Audit.fileSink({ path: file })
    const malformed = await sink.write({ ...event(1), outcome: "maybe" as "ok" }).catch((e: unknown) => e)
    expect(malformed).toBeInstanceOf(Audit.AuditError)
    // The schema issue would quote the value: it is not kept.
    expect(JSON.stringify(malformed) + String((malformed as Audit.AuditError).cause)).not.toContain("maybe")
    await sink.write(event(2))
    await sink.close()
    await expect(sink.write(event(3))).rejects.toBeInstanceOf(Audit.AuditError)
    expect((await lines(file)).map((e) => e.run_id)).toEqual(["run-2"])
  })
})

describe("logSink", () => {
  it("writes one JSON line per event to the logger, and rejects when the logger fails", async () => {
    const written: Array<string> = []
    const sink = Audit.logSink({ write: (line) => void written.push(line) })
    await sink.write(event(1))
    expect(written).toHaveLength(1)
    expect(written[0]?.endsWith("\n")).toBe(true)
    expect(JSON.parse(written[0] as string)).toEqual(event(1))
    const failing = Audit.logSink({
      write: () => {
        throw Object.assign(new Error("pipe closed"), { code: "EPIPE" })
      }
    })
    const error = await failing.write(event(2)).catch((e: unknown) => e)
    expect((error as Audit.AuditError).detail).toBe("EPIPE")
  })

  it("defaults to stderr, never stdout", async () => {
    const out: Array<string> = []
    const err: Array<string> = []
    const stdout = process.stdout.write.bind(process.stdout)
    const stderr = process.stderr.write.bind(process.stderr)
    process.stdout.write = ((chunk: string) => {
      out.push(String(chunk))
      return true
    }) as typeof process.stdout.write
    process.stderr.write = ((chunk: string, cb?: (error?: Error | null) => void) => {
      err.push(String(chunk))
      cb?.(null)
      return true
    }) as typeof process.stderr.write
    try {
      await Audit.logSink().write(event(1))
    } finally {
      process.stdout.write = stdout
      process.stderr.write = stderr
    }
    expect(out).toEqual([])
    expect(err.map((l) => JSON.parse(l).run_id)).toEqual(["run-1"])
  })
})

describe("memorySink", () => {
  it("writes only the AuditEvent fields: anything else a caller adds is dropped", async () => {
    const sink = Audit.memorySink()
    const extra = { ...event(1), authorization: "Bearer eyJhbGciOi.secret", raw_params: { email: "a@b.c" } }
    await sink.write(extra)
    expect(sink.events[0]).toEqual(event(1))
    expect(JSON.stringify(sink.events)).not.toContain("secret")
  })

  it("keeps events and can be made to fail", async () => {
    const sink = Audit.memorySink()
    await sink.write(event(1))
    sink.setFailure(new Error("disk gone"))
    await expect(sink.write(event(2))).rejects.toBeInstanceOf(Audit.AuditError)
    sink.setFailure(undefined)
    await sink.write(event(3))
    expect(sink.events.map((e) => e.run_id)).toEqual(["run-1", "run-3"])
  })
})

describe("protectParams", () => {
  const key = Redacted.make("k".repeat(32))
  const other = Redacted.make(new Uint8Array(32).fill(7))
  const params = {
    email: "alice@example.com",
    customer: { ssn: "123-45-6789", name: "Alice" },
    items: [{ card: "4111111111111111" }, { card: "5500000000000004" }],
    limit: 10,
    token: Redacted.make("sk-live-secret"),
    since: new Date(Date.UTC(2026, 0, 1)),
    big: 12345678901234567890n
  }
  const sensitive = ["email", "customer.ssn", "items.card"]
  const raw = ["alice@example.com", "123-45-6789", "4111111111111111", "5500000000000004", "sk-live-secret"]

  it("replaces top-level and dotted fields by keyed digests and keeps the rest", () => {
    const out = Audit.protectParams(params, sensitive, key) as unknown as {
      email: string
      customer: { ssn: string; name: string }
      items: Array<{ card: string }>
      limit: number
      token: string
      since: string
      big: string
    }
    expect(out.email).toMatch(/^hmac-sha256:[0-9a-f]{64}$/)
    expect(out.customer.ssn).toMatch(/^hmac-sha256:[0-9a-f]{64}$/)
    expect(out.customer.name).toBe("Alice")
    expect(out.items[0]?.card).toMatch(/^hmac-sha256:/)
    expect(out.items[0]?.card).not.toBe(out.items[1]?.card)
    expect(out.limit).toBe(10)
    expect(out.token).toBe("<redacted>")
    expect(out.since).toBe("2026-01-01T00:00:00.000Z")
    expect(out.big).toBe("12345678901234567890")
  })

  it("gives the same digest for the same value and key, another for another key", () => {
    const a = Audit.protectParams({ email: "alice@example.com" }, ["email"], key)
    const b = Audit.protectParams({ email: "alice@example.com", other: 1 }, ["email"], key)
    const c = Audit.protectParams({ email: "alice@example.com" }, ["email"], other)
    const d = Audit.protectParams({ email: "bob@example.com" }, ["email"], key)
    expect(a.email).toBe(b.email)
    expect(a.email).not.toBe(c.email)
    expect(a.email).not.toBe(d.email)
    // Objects hash as canonical JSON: key order does not matter.
    const o1 = Audit.protectParams({ address: { city: "X", zip: "1" } }, ["address"], key)
    const o2 = Audit.protectParams({ address: { zip: "1", city: "X" } }, ["address"], key)
    expect(o1.address).toBe(o2.address)
  })

  it("leaves no raw sensitive value, secret or key in the serialized event", async () => {
    const sink = Audit.memorySink()
    const file = path.join(dir, "protected.jsonl")
    const fileSink = Audit.fileSink({ path: file })
    const e = event(1, { params: Audit.protectParams(params, sensitive, key) })
    await sink.write(e)
    await fileSink.write(e)
    await fileSink.close()
    for (const text of [JSON.stringify(sink.events), await fs.readFile(file, "utf8")]) {
      for (const value of [...raw, "k".repeat(32)]) expect(text).not.toContain(value)
      expect(text).toContain("hmac-sha256:")
    }
  })

  it("refuses a short key without printing it", () => {
    expect(() => Audit.protectParams({ a: 1 }, ["a"], Redacted.make("short"))).toThrow(/at least 16 bytes/)
  })
})
