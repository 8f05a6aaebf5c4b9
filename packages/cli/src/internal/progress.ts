// The live progress of `data-mcp run`: one line redrawn in place on a TTY (at most every 100 ms), plain lines
// otherwise (one per second at most, so piped output stays readable). Hand-written rather than cli-progress: the
// display is a counter line, not a bar (most sources do not know their size), and it needs no dependency.
import type { RunEvent } from "@data-mcp/core"

export interface Counters {
  read: number
  written: number
  deadLetters: number
  retries: number
  batches: number
}

export interface Progress {
  readonly counters: Counters
  /** The rows left to read when the run started, when the source can tell: the line then shows an ETA. */
  readonly expect: (rows: number) => void
  readonly event: (event: RunEvent.RunEvent) => void
  readonly stop: () => void
}

const rate = (n: number, ms: number) => (ms <= 0 ? 0 : Math.round((n * 1000) / ms))

const elapsed = (ms: number) => {
  const s = Math.floor(ms / 1000)
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`
}

export const make = (
  out: NodeJS.WriteStream,
  options: { readonly pipeline: string; readonly quiet: boolean }
): Progress => {
  const counters: Counters = { read: 0, written: 0, deadLetters: 0, retries: 0, batches: 0 }
  const started = Date.now()
  const tty = out.isTTY === true
  let last = 0
  let drawn = false
  let stopped = false
  let expected: number | undefined
  const line = () => {
    const ms = Date.now() - started
    const perSecond = rate(counters.read, ms)
    const eta =
      expected === undefined
        ? ""
        : ` · ${counters.read}/${expected}${perSecond > 0 && counters.read < expected ? ` · ETA ${elapsed(((expected - counters.read) * 1000) / perSecond)}` : ""}`
    return `${options.pipeline}: read ${counters.read} · written ${counters.written} · ${rate(counters.written, ms)}/s · dead letters ${counters.deadLetters} · retries ${counters.retries} · ${elapsed(ms)}${eta}`
  }
  const draw = (force: boolean) => {
    if (options.quiet) return
    const now = Date.now()
    if (!force && now - last < (tty ? 100 : 1000)) return
    last = now
    if (tty) {
      out.write(`\r\x1b[2K${line()}`)
      drawn = true
    } else out.write(`${line()}\n`)
  }
  const timer = tty && !options.quiet ? setInterval(() => draw(true), 250) : undefined
  timer?.unref()
  return {
    counters,
    expect: (rows) => {
      if (Number.isFinite(rows) && rows >= 0) expected = rows
    },
    event: (event) => {
      switch (event._tag) {
        case "BatchWritten":
          counters.read += event.read
          counters.written += event.written
          counters.batches++
          draw(false)
          break
        case "DeadLettered":
          counters.deadLetters += event.count
          break
        case "RetryScheduled":
          counters.retries++
          if (!options.quiet) {
            if (drawn) out.write("\n")
            drawn = false
            out.write(`retry ${event.attempt} of ${event.operation} in ${event.delayMs} ms: ${event.error}\n`)
          }
          break
        case "RunStarted":
          if (!options.quiet) {
            out.write(
              `${event.pipeline}@${event.version}: run started${event.checkpoint === null ? "" : `, resuming from checkpoint ${JSON.stringify(event.checkpoint)}`}\n`
            )
          }
          break
        default:
          break
      }
    },
    stop: () => {
      if (stopped) return
      stopped = true
      if (timer !== undefined) clearInterval(timer)
      draw(true)
      if (tty && drawn) out.write("\n")
    }
  }
}
