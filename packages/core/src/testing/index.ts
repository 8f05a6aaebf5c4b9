/**
 * `@data-mcp/core/testing`: the connector conformance suite every connector runs, the store suites every state,
 * run and dead-letter store runs, and fault injection (sources and sinks that fail on call N, transiently or
 * fatally, or run slowly), and the probe that lets a live suite run where its service is (and always in CI). Needs `vitest` and `@effect/vitest`.
 *
 * @since 0.1.0
 */
export * as ConnectorConformance from "./ConnectorConformance.ts"
export * as FaultInjection from "./FaultInjection.ts"
export * as LiveService from "./LiveService.ts"
export * as StoreSuites from "./StoreSuites.ts"
