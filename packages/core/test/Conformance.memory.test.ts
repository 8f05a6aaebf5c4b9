import { Effect } from "effect"
import * as Memory from "../src/connectors/memory/Memory.ts"
import * as ConnectorConformance from "../src/testing/ConnectorConformance.ts"

type Row = { readonly id: string; readonly n: number }
const rows = (n: number): ReadonlyArray<Row> => Array.from({ length: n }, (_, i) => ({ id: `r${i}`, n: i }))

ConnectorConformance.suite<Row, Row>("memory", {
  source: {
    records: rows,
    make: (records) => Effect.succeed(Memory.source(records, { batchSize: 7 })),
    id: (r) => r.id
  },
  sink: {
    records: rows,
    make: () =>
      Effect.sync(() => {
        const collector = Memory.sink<Row>({ transactional: true })
        return { sink: collector.sink, readBack: Effect.sync(() => collector.records()) }
      }),
    id: (r) => (r as Row).id
  }
})

ConnectorConformance.suite<Row, Row>("memory-plain", {
  sink: {
    records: rows,
    make: () =>
      Effect.sync(() => {
        const collector = Memory.sink<Row>({ maxConcurrentWrites: 2 })
        return { sink: collector.sink, readBack: Effect.sync(() => collector.records()) }
      }),
    id: (r) => (r as Row).id
  }
})
