/**
 * A secret provider resolves a secret's name (`PG_URL`) to its value, wrapped in `Redacted` so it never shows
 * up in a log line, an error message, a run report or JSON. Pipeline specs and templates only ever name
 * secrets (`{ secret: "PG_URL" }`); the provider in context decides where values come from — the process
 * environment, a file, a cloud secret manager — and `allowOnly` restricts a template to the secrets it
 * declares.
 *
 * @since 0.1.0
 */
import * as fsp from "node:fs/promises"
import { Context, Effect, Layer, Redacted, Schema } from "effect"

/**
 * A secret could not be resolved. `reason` tells why: `NotFound` (no such secret), `NotAllowed` (the provider
 * refuses this name, e.g. a template that did not declare it), `InvalidName`, or `Unavailable` (the backing
 * store could not be read; the only retryable reason). The message names the secret, never its value.
 *
 * @category errors
 * @since 0.1.0
 */
export class SecretError extends Schema.TaggedError<SecretError>("@data-mcp/core/SecretError")("SecretError", {
  /** The secret's name (never its value). */
  secret: Schema.String,
  reason: Schema.Literals(["NotFound", "NotAllowed", "InvalidName", "Unavailable"]),
  /** What went wrong and what to do, without any secret value. */
  detail: Schema.String,
  cause: Schema.optionalKey(Schema.Defect())
}) {
  /** Only a store that could not be read is worth retrying. */
  get retryable(): boolean {
    return this.reason === "Unavailable"
  }

  override get message(): string {
    return `Secret ${JSON.stringify(this.secret)}: ${this.detail}`
  }
}

/**
 * What a secret provider does.
 *
 * @category models
 * @since 0.1.0
 */
export interface SecretProviderShape {
  /** A short description for errors and logs (`env`, `file secrets.env`). */
  readonly name: string
  /** Resolves a secret by name to its value, `Redacted` and labelled with the name. */
  readonly resolve: (name: string) => Effect.Effect<Redacted.Redacted<string>, SecretError>
}

/**
 * The secret provider service.
 *
 * @category services
 * @since 0.1.0
 */
export class SecretProvider extends Context.Service<SecretProvider, SecretProviderShape>()(
  "@data-mcp/core/SecretProvider"
) {}

const NAME = /^[A-Za-z_][A-Za-z0-9_./-]{0,255}$/

/**
 * Whether a string is a valid secret name: a letter or `_`, then letters, digits, `_`, `.`, `/` or `-`
 * (at most 256 characters).
 *
 * @category guards
 * @since 0.1.0
 */
export const isSecretName = (name: string): boolean => NAME.test(name)

const checkName = (name: string): Effect.Effect<void, SecretError> =>
  typeof name === "string" && isSecretName(name)
    ? Effect.void
    : Effect.fail(
        new SecretError({
          // An invalid name may be a value pasted by mistake: it is never echoed.
          secret: "<invalid>",
          reason: "InvalidName",
          detail: "not a valid secret name (a letter or _, then letters, digits, _ . / -, at most 256 characters)"
        })
      )

const redact = (name: string, value: string): Redacted.Redacted<string> => Redacted.make(value, { label: name })

/**
 * A provider from a function that looks a name up (returning `undefined` when there is no such secret).
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (
  name: string,
  lookup: (secret: string) => Effect.Effect<string | undefined, SecretError>
): SecretProviderShape => ({
  name,
  resolve: (secret) =>
    Effect.flatMap(checkName(secret), () =>
      Effect.flatMap(lookup(secret), (value) =>
        value === undefined
          ? Effect.fail(
              new SecretError({ secret, reason: "NotFound", detail: `not found in the ${name} secret provider` })
            )
          : Effect.succeed(redact(secret, value))
      )
    )
})

/**
 * A provider over a fixed record of name → value (tests, or values loaded elsewhere).
 *
 * @category constructors
 * @since 0.1.0
 */
export const fromRecord = (values: Readonly<Record<string, string>>, name = "memory"): SecretProviderShape =>
  make(name, (secret) =>
    Effect.succeed(Object.hasOwn(values, secret) ? (values[secret] as string | undefined) : undefined)
  )

/**
 * A provider that reads environment variables, optionally under a prefix: with `prefix: "DM_"` the secret
 * `PG_URL` is the variable `DM_PG_URL`. Empty variables count as missing.
 *
 * **Example** (Secrets from the process environment)
 *
 * ```ts
 * import { SecretProvider } from "@data-mcp/core"
 * import { Effect } from "effect"
 *
 * const secrets = SecretProvider.fromEnv(process.env, { prefix: "DM_" })
 * const url = Effect.runSync(Effect.result(secrets.resolve("PG_URL")))
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const fromEnv = (
  env: Readonly<Record<string, string | undefined>> = process.env,
  options?: { readonly prefix?: string | undefined }
): SecretProviderShape => {
  const prefix = options?.prefix ?? ""
  return make(prefix === "" ? "env" : `env (prefix ${prefix})`, (secret) =>
    Effect.sync(() => {
      const key = `${prefix}${secret}`
      const value = Object.hasOwn(env, key) ? env[key] : undefined
      return value === undefined || value === "" ? undefined : value
    })
  )
}

const unquote = (text: string): string => {
  const t = text.trim()
  if (t.length >= 2 && t.startsWith('"') && t.endsWith('"')) {
    return t
      .slice(1, -1)
      .replace(/\\([nrt"\\])/g, (_, c: string) => (c === "n" ? "\n" : c === "r" ? "\r" : c === "t" ? "\t" : c))
  }
  if (t.length >= 2 && t.startsWith("'") && t.endsWith("'")) return t.slice(1, -1)
  const hash = t.search(/\s#/)
  return hash === -1 ? t : t.slice(0, hash).trimEnd()
}

/**
 * Parses secrets file text: a JSON object of name → string, or `.env` lines `NAME=value` (`export ` allowed,
 * `#` comments, single or double quotes). Errors name the line, never its content.
 *
 * @category utils
 * @since 0.1.0
 */
export const parseFile = (text: string, file: string): Effect.Effect<ReadonlyMap<string, string>, SecretError> =>
  Effect.suspend(() => {
    const unavailable = (detail: string) =>
      Effect.fail(new SecretError({ secret: "", reason: "Unavailable", detail: `${file}: ${detail}` }))
    const trimmed = text.replace(/^\uFEFF/, "").trim()
    const out = new Map<string, string>()
    if (trimmed.startsWith("{")) {
      let parsed: unknown
      try {
        parsed = JSON.parse(trimmed)
      } catch {
        return unavailable("is not valid JSON")
      }
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
        return unavailable("must be a JSON object of name → string")
      }
      for (const [key, value] of Object.entries(parsed)) {
        if (typeof value !== "string") return unavailable(`the value of ${JSON.stringify(key)} is not a string`)
        out.set(key, value)
      }
      return Effect.succeed(out)
    }
    const lines = trimmed.split(/\r?\n/)
    for (let i = 0; i < lines.length; i++) {
      const line = (lines[i] as string).trim()
      if (line === "" || line.startsWith("#")) continue
      const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_./-]*)\s*=(.*)$/.exec(line)
      if (m === null) return unavailable(`line ${i + 1} is not NAME=value`)
      out.set(m[1] as string, unquote(m[2] as string))
    }
    return Effect.succeed(out)
  })

/**
 * A provider that reads a secrets file — a JSON object or `.env`-style `NAME=value` lines — on every
 * `resolve`, so a rotated value is picked up. A file that cannot be read fails with `Unavailable`.
 *
 * **Example** (Secrets from a mounted file)
 *
 * ```ts
 * import { SecretProvider } from "@data-mcp/core"
 *
 * const secrets = SecretProvider.fromFile("/run/secrets/data-mcp.env")
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const fromFile = (path: string): SecretProviderShape =>
  make(`file ${path}`, (secret) =>
    Effect.tryPromise({
      try: () => fsp.readFile(path, "utf8"),
      catch: (cause) =>
        new SecretError({
          secret,
          reason: "Unavailable",
          detail: `the secrets file ${path} could not be read (${(cause as { code?: string }).code ?? "error"})`,
          cause
        })
    }).pipe(
      Effect.flatMap((text) => parseFile(text, path)),
      Effect.mapError((error) =>
        error.secret === "" ? new SecretError({ secret, reason: error.reason, detail: error.detail }) : error
      ),
      Effect.map((values) => values.get(secret))
    )
  )

/**
 * Restricts a provider to the listed names: any other name fails with `NotAllowed` before the underlying
 * provider is asked. Templates resolve secrets through `allowOnly(provider, template.secrets)`.
 *
 * @category combinators
 * @since 0.1.0
 */
export const allowOnly = (provider: SecretProviderShape, names: Iterable<string>): SecretProviderShape => {
  const allowed = new Set(names)
  const list = [...allowed].sort().join(", ")
  return {
    name: `${provider.name} (only ${list === "" ? "no secrets" : list})`,
    resolve: (secret) =>
      allowed.has(secret)
        ? provider.resolve(secret)
        : Effect.andThen(
            checkName(secret),
            Effect.fail(
              new SecretError({
                secret,
                reason: "NotAllowed",
                detail:
                  list === ""
                    ? "not allowed here: no secrets are declared"
                    : `not allowed here: only ${list} may be resolved (declare it in the template's secrets)`
              })
            )
          )
  }
}

/**
 * Tries `first`, then `second` when `first` has no such secret.
 *
 * @category combinators
 * @since 0.1.0
 */
export const orElse = (first: SecretProviderShape, second: SecretProviderShape): SecretProviderShape => ({
  name: `${first.name}, then ${second.name}`,
  resolve: (secret) =>
    first.resolve(secret).pipe(
      Effect.catchIf(
        (e) => e.reason === "NotFound",
        () => second.resolve(secret)
      )
    )
})

/**
 * Provides a secret provider as the `SecretProvider` service.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (provider: SecretProviderShape): Layer.Layer<SecretProvider> =>
  Layer.succeed(SecretProvider, SecretProvider.of(provider))

/**
 * Resolves a secret with the provider in context.
 *
 * @category accessors
 * @since 0.1.0
 */
export const resolve = (name: string): Effect.Effect<Redacted.Redacted<string>, SecretError, SecretProvider> =>
  SecretProvider.use((provider) => provider.resolve(name))
