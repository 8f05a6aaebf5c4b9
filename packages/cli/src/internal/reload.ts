// `data-mcp dev` reloads specs on change: it polls the config and spec files (fs.watchFile: the same on every OS,
// cheap for a handful of files), and on a change re-reads and re-checks the project and swaps the served pipelines.
// A project with mistakes keeps the previous pipelines and prints what to fix.
import { unwatchFile, watchFile } from "node:fs"
import * as nodePath from "node:path"
import type { DataMcpServer } from "@data-mcp/mcp-adapter"
import * as Project from "../Project.ts"

export const watch = (
  initial: Project.Project,
  server: DataMcpServer,
  options: { readonly cwd: string; readonly log: (line: string) => void; readonly intervalMs?: number }
): { readonly close: () => void } => {
  let served = new Set(initial.entries.filter((e) => e.kind === "spec").map((e) => e.name))
  let watched = new Set<string>()
  let timer: ReturnType<typeof setTimeout> | undefined
  let closed = false
  const configFile = initial.config.file

  const filesOf = (project: Project.Project) =>
    new Set([
      ...(project.config.file === undefined ? [] : [project.config.file]),
      ...(project.config.config.pipelines ?? []).map((p) => nodePath.resolve(project.config.root, p))
    ])

  const reload = async () => {
    try {
      const next = await Project.load({ cwd: options.cwd, config: configFile, check: true })
      const { set } = await Project.pipelineSet(next, "data-mcp-dev")
      const names = new Set(set.pipelines.map((p) => p.name))
      for (const name of served) if (!names.has(name)) server.remove(name)
      for (const pipeline of set.pipelines) {
        server.remove(pipeline.name)
        server.register(pipeline)
      }
      served = names
      follow(filesOf(next))
      options.log(`reloaded: ${[...names].join(", ") || "(no pipelines)"}`)
    } catch (error) {
      follow(new Set([...watched]))
      options.log(
        `reload failed, still serving the previous pipelines:\n${error instanceof Error ? error.message : String(error)}`
      )
    }
  }

  const changed = () => {
    if (closed) return
    if (timer !== undefined) clearTimeout(timer)
    timer = setTimeout(() => void reload(), 150)
  }

  const follow = (files: Set<string>) => {
    for (const f of watched) if (!files.has(f)) unwatchFile(f, changed)
    for (const f of files) if (!watched.has(f)) watchFile(f, { interval: options.intervalMs ?? 300 }, changed)
    watched = files
  }

  follow(filesOf(initial))
  return {
    close: () => {
      closed = true
      if (timer !== undefined) clearTimeout(timer)
      for (const f of watched) unwatchFile(f, changed)
    }
  }
}
