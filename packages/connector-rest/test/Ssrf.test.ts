import { RestSource } from "@data-mcp/connector-rest"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import * as Ssrf from "../src/internal/ssrf.ts"
import * as TestApi from "./server.ts"
import { provide, run } from "./utils.ts"

// The SSRF guard refuses loopback, link-local (metadata), private and other internal addresses on every hop,
// before any connect. Nothing here connects outside loopback: refused literals never reach a socket, and the
// only server is the test's own on 127.0.0.1.

const deny: Ssrf.Policy = { allowPrivateNetworks: false, allowHosts: [] }

describe("SSRF guard", () => {
  it("classifies addresses", () => {
    const blocked = [
      "127.0.0.1",
      "127.8.9.10",
      "10.1.2.3",
      "172.16.0.1",
      "172.31.255.255",
      "192.168.1.1",
      "169.254.169.254",
      "100.64.0.1",
      "0.0.0.0",
      "224.0.0.1",
      "::1",
      "::",
      "::ffff:127.0.0.1",
      "::ffff:169.254.169.254",
      "fe80::1",
      "fd00:ec2::254",
      "fc00::1",
      "64:ff9b::a9fe:a9fe",
      "ff02::1"
    ]
    for (const address of blocked) assert.isDefined(Ssrf.blockedReason(address), address)
    for (const address of ["8.8.8.8", "172.32.0.1", "100.128.0.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"]) {
      assert.isUndefined(Ssrf.blockedReason(address), address)
    }
    assert.strictEqual(Ssrf.blockedReason("169.254.169.254"), "link-local (cloud metadata)")
  })

  it("judges a URL's host before any lookup; names are judged on their addresses", () => {
    assert.include(Ssrf.checkHost("localhost", deny), "loopback")
    assert.include(Ssrf.checkHost("LOCALHOST", deny), "loopback")
    assert.include(Ssrf.checkHost("[::1]", deny), "loopback")
    assert.include(Ssrf.checkHost("169.254.169.254", deny), "metadata")
    assert.isUndefined(Ssrf.checkHost("api.example.com", deny))
    assert.isUndefined(Ssrf.checkHost("127.0.0.1", { allowPrivateNetworks: false, allowHosts: ["127.0.0.1"] }))
    assert.isUndefined(Ssrf.checkHost("10.0.0.1", { allowPrivateNetworks: true, allowHosts: [] }))
  })

  it("the socket's lookup refuses a name that resolves to a private address", async () => {
    const error = await new Promise<unknown>((resolve) => Ssrf.lookup(deny)("localhost", {}, (e) => resolve(e)))
    assert.instanceOf(error, Ssrf.Refused)
    assert.include((error as Error).message, "resolves to loopback")
    const allowed = await new Promise<unknown>((resolve) =>
      Ssrf.lookup({ allowPrivateNetworks: true, allowHosts: [] })("localhost", {}, (e, address) =>
        resolve(e ?? address)
      )
    )
    assert.isString(allowed)
  })

  it.live("a source refuses loopback, metadata and private URLs unless allowed; nothing connects", () =>
    provide(
      Effect.gen(function* () {
        const server = yield* TestApi.serve(TestApi.api(() => TestApi.records(5), "none", 0))
        for (const baseUrl of [
          server.url,
          `http://localhost:${server.port}`,
          `http://[::1]:${server.port}`,
          "http://169.254.169.254/latest/meta-data",
          "http://10.0.0.1"
        ]) {
          const source = RestSource.make({ baseUrl, path: "/items", records: "data.items" })
          const { exit, events } = yield* run(source, "ssrf_refused")
          assert.isTrue(Exit.isFailure(exit), baseUrl)
          assert.include(String(Exit.isFailure(exit) ? exit.cause : ""), "refused to connect", baseUrl)
          assert.isFalse(
            events.some((e) => e._tag === "RetryScheduled"),
            "a refusal is not retried"
          )
        }
        assert.strictEqual(server.log.length, 0, "the guard refused before connecting")
        const allowed = RestSource.make({
          baseUrl: server.url,
          path: "/items",
          records: "data.items",
          allowPrivateNetworks: true
        })
        assert.isTrue(Exit.isSuccess((yield* run(allowed, "ssrf_allowed")).exit))
        assert.strictEqual(server.log.length, 1)
      })
    )
  )

  it.live("every redirect hop is checked: a redirect to a private or metadata address is refused", () =>
    provide(
      Effect.gen(function* () {
        let target = ""
        const server = yield* TestApi.serve((request, res) => {
          if (request.path === "/items") return res.writeHead(302, { location: target }).end()
          return TestApi.api(() => TestApi.records(5), "none", 0)({ ...request, path: "/items" }, res, 0)
        })
        // 127.0.0.1 itself is allowed by name; where it redirects is judged again
        const source = RestSource.make({
          baseUrl: server.url,
          path: "/items",
          records: "data.items",
          allowHosts: ["127.0.0.1"]
        })
        for (const to of [
          "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
          `http://localhost:${server.port}/moved`,
          `http://[::ffff:127.0.0.1]:${server.port}/moved`,
          "http://192.168.0.1/admin"
        ]) {
          target = to
          const before = server.log.length
          const { exit } = yield* run(source, "ssrf_redirect")
          assert.isTrue(Exit.isFailure(exit), to)
          assert.include(String(Exit.isFailure(exit) ? exit.cause : ""), "refused to connect", to)
          assert.strictEqual(server.log.length, before + 1, "only the first hop reached the server")
        }
        target = "/moved"
        const { exit, records } = yield* run(source, "ssrf_redirect_ok")
        assert.isTrue(Exit.isSuccess(exit))
        assert.strictEqual(records.length, 5)
      })
    )
  )
})
