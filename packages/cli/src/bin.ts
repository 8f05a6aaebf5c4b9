#!/usr/bin/env node
// The `data-mcp` executable: runs the command and exits with its code once output is flushed.
import { main } from "./Cli.ts"

const code = await main(process.argv.slice(2), { cwd: process.cwd(), stdout: process.stdout, stderr: process.stderr })
process.stdout.write("", () => process.stderr.write("", () => process.exit(code)))
