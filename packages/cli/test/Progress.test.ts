// The progress display: one line redrawn in place on a TTY, plain lines otherwise.
import type { RunEvent } from "@data-mcp/core"
import { assert, describe, it } from "vitest"
import * as Progress from "../src/internal/progress.ts"

const stream = (isTTY: boolean) => {
  const chunks: Array<string> = []
  return { chunks, out: { isTTY, write: (s: string) => chunks.push(s) > 0 } as unknown as NodeJS.WriteStream }
}

const batch = (read: number, written: number) =>
  ({ _tag: "BatchWritten", stream: "s", seq: 1, read, written, deadLetters: read - written }) as RunEvent.RunEvent

describe("Progress", () => {
  it("on a TTY, redraws one line in place and ends it with a newline", () => {
    const { chunks, out } = stream(true)
    const progress = Progress.make(out, { pipeline: "p", quiet: false })
    progress.event(batch(10, 9))
    progress.event({ _tag: "DeadLettered", stream: "s", count: 1, reasons: ["x"] } as unknown as RunEvent.RunEvent)
    progress.stop()
    progress.stop()
    const text = chunks.join("")
    const CLEAR = "\r\x1b[2K"
    assert.isTrue(text.startsWith(`${CLEAR}p: read 10 · written 9 · `), JSON.stringify(text))
    const last = text.slice(text.lastIndexOf(CLEAR) + CLEAR.length)
    assert.match(last, /^p: read 10 · written 9 · \d+\/s · dead letters 1 · retries 0 · 0:00\n$/)
    assert.strictEqual(text.match(/\n/g)?.length, 1)
  })

  it("off a TTY, prints plain lines, no control characters; quiet prints nothing", () => {
    const { chunks, out } = stream(false)
    const progress = Progress.make(out, { pipeline: "p", quiet: false })
    progress.event(batch(5, 5))
    progress.event({
      _tag: "RetryScheduled",
      operation: "sink.write",
      attempt: 1,
      delayMs: 100,
      error: "reset"
    } as unknown as RunEvent.RunEvent)
    progress.stop()
    const text = chunks.join("")
    assert.notInclude(text, "\x1b")
    assert.notInclude(text, "\r")
    assert.include(text, "retry 1 of sink.write in 100 ms: reset\n")
    assert.match(text, /p: read 5 · written 5 · \d+\/s · dead letters 0 · retries 1 · 0:00\n$/)
    const quiet = stream(false)
    const silent = Progress.make(quiet.out, { pipeline: "p", quiet: true })
    silent.event(batch(5, 5))
    silent.stop()
    assert.deepStrictEqual(quiet.chunks, [])
  })

  it("shows read/expected and an ETA once the source's size is known", () => {
    const { chunks, out } = stream(false)
    const progress = Progress.make(out, { pipeline: "p", quiet: false })
    progress.expect(100)
    progress.event(batch(10, 10))
    progress.stop()
    // The ETA needs a measurable rate; in a test this fast only the count is certain.
    assert.match(chunks.join(""), /· 10\/100( · ETA \d+:\d\d)?\n$/)
  })
})
