import { SchemaInference } from "@data-mcp/core"
import { assert, describe, it } from "@effect/vitest"
import { MysqlSink } from "../src/index.ts"

describe("MysqlSink.ddl", () => {
  it("prints the table a first write would create, with the sink's column types and options", () => {
    const schema = SchemaInference.inferSchema([{ id: 1, name: "Ada", score: 1.5, meta: { a: 1 } }])
    const text = MysqlSink.ddl({ database: "shop", table: "people", key: ["id"] }, schema)
    assert.strictEqual(
      text,
      "create table if not exists `shop`.`people` (`id` bigint, `name` longtext, `score` double, `meta` json, primary key (`id`)) engine = InnoDB default charset = utf8mb4 collate = utf8mb4_bin"
    )
    assert.match(MysqlSink.ddl({ table: "people" }, schema), /^create table if not exists `people` \(/)
  })
})
