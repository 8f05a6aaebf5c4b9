// Facts quoted in an audit detail come from the (possibly forged) request: they are shown quoted, printable
// ASCII only, and cut short, so a detail stays one readable line whatever a client sends.
const MAX = 80

/** A value seen in a request, quoted and bounded for an audit detail. */
export const safe = (value: unknown): string => {
  if (value === undefined) return "(none)"
  const text = typeof value === "string" ? value : (JSON.stringify(value) ?? String(value))
  const printable = text.replaceAll(/[^\u0020-\u007E]/g, "?")
  return JSON.stringify(printable.length > MAX ? `${printable.slice(0, MAX)}…` : printable)
}
