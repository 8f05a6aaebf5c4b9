// Benchmarks measure peak RSS in child processes that run the bench file bundled to plain JavaScript (our packages
// from source, dependencies from node_modules) under plain `node`: the TypeScript loader (tsx) alone adds about
// 80 MiB to a process's RSS.
import { fileURLToPath } from "node:url"

const bundled = new Map<string, string>()

/** Bundles the bench file at `entry` (its `import.meta.url`) once, and returns the bundle's path. */
export const bundle = async (entry: string, name: string): Promise<string> => {
  const done = bundled.get(entry)
  if (done !== undefined) return done
  const { build } = await import("esbuild")
  const out = fileURLToPath(new URL(`../node_modules/.cache/data-mcp-bench/${name}.mjs`, import.meta.url))
  await build({
    entryPoints: [fileURLToPath(entry)],
    outfile: out,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    conditions: ["@data-mcp/source"],
    // Everything bundled, our packages from source; pg's optional native binding stays out.
    external: ["pg-native"],
    // Bundled CommonJS dependencies require Node's built-in modules.
    banner: { js: 'import { createRequire } from "node:module"; const require = createRequire(import.meta.url);' },
    logLevel: "error"
  })
  bundled.set(entry, out)
  return out
}
