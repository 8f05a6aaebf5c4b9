// preview_pipeline's plan through the real MCP client: the checkpoint range, the target's effects and the schema
// diff the sink reports for the sample (a file that a run would create, a header that refuses a new field), and a
// target that cannot be described — with nothing written.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { ConnectorError, Csv, Memory, Pipeline, PipelineSet, Sink, Transform } from "@data-mcp/core"
import type { Client } from "@modelcontextprotocol/client"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { createMcpServer, type DataMcpServer } from "../src/index.ts"
import { connect, type Mounted, mounts, structured } from "./harness.ts"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dm-preview-plan-"))
const rows = Array.from({ length: 12 }, (_, i) => ({ id: i + 1, name: `n${i + 1}` }))
const withEmail = Transform.identity<(typeof rows)[number]>().pipe(
  Transform.map((r) => ({ ...r, email: `u${r.id}@example.com` }))
)

const set = () =>
  PipelineSet.make("plans", [
    Pipeline.make({
      name: "to_new_csv",
      version: "1.0.0",
      description: "Writes rows into a CSV file that does not exist yet.",
      source: Memory.source(rows),
      sink: Csv.sink({ path: path.join(dir, "new.csv") })
    }),
    Pipeline.make({
      name: "to_old_csv",
      version: "1.0.0",
      description: "Appends rows with an email to a CSV file whose header has no email column.",
      source: Memory.source(rows),
      transforms: withEmail,
      sink: Csv.sink({ path: path.join(dir, "old.csv") })
    }),
    Pipeline.make({
      name: "snapshot_csv",
      version: "1.0.0",
      description: "Replaces a CSV snapshot.",
      source: Memory.source(rows),
      sink: Csv.sink({ path: path.join(dir, "snapshot.csv"), disposition: "replace" })
    }),
    Pipeline.make({
      name: "to_unreachable",
      version: "1.0.0",
      description: "Writes to a target that cannot be reached.",
      source: Memory.source(rows),
      sink: Sink.make<unknown>({
        name: "remote",
        capabilities: { transactional: false, idempotent: false },
        disposition: Sink.append,
        open: () => Effect.die("not opened by a preview"),
        plan: () =>
          Effect.fail(
            new ConnectorError.ConnectorError({
              connector: "remote",
              operation: "plan",
              reason: new ConnectorError.ConnectionError({ detail: "connection refused" })
            })
          )
      })
    }),
    Pipeline.make({
      name: "to_memory",
      version: "1.0.0",
      description: "Collects rows in memory.",
      source: Memory.source(rows),
      sink: Memory.sink().sink
    })
  ])

describe("preview_pipeline plan", () => {
  let server: DataMcpServer
  let mounted: Mounted
  let client: Client

  beforeAll(async () => {
    fs.writeFileSync(path.join(dir, "old.csv"), "id,name\n0,zero\n")
    fs.writeFileSync(path.join(dir, "snapshot.csv"), "id,name\n0,zero\n")
    server = await createMcpServer(set(), { inMemory: true, purgeIntervalMs: 0 })
    mounted = await mounts.fetch(server)
    client = await connect(mounted)
  })
  afterAll(async () => {
    await client.close()
    await mounted.close()
    await server.close()
    fs.rmSync(dir, { recursive: true, force: true })
  })

  const preview = async (name: string, limit = 3) =>
    structured(await client.callTool({ name: "preview_pipeline", arguments: { name, limit } }))

  it("a file a run would create: its columns, the checkpoint range, nothing written", async () => {
    const out = await preview("to_new_csv")
    expect(out.plan.checkpoint).toEqual({ from: null, to: 12, sampleReached: 3 })
    expect(out.plan.target).toMatchObject({ sink: "csv", disposition: "append", exists: false })
    expect(out.plan.target.schemaDiff.added).toEqual([
      { path: "id", type: "string" },
      { path: "name", type: "string" }
    ])
    expect(out.plan.target.effects).toEqual([
      `creates ${path.join(dir, "new.csv")} with columns id string, name string`,
      `appends about 12 rows to ${path.join(dir, "new.csv")}`
    ])
    expect(fs.existsSync(path.join(dir, "new.csv"))).toBe(false)
  })

  it("a field the target cannot hold: the diff, what the contract does, and the file untouched", async () => {
    const out = await preview("to_old_csv")
    expect(out.plan.target.exists).toBe(true)
    expect(out.plan.target.schemaDiff.added).toEqual([])
    expect(out.plan.target.refused).toMatchObject({
      outcome: "discardRow",
      diff: { added: [{ path: "email", type: "string" }] }
    })
    expect(out.plan.target.effects[0]).toMatch(/not columns of .*old\.csv.*dead letters/)
    expect(fs.readFileSync(path.join(dir, "old.csv"), "utf8")).toBe("id,name\n0,zero\n")
  })

  it("a replace says the current content is dropped", async () => {
    const out = await preview("snapshot_csv")
    expect(out.plan.target.disposition).toBe("replace")
    expect(out.plan.target.effects.at(-1)).toMatch(/^replaces all rows of .*snapshot\.csv with about 12 rows/)
    expect(fs.readFileSync(path.join(dir, "snapshot.csv"), "utf8")).toBe("id,name\n0,zero\n")
  })

  it("a target that cannot be described: the preview answers and says why", async () => {
    const out = await preview("to_unreachable")
    expect(out.records).toHaveLength(3)
    expect(out.plan.target.schemaDiff).toBeNull()
    expect(out.plan.target.unavailable).toMatch(/connection refused/)
  })

  it("a schemaless target reports no schema change and the rows it holds", async () => {
    const out = await preview("to_memory")
    expect(out.plan.target).toMatchObject({ name: "memory", exists: true, rows: 0 })
    expect(out.plan.target.schemaDiff).toEqual({
      added: [],
      removed: [],
      widened: [],
      incompatible: [],
      nullable: [],
      optional: []
    })
  })
})
