// The live-suite probe: a closed port is named with its reason (and announced), a listening one answers
// undefined, and under CI=true nothing is ever skipped.
import { createServer } from "node:net"
import { afterEach, describe, expect, it, vi } from "vitest"
import { LiveService } from "../src/testing/index.ts"

const listening = async () => {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as { port: number }
  return { port, close: () => new Promise((resolve) => server.close(resolve)) }
}

// A port that was free a moment ago: nothing listens on it.
const closedPort = async () => {
  const { port, close } = await listening()
  await close()
  return port
}

describe("LiveService.unreachable", () => {
  afterEach(() => {
    vi.unstubAllEnvs()
    vi.restoreAllMocks()
  })

  it("answers undefined when the service accepts a connection", async () => {
    vi.stubEnv("CI", "")
    const server = await listening()
    try {
      expect(await LiveService.unreachable({ host: "127.0.0.1", port: server.port })).toBeUndefined()
    } finally {
      await server.close()
    }
  })

  it("names why a closed port cannot be reached and announces the skip", async () => {
    vi.stubEnv("CI", "")
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined)
    const port = await closedPort()
    const reason = await LiveService.unreachable({ host: "127.0.0.1", port }, "the test suite")
    expect(reason).toContain("ECONNREFUSED")
    expect(warn).toHaveBeenCalledWith(expect.stringContaining(`Skipping the test suite: 127.0.0.1:${port}`))
  })

  it("never skips under CI=true", async () => {
    vi.stubEnv("CI", "true")
    expect(await LiveService.unreachable({ host: "127.0.0.1", port: await closedPort() })).toBeUndefined()
  })
})
