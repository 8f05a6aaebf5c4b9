/**
 * A pipeline set is the named collection of pipelines handed to the runner, the MCP adapter and the CLI.
 * Names are unique within a set.
 *
 * @since 0.1.0
 */
import { ConfigError } from "./Config.ts"
import type * as Pipeline from "./Pipeline.ts"

/**
 * A named collection of pipelines.
 *
 * @category models
 * @since 0.1.0
 */
export interface PipelineSet {
  readonly name: string
  readonly pipelines: ReadonlyArray<Pipeline.Any>
  /** The pipeline with this name, if any. */
  readonly get: (name: string) => Pipeline.Any | undefined
}

/**
 * Makes a set; two pipelines with one name are a `ConfigError`.
 *
 * **Example** (Two pipelines)
 *
 * ```ts
 * import { PipelineSet } from "@data-mcp/core"
 * declare const a: import("@data-mcp/core").Pipeline.Any
 * declare const b: import("@data-mcp/core").Pipeline.Any
 * const set = PipelineSet.make("warehouse", [a, b])
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (name: string, pipelines: ReadonlyArray<Pipeline.Any>): PipelineSet => {
  const byName = new Map<string, Pipeline.Any>()
  for (const pipeline of pipelines) {
    if (byName.has(pipeline.name)) {
      throw new ConfigError({
        component: `pipeline set ${name}`,
        path: pipeline.name,
        detail: "two pipelines share this name"
      })
    }
    byName.set(pipeline.name, pipeline)
  }
  return { name, pipelines: [...pipelines], get: (n) => byName.get(n) }
}
