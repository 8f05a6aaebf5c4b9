/**
 * `@data-mcp/cli`: the `data-mcp` command (bin) and its building blocks — the project config schema, the project
 * loader and `Cli.main`, for tools that embed the command.
 *
 * @since 0.1.0
 */
export * as Cli from "./Cli.ts"
export * as CliConfig from "./CliConfig.ts"
export * as Project from "./Project.ts"
