// Reads the accounts of a Salesforce-style CRM through a connector made with defineRestConnector (crm.ts), twice:
// the first run reads everything, the second (incremental) only what changed since — nothing here. The CRM is a
// local stand-in (fakeApi.ts) so the example runs offline; point `baseUrl` at the real API and drop `allowHosts`.
//
//   node --conditions=@data-mcp/source --import tsx examples/rest-crm/main.ts
import { Connector, Memory, Pipeline, Runner } from "@data-mcp/core"
import { Effect, Redacted } from "effect"
import { acmeCrm } from "./crm.ts"
import * as FakeApi from "./fakeApi.ts"

const clientSecret = "demo-client-secret"
const api = await FakeApi.start(clientSecret)

const program = Effect.gen(function* () {
  const source = yield* Connector.makeSource(acmeCrm, {
    stream: "accounts",
    baseUrl: `${api.url}/services/data/v59.0`,
    auth: {
      type: "oauth2",
      tokenUrl: `${api.url}/oauth2/token`,
      clientId: "demo-client",
      clientSecret: Redacted.make(clientSecret)
    },
    allowHosts: ["127.0.0.1"] // the stand-in is on loopback, which the SSRF guard refuses otherwise
  })
  const collected = Memory.sink<unknown>()
  const pipeline = Pipeline.make({
    name: "crm_accounts",
    version: "1.0.0",
    description: "Acme CRM accounts",
    source,
    sink: collected.sink
  })
  for (const label of ["first run", "second run (incremental)"]) {
    const summary = yield* Runner.run(pipeline, {})
    console.log(
      `${label}: ${summary.status}, ${summary.recordsRead} records read, checkpoint ${JSON.stringify(summary.checkpointTo)}`
    )
  }
  console.log(`accounts collected: ${collected.records().length}`)
})

try {
  await Effect.runPromise(program.pipe(Effect.provide(Runner.layerMemory({ purgeIntervalMs: 0 }))))
} finally {
  api.server.close()
}
