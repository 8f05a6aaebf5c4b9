import { defineConfig } from "vitest/config"

// vitest 5 calls Map.groupBy, Object.groupBy and Promise.withResolvers, which Node 20 lacks: without these
// polyfills a failing test prints "Map.groupBy is not a function" instead of the failure.
const groupBy = <K, V>(items: Iterable<V>, key: (v: V, i: number) => K): Map<K, Array<V>> => {
  const out = new Map<K, Array<V>>()
  let i = 0
  for (const item of items) {
    const k = key(item, i++)
    const group = out.get(k)
    if (group) group.push(item)
    else out.set(k, [item])
  }
  return out
}
const MapCtor = Map as unknown as { groupBy?: unknown }
MapCtor.groupBy ??= groupBy
const ObjectCtor = Object as unknown as { groupBy?: unknown }
ObjectCtor.groupBy ??= <V>(items: Iterable<V>, key: (v: V, i: number) => PropertyKey) =>
  Object.fromEntries(groupBy(items, key))
const PromiseCtor = Promise as unknown as { withResolvers?: unknown }
PromiseCtor.withResolvers ??= () => {
  let resolve!: (v: unknown) => void
  let reject!: (e: unknown) => void
  const promise = new Promise((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

// Without "import": pg's index would require pg-pool's ESM build (see packages/connector-postgres/vitest.config.ts);
// the tools load the connector packages too, and an inline project also takes the root's conditions.
const conditions = ["@data-mcp/source", "node", "default"]

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    projects: [
      "packages/*",
      {
        resolve: { conditions },
        ssr: { resolve: { conditions } },
        test: { name: "tools", include: ["scripts/**/*.test.ts"] }
      }
    ],
    testTimeout: 60_000,
    hookTimeout: 60_000
  }
})
