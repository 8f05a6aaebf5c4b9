// Small pure helpers over response bodies: dot paths into JSON, and RFC 8288 Link headers.

/** The value at a dot path (`data.items`, `meta.next`); the empty path is the value itself. */
export const select = (value: unknown, path: string | undefined): unknown => {
  if (path === undefined || path === "") return value
  let current = value
  for (const key of path.split(".")) {
    if (typeof current !== "object" || current === null) return undefined
    current = (current as Record<string, unknown>)[key]
  }
  return current
}

/** A value's kind in words, for errors (`array`, `object`, `null`, `string`, …). */
export const kindOf = (value: unknown): string =>
  value === null ? "null" : Array.isArray(value) ? "array" : typeof value

/** The target of the `rel="next"` link of an RFC 8288 `Link` header, if any. */
export const nextLink = (header: string | ReadonlyArray<string> | undefined): string | undefined => {
  const text = Array.isArray(header) ? header.join(",") : (header as string | undefined)
  if (text === undefined) return undefined
  for (const match of text.matchAll(/<([^>]*)>((?:\s*;\s*[^;,]+(?:=(?:"[^"]*"|[^;,]*))?)*)/g)) {
    const params = match[2] ?? ""
    const rel = /;\s*rel\s*=\s*(?:"([^"]*)"|([^;,\s]*))/i.exec(params)
    const rels = (rel?.[1] ?? rel?.[2] ?? "").toLowerCase().split(/\s+/)
    if (rels.includes("next")) return match[1]
  }
  return undefined
}
