/**
 * Whether a test may talk to a real service on the network: suites that need one (a database on loopback, a
 * broker) call `unreachable` once, run when it answers `undefined`, and otherwise skip with the printed reason.
 * Under `CI=true` it always answers `undefined` — the services are part of CI, so a missing one must fail the
 * suite, not skip it.
 *
 * @since 0.1.0
 */
import { createConnection } from "node:net"

/**
 * Why the service at `host:port` cannot be reached (a TCP connection is tried), or `undefined` when it answers
 * or when `CI=true`. With `label`, a skip is announced on stderr.
 *
 * **Example** (A PostgreSQL suite that runs where the server is)
 *
 * ```ts
 * import { LiveService } from "@data-mcp/core/testing"
 * import { describe } from "vitest"
 *
 * const unreachable = await LiveService.unreachable({ host: "127.0.0.1", port: 5432 }, "the PostgreSQL suite")
 * const describeIf = unreachable === undefined ? describe : describe.skip
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const unreachable = async (
  address: { readonly host: string; readonly port: number },
  label?: string
): Promise<string | undefined> => {
  if (process.env.CI === "true") return undefined
  const reason = await new Promise<string | undefined>((resolve) => {
    const socket = createConnection({ host: address.host, port: address.port })
    socket.setTimeout(5_000, () => {
      socket.destroy()
      resolve("timed out")
    })
    socket.once("connect", () => {
      socket.destroy()
      resolve(undefined)
    })
    socket.once("error", (error) => resolve(error.message))
  })
  if (reason !== undefined && label !== undefined)
    console.warn(`Skipping ${label}: ${address.host}:${address.port} is unreachable (${reason})`)
  return reason
}
