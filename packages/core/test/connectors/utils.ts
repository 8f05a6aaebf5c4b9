// Helpers for the connector tests: temp dirs, read contexts, sink open contexts with a fake lease, and
// reading a source from a checkpoint.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, Stream } from "effect"
import type * as Batch from "../../src/Batch.ts"
import type * as Sink from "../../src/Sink.ts"
import type * as Source from "../../src/Source.ts"

export const tempDir = (): string => fs.mkdtempSync(path.join(os.tmpdir(), "dm-"))

export const readContext = (batchRows = 1000): Source.ReadContext => ({ runId: "t", batchRows })

export const openContext = (options?: {
  readonly token?: number
  readonly stateKey?: string
  readonly runId?: string
}): Sink.OpenContext => {
  const runId = options?.runId ?? "run-1"
  const key = options?.stateKey ?? "pipeline/key"
  return {
    runId,
    pipeline: "test",
    stateKey: key,
    lease: { key, runId, token: options?.token ?? 1, expiresAt: Date.now() + 60_000 }
  }
}

export const writeContext = (seq: number, checkpointTo?: unknown): Sink.WriteContext =>
  checkpointTo === undefined
    ? { seq, checkpointFrom: null }
    : { seq, checkpointFrom: null, checkpointTo: checkpointTo as Sink.WriteContext["checkpointTo"] }

/** Reads every batch of a source from `from`. */
export const readAll = <A, C>(source: Source.Source<A, C>, from?: C, batchRows = 1000) =>
  Stream.runCollect(source.read(from, readContext(batchRows)))

export const recordsOf = <A, C>(batches: ReadonlyArray<Batch.Batch<A, C>>): Array<A> =>
  batches.flatMap((b) => [...b.records])

/** Writes the batches through a sink in one scope (one run) and finishes it. */
export const writeAll = <A>(
  sink: Sink.Sink<A>,
  batches: ReadonlyArray<ReadonlyArray<A>>,
  context: Sink.OpenContext = openContext()
) =>
  Effect.scoped(
    Effect.gen(function* () {
      const writer = yield* sink.open(context)
      const results: Array<Sink.WriteResult> = []
      for (const [seq, records] of batches.entries()) {
        results.push(yield* writer.write({ stream: "default", records }, writeContext(seq)))
      }
      if (writer.finish !== undefined) yield* writer.finish
      return results
    })
  )

/** Files in a directory, sorted (to see staging files). */
export const listDir = (dir: string): Array<string> => fs.readdirSync(dir).sort()
