/**
 * `@data-mcp/core/promise`: the Promise facade over the Effect API, for Node services that do not use Effect.
 *
 * @since 0.1.0
 */
export {
  type PromiseRunHandle,
  PromiseRunner,
  type PromiseRunnerOptions,
  type PromiseStartOptions,
  runPromise
} from "./PromiseRunner.ts"
