// A SaaS connector built with defineRestConnector: a Salesforce-style CRM API. The whole connector is this
// declaration — endpoints, where the records are, how to page, the key, the incremental parameter, and how it
// takes writes. Users give a stream name and OAuth2 client credentials (in a spec: { secret: NAME }).
import { defineRestConnector } from "@data-mcp/connector-rest"

export const acmeCrm = defineRestConnector({
  kind: "acme-crm",
  description: "Acme CRM: accounts and contacts (read), activity notes (write)",
  baseUrl: "https://api.acme-crm.example/services/data/v59.0",
  headers: { "x-acme-api-version": "2026-01-01" },
  rateLimit: { perSecond: 20, burst: 40 },
  streams: {
    accounts: {
      path: "/query/accounts",
      records: "records",
      pagination: { type: "nextUrl", path: "nextRecordsUrl" },
      primaryKey: ["Id"],
      incremental: { param: "modifiedSince", field: "LastModifiedDate" }
    },
    contacts: {
      path: "/query/contacts",
      records: "records",
      pagination: { type: "nextUrl", path: "nextRecordsUrl" },
      primaryKey: ["Id"]
    }
  },
  sink: { path: "/composite/notes", method: "POST", batchSize: 200, wrap: "records" }
})
