// A tiny stand-in for the CRM on 127.0.0.1, so the example runs offline: an OAuth2 token endpoint and the
// accounts query, 25 records a page with a nextRecordsUrl, filtered by modifiedSince.
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"

const accounts = Array.from({ length: 120 }, (_, i) => ({
  Id: `001${String(i).padStart(12, "0")}`,
  Name: `Account ${i}`,
  LastModifiedDate: new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString()
}))

export const start = async (clientSecret: string): Promise<{ readonly url: string; readonly server: Server }> => {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1")
    const json = (status: number, body: unknown) =>
      res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body))
    if (url.pathname === "/oauth2/token") {
      const basic = Buffer.from(`demo-client:${clientSecret}`).toString("base64")
      return req.headers.authorization === `Basic ${basic}`
        ? json(200, { access_token: "demo-access-token", token_type: "Bearer", expires_in: 3600 })
        : json(401, { error: "invalid_client" })
    }
    if (req.headers.authorization !== "Bearer demo-access-token") return json(401, { error: "INVALID_SESSION_ID" })
    if (url.pathname !== "/services/data/v59.0/query/accounts") return json(404, { error: "NOT_FOUND" })
    const since = url.searchParams.get("modifiedSince")
    const matching = accounts.filter((a) => since === null || a.LastModifiedDate > since)
    const from = Number(url.searchParams.get("from") ?? 0)
    const next =
      from + 25 < matching.length
        ? `${url.pathname}?from=${from + 25}${since === null ? "" : `&modifiedSince=${since}`}`
        : null
    return json(200, {
      totalSize: matching.length,
      done: next === null,
      records: matching.slice(from, from + 25),
      nextRecordsUrl: next
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server }
}
