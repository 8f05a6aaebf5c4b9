import { assert, describe, it } from "@effect/vitest"
import { type Duration, Effect, Schema, Stream } from "effect"
import { TestClock } from "effect/testing"
import type { ConfigError } from "../src/Config.ts"
import * as Memory from "../src/connectors/memory/Memory.ts"
import * as Pipeline from "../src/Pipeline.ts"
import * as PipelineSet from "../src/PipelineSet.ts"
import * as Runner from "../src/Runner.ts"
import * as RunStore from "../src/RunStore.ts"
import * as Scheduler from "../src/Scheduler.ts"
import type * as Source from "../src/Source.ts"
import * as FaultInjection from "../src/testing/FaultInjection.ts"
import { memoryRunner, range } from "./utils.ts"

type Row = { readonly id: number }

const scheduled = (schedule: Pipeline.Schedule, source?: Source.Source<Row, number>, name = "tick") =>
  Pipeline.make<Row, Row>({
    name,
    version: "1.0.0",
    description: "a scheduled copy",
    source: source ?? Memory.source(range(3)),
    sink: Memory.sink<Row>().sink,
    options: { schedule, batch: { rows: 10, maxWaitMs: 0 } }
  })

const at = (iso: string) => Date.parse(iso)

const ticks = (history: ReadonlyArray<Scheduler.Firing>) =>
  history.map((f) => `${f.at.toISOString()} ${f.outcome}${f.missed === undefined ? "" : ` x${f.missed}`}`)

/** A starter whose runs finish at once (or after `blockMs` in `start`, to simulate a blocked scheduler). */
const fakeStarter = (blockFirstMs = 0) => {
  const starts: Array<number> = []
  const start: Scheduler.Starter = () =>
    Effect.gen(function* () {
      if (starts.length === 0 && blockFirstMs > 0) yield* Effect.sleep(blockFirstMs)
      starts.push(starts.length)
      return { id: `run_${starts.length}`, result: Effect.void }
    })
  return { start, starts }
}

/** A source that counts how many reads are live at once. */
const counting = (
  inner: Source.Source<Row, number>,
  probe: { live: number; max: number }
): Source.Source<Row, number> => ({
  ...inner,
  read: (from, context) =>
    Stream.unwrap(
      Effect.sync(() => {
        probe.live++
        probe.max = Math.max(probe.max, probe.live)
        return inner.read(from, context)
      })
    ).pipe(
      Stream.ensuring(
        Effect.sync(() => {
          probe.live--
        })
      )
    )
})

const firedAt = (cron: string, timeZone: string, from: string, duration: Duration.Input) =>
  Effect.gen(function* () {
    yield* TestClock.setTime(at(from))
    const fake = fakeStarter()
    const scheduler = yield* Scheduler.makeWith(fake.start, [scheduled({ cron, timeZone })])
    yield* TestClock.adjust(duration)
    const history = yield* scheduler.history
    assert.isTrue(history.every((f) => f.outcome === "started"))
    return history.map((f) => f.at.toISOString())
  })

describe("Scheduler", () => {
  it.effect("fires */5 at :00, :05 and :10 through the runner", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(at("2026-01-01T00:00:00Z") - 30_000)
      const scheduler = yield* Scheduler.make([scheduled({ cron: "*/5 * * * *" })])
      assert.strictEqual((yield* scheduler.next("tick"))?.toISOString(), "2026-01-01T00:00:00.000Z")
      for (let i = 0; i < 11; i++) yield* TestClock.adjust("1 minute")
      assert.deepStrictEqual(ticks(yield* scheduler.history), [
        "2026-01-01T00:00:00.000Z started",
        "2026-01-01T00:05:00.000Z started",
        "2026-01-01T00:10:00.000Z started"
      ])
      assert.strictEqual((yield* scheduler.next("tick"))?.toISOString(), "2026-01-01T00:15:00.000Z")
      const runs = yield* RunStore.RunStore.use((s) => s.list({ pipeline: "tick" }))
      assert.strictEqual(runs.runs.length, 3)
      assert.isTrue(runs.runs.every((r) => r.status === "succeeded" && r.caller === "scheduler"))
      const ids = new Set((yield* scheduler.history).map((f) => f.runId))
      assert.deepStrictEqual(new Set(runs.runs.map((r) => r.id)), ids)
    }).pipe(Effect.provide(memoryRunner()))
  )

  it.effect("takes the scheduled pipelines of a PipelineSet and leaves the others out", () =>
    Effect.gen(function* () {
      const plain = Pipeline.make<Row, Row>({
        name: "manual",
        version: "1.0.0",
        description: "not scheduled",
        source: Memory.source(range(1)),
        sink: Memory.sink<Row>().sink
      })
      yield* TestClock.setTime(at("2026-01-01T00:30:00Z"))
      const set = PipelineSet.make("all", [plain, scheduled({ cron: "0 * * * *" })])
      const scheduler = yield* Scheduler.makeWith(fakeStarter().start, set)
      assert.deepStrictEqual(scheduler.pipelines, ["tick"])
      assert.isUndefined(yield* scheduler.next("manual"))
      assert.strictEqual((yield* scheduler.next("tick"))?.toISOString(), "2026-01-01T01:00:00.000Z")
      yield* scheduler.stop
      assert.isUndefined(yield* scheduler.next("tick"))
      yield* TestClock.adjust("3 hours")
      assert.deepStrictEqual(yield* scheduler.history, [])
    })
  )

  describe("time zones and DST", () => {
    it.effect("Europe/Berlin spring forward (2026-03-29): 02:00 does not exist and fires at 03:00 CEST", () =>
      Effect.gen(function* () {
        assert.deepStrictEqual(yield* firedAt("0 2 * * *", "Europe/Berlin", "2026-03-27T12:00:00Z", "4 days"), [
          "2026-03-28T01:00:00.000Z", // 02:00 CET
          "2026-03-29T01:00:00.000Z", // 02:00 does not exist: 03:00 CEST, the end of the gap
          "2026-03-30T00:00:00.000Z", // 02:00 CEST
          "2026-03-31T00:00:00.000Z"
        ])
        assert.deepStrictEqual(yield* firedAt("30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z", "1 day"), [
          "2026-03-29T01:30:00.000Z" // 02:30 does not exist: shifted by the gap to 03:30 CEST
        ])
        assert.deepStrictEqual(yield* firedAt("30 1 * * *", "Europe/Berlin", "2026-03-27T12:00:00Z", "4 days"), [
          "2026-03-28T00:30:00.000Z",
          "2026-03-29T00:30:00.000Z", // 01:30 CET, just before the change
          "2026-03-29T23:30:00.000Z", // 01:30 CEST
          "2026-03-30T23:30:00.000Z"
        ])
      })
    )

    it.effect("Europe/Berlin fall back (2026-10-25): the repeated hour fires once, at its first occurrence", () =>
      Effect.gen(function* () {
        assert.deepStrictEqual(yield* firedAt("0 2 * * *", "Europe/Berlin", "2026-10-23T12:00:00Z", "4 days"), [
          "2026-10-24T00:00:00.000Z", // 02:00 CEST
          "2026-10-25T00:00:00.000Z", // 02:00 CEST, not again at 02:00 CET (01:00Z)
          "2026-10-26T01:00:00.000Z", // 02:00 CET
          "2026-10-27T01:00:00.000Z"
        ])
        assert.deepStrictEqual(yield* firedAt("30 1 * * *", "Europe/Berlin", "2026-10-23T12:00:00Z", "3 days"), [
          "2026-10-23T23:30:00.000Z",
          "2026-10-24T23:30:00.000Z", // 01:30 CEST
          "2026-10-26T00:30:00.000Z" // 01:30 CET
        ])
        assert.deepStrictEqual(yield* firedAt("*/30 * * * *", "Europe/Berlin", "2026-10-24T23:45:00Z", "150 minutes"), [
          "2026-10-25T00:00:00.000Z", // 02:00 CEST
          "2026-10-25T00:30:00.000Z", // 02:30 CEST; 02:00 and 02:30 CET (01:00Z, 01:30Z) are not repeated
          "2026-10-25T02:00:00.000Z" // 03:00 CET
        ])
      })
    )

    it.effect("America/New_York across 2026-03-08: 09:00 local moves from 14:00Z to 13:00Z", () =>
      Effect.gen(function* () {
        assert.deepStrictEqual(yield* firedAt("0 9 * * *", "America/New_York", "2026-03-06T12:00:00Z", "4 days"), [
          "2026-03-06T14:00:00.000Z",
          "2026-03-07T14:00:00.000Z",
          "2026-03-08T13:00:00.000Z",
          "2026-03-09T13:00:00.000Z"
        ])
      })
    )
  })

  describe("no overlap", () => {
    it.effect("skips a tick while the previous scheduled run is live (real runner, slow source)", () =>
      Effect.gen(function* () {
        yield* TestClock.setTime(at("2026-01-01T00:00:00Z") - 30_000)
        const probe = { live: 0, max: 0 }
        // three batches of one record, four minutes each: a run takes twelve minutes
        const slow = FaultInjection.slowSource(Memory.source(range(3), { batchSize: 1 }), 4 * 60_000)
        const scheduler = yield* Scheduler.make([scheduled({ cron: "*/5 * * * *" }, counting(slow, probe))])
        for (let i = 0; i < 16; i++) {
          yield* TestClock.adjust("1 minute")
          if (i === 7) assert.isTrue(yield* scheduler.running("tick"))
        }
        assert.deepStrictEqual(ticks(yield* scheduler.history), [
          "2026-01-01T00:00:00.000Z started",
          "2026-01-01T00:05:00.000Z skipped-overlap",
          "2026-01-01T00:10:00.000Z skipped-overlap",
          "2026-01-01T00:15:00.000Z started"
        ])
        assert.strictEqual(probe.max, 1)
        const runs = yield* RunStore.RunStore.use((s) => s.list({ pipeline: "tick" }))
        assert.strictEqual(runs.runs.length, 2)
      }).pipe(Effect.provide(memoryRunner()))
    )

    it.effect("skips a tick when the runner reports RunConflict (someone else runs the state key)", () =>
      Effect.gen(function* () {
        yield* TestClock.setTime(at("2026-01-01T00:00:00Z") - 30_000)
        const slow = FaultInjection.slowSource(Memory.source(range(2), { batchSize: 1 }), 4 * 60_000)
        const pipeline = scheduled({ cron: "*/5 * * * *" }, slow)
        const manual = yield* Runner.start(pipeline, {}, { caller: "someone" })
        const scheduler = yield* Scheduler.make([pipeline])
        for (let i = 0; i < 6; i++) yield* TestClock.adjust("1 minute")
        const history = yield* scheduler.history
        assert.deepStrictEqual(ticks(history), [
          "2026-01-01T00:00:00.000Z skipped-conflict",
          "2026-01-01T00:05:00.000Z skipped-conflict"
        ])
        assert.strictEqual(history[0]?.runId, manual.id)
        for (let i = 0; i < 5; i++) yield* TestClock.adjust("1 minute")
        assert.strictEqual((yield* scheduler.history).at(-1)?.outcome, "started")
      }).pipe(Effect.provide(memoryRunner()))
    )
  })

  describe("misfire", () => {
    const down = (misfire: "skip" | "once", now: string) =>
      Effect.gen(function* () {
        yield* TestClock.setTime(at(now))
        const fake = fakeStarter()
        const scheduler = yield* Scheduler.makeWith(fake.start, [
          { pipeline: scheduled({ cron: "*/10 * * * *", misfire }), since: new Date("2026-01-01T00:00:00Z") }
        ])
        const before = ticks(yield* scheduler.history)
        yield* TestClock.adjust("10 minutes")
        return { before, after: ticks(yield* scheduler.history) }
      })

    it.effect("skip: ticks missed while the process was down are dropped; the next tick fires", () =>
      Effect.gen(function* () {
        const { before, after } = yield* down("skip", "2026-01-01T01:05:00Z")
        assert.deepStrictEqual(before, ["2026-01-01T00:10:00.000Z skipped-misfire x6"])
        assert.deepStrictEqual(after, [
          "2026-01-01T00:10:00.000Z skipped-misfire x6",
          "2026-01-01T01:10:00.000Z started"
        ])
      })
    )

    it.effect("once: one catch-up run at start-up, then the schedule resumes", () =>
      Effect.gen(function* () {
        const { before, after } = yield* down("once", "2026-01-01T01:05:00Z")
        assert.deepStrictEqual(before, ["2026-01-01T01:00:00.000Z catch-up x6"])
        assert.deepStrictEqual(after, ["2026-01-01T01:00:00.000Z catch-up x6", "2026-01-01T01:10:00.000Z started"])
      })
    )

    it.effect("a tick late by less than the tolerance still fires on time; older ones are misfires", () =>
      Effect.gen(function* () {
        const { before } = yield* down("once", "2026-01-01T01:00:20Z")
        assert.deepStrictEqual(before, [
          "2026-01-01T00:10:00.000Z skipped-misfire x5",
          "2026-01-01T01:00:00.000Z started"
        ])
      })
    )

    const blocked = (misfire: "skip" | "once") =>
      Effect.gen(function* () {
        yield* TestClock.setTime(at("2026-01-01T00:00:00Z") - 30_000)
        // the first start blocks the scheduler for 27 minutes, past five ticks
        const fake = fakeStarter(27 * 60_000)
        const scheduler = yield* Scheduler.makeWith(fake.start, [scheduled({ cron: "*/5 * * * *", misfire })])
        yield* TestClock.adjust("31 minutes")
        return ticks(yield* scheduler.history)
      })

    it.effect("skip: a scheduler blocked past ticks drops them when it wakes up", () =>
      Effect.gen(function* () {
        assert.deepStrictEqual(yield* blocked("skip"), [
          "2026-01-01T00:00:00.000Z started",
          "2026-01-01T00:05:00.000Z skipped-misfire x5",
          "2026-01-01T00:30:00.000Z started"
        ])
      })
    )

    it.effect("once: a scheduler blocked past ticks runs once to catch up when it wakes up", () =>
      Effect.gen(function* () {
        assert.deepStrictEqual(yield* blocked("once"), [
          "2026-01-01T00:00:00.000Z started",
          "2026-01-01T00:25:00.000Z catch-up x5",
          "2026-01-01T00:30:00.000Z started"
        ])
      })
    )
  })

  describe("config", () => {
    const configError = (schedule: Pipeline.Schedule) =>
      Effect.flip(Scheduler.makeWith(fakeStarter().start, [scheduled(schedule)])) as Effect.Effect<ConfigError>

    it.effect("a bad cron expression or time zone fails fast with a ConfigError naming the field", () =>
      Effect.gen(function* () {
        const badCron = yield* configError({ cron: "every five minutes" })
        assert.strictEqual(badCron._tag, "ConfigError")
        assert.strictEqual(badCron.path, "options.schedule.cron")
        assert.strictEqual(badCron.component, "pipeline tick")
        assert.isFalse(badCron.retryable)
        assert.strictEqual((yield* configError({ cron: "61 * * * *" })).path, "options.schedule.cron")
        assert.strictEqual((yield* configError({ cron: "0 0 31 2 *" })).path, "options.schedule.cron")
        const badZone = yield* configError({ cron: "0 * * * *", timeZone: "Mars/Olympus" })
        assert.strictEqual(badZone.path, "options.schedule.timeZone")
        assert.include(badZone.message, "options.schedule.timeZone")
      })
    )

    it.effect("an explicit entry without a schedule, bad params or a duplicate is a ConfigError", () =>
      Effect.gen(function* () {
        const plain = Pipeline.make<Row, Row>({
          name: "manual",
          version: "1.0.0",
          description: "not scheduled",
          source: Memory.source(range(1)),
          sink: Memory.sink<Row>().sink
        })
        const start = fakeStarter().start
        const noSchedule = yield* Effect.flip(Scheduler.makeWith(start, [{ pipeline: plain }]))
        assert.strictEqual(noSchedule.path, "options.schedule")
        const withParams = Pipeline.make<Row, Row, { readonly region: string }>({
          name: "regional",
          version: "1.0.0",
          description: "scheduled with params",
          params: Schema.Struct({ region: Schema.String }),
          source: Memory.source(range(1)),
          sink: Memory.sink<Row>().sink,
          options: { schedule: { cron: "0 * * * *" } }
        })
        const badParams = yield* Effect.flip(
          Scheduler.makeWith(start, [{ pipeline: withParams, params: { regio: "eu" } }])
        )
        assert.strictEqual(badParams._tag, "ConfigError")
        const ok = yield* Scheduler.makeWith(start, [{ pipeline: withParams, params: { region: "eu" } }])
        assert.deepStrictEqual(ok.pipelines, ["regional"])
        const pipeline = scheduled({ cron: "0 * * * *" })
        const twice = yield* Effect.flip(Scheduler.makeWith(start, [pipeline, { pipeline }]))
        assert.strictEqual(twice.path, "tick")
      })
    )
  })
})
