import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Redacted } from "effect"
import * as SecretProvider from "../src/SecretProvider.ts"

const VALUE = "s3cr3t-Value-42"

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "dm-secrets-"))

/** Everything a failure could show a user: message, JSON, pretty cause. */
const surfaces = (exit: Exit.Exit<unknown, unknown>): string => {
  if (Exit.isSuccess(exit)) return JSON.stringify(exit.value)
  const error = Cause.findErrorOption(exit.cause)
  const e = error._tag === "Some" ? (error.value as Error) : undefined
  return [e?.message, JSON.stringify(e), String(e), Cause.pretty(exit.cause)].join("\n")
}

describe("SecretProvider", () => {
  it.effect("fromEnv resolves a Redacted value, with and without a prefix", () =>
    Effect.gen(function* () {
      const env = { PG_URL: VALUE, DM_TOKEN: "tok", EMPTY: "" }
      const plain = SecretProvider.fromEnv(env)
      const url = yield* plain.resolve("PG_URL")
      assert.isTrue(Redacted.isRedacted(url))
      assert.strictEqual(Redacted.value(url), VALUE)
      assert.notInclude(JSON.stringify({ url }), VALUE)
      assert.notInclude(String(url), VALUE)
      assert.include(String(url), "PG_URL")
      const prefixed = SecretProvider.fromEnv(env, { prefix: "DM_" })
      assert.strictEqual(Redacted.value(yield* prefixed.resolve("TOKEN")), "tok")
      const missing = yield* Effect.flip(plain.resolve("EMPTY"))
      assert.strictEqual(missing.reason, "NotFound")
      assert.isFalse(missing.retryable)
      assert.include(missing.message, "EMPTY")
    })
  )

  it.effect("fromEnv refuses invalid names", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(SecretProvider.fromEnv({}).resolve("not a name"))
      assert.strictEqual(error.reason, "InvalidName")
    })
  )

  it.effect("fromFile reads .env and JSON files", () =>
    Effect.gen(function* () {
      const dir = tmp()
      const envFile = path.join(dir, "secrets.env")
      fs.writeFileSync(
        envFile,
        `# comment\nexport PG_URL="${VALUE}"\nAPI_KEY = 'k ey' \nPLAIN=abc # trailing\n\nEMPTY=\n`
      )
      const fromEnvFile = SecretProvider.fromFile(envFile)
      assert.strictEqual(Redacted.value(yield* fromEnvFile.resolve("PG_URL")), VALUE)
      assert.strictEqual(Redacted.value(yield* fromEnvFile.resolve("API_KEY")), "k ey")
      assert.strictEqual(Redacted.value(yield* fromEnvFile.resolve("PLAIN")), "abc")
      assert.strictEqual((yield* Effect.flip(fromEnvFile.resolve("NOPE"))).reason, "NotFound")

      const jsonFile = path.join(dir, "secrets.json")
      fs.writeFileSync(jsonFile, JSON.stringify({ PG_URL: VALUE }))
      assert.strictEqual(Redacted.value(yield* SecretProvider.fromFile(jsonFile).resolve("PG_URL")), VALUE)

      const missing = yield* Effect.flip(SecretProvider.fromFile(path.join(dir, "absent.env")).resolve("PG_URL"))
      assert.strictEqual(missing.reason, "Unavailable")
      assert.isTrue(missing.retryable)

      const badFile = path.join(dir, "bad.env")
      fs.writeFileSync(badFile, `GOOD=1\n${VALUE}\n`)
      const bad = yield* Effect.exit(SecretProvider.fromFile(badFile).resolve("GOOD"))
      assert.isTrue(Exit.isFailure(bad))
      assert.include(surfaces(bad), "line 2")
      assert.notInclude(surfaces(bad), VALUE)
    })
  )

  it.effect("allowOnly refuses every other name before asking the provider", () =>
    Effect.gen(function* () {
      let asked = 0
      const inner = SecretProvider.make("counting", (name) =>
        Effect.sync(() => {
          asked++
          return name === "PG_URL" || name === "OTHER" ? VALUE : undefined
        })
      )
      const only = SecretProvider.allowOnly(inner, ["PG_URL"])
      assert.strictEqual(Redacted.value(yield* only.resolve("PG_URL")), VALUE)
      const refused = yield* Effect.exit(only.resolve("OTHER"))
      assert.isTrue(Exit.isFailure(refused))
      const error = yield* Effect.flip(only.resolve("OTHER"))
      assert.strictEqual(error.reason, "NotAllowed")
      assert.include(error.message, "OTHER")
      assert.include(error.message, "PG_URL")
      assert.strictEqual(asked, 1)
      assert.notInclude(surfaces(refused), VALUE)
      const none = yield* Effect.flip(SecretProvider.allowOnly(inner, []).resolve("PG_URL"))
      assert.strictEqual(none.reason, "NotAllowed")
    })
  )

  it.effect("no secret value in any error message or JSON", () =>
    Effect.gen(function* () {
      const providers = [
        SecretProvider.fromRecord({ PG_URL: VALUE }),
        SecretProvider.fromEnv({ PG_URL: VALUE }),
        SecretProvider.allowOnly(SecretProvider.fromRecord({ PG_URL: VALUE }), ["PG_URL"])
      ]
      for (const provider of providers) {
        const ok = yield* Effect.exit(provider.resolve("PG_URL"))
        assert.isTrue(Exit.isSuccess(ok))
        assert.notInclude(surfaces(ok), VALUE)
        // A name is echoed in messages (that is how the error is useful); a string that is not a valid name,
        // such as a value pasted by mistake, never is.
        for (const name of ["MISSING", `postgres://u:${VALUE}@h/db`, `${VALUE} `]) {
          const failed = yield* Effect.exit(provider.resolve(name))
          assert.isTrue(Exit.isFailure(failed))
          assert.notInclude(surfaces(failed), VALUE)
        }
      }
    })
  )

  it.effect("orElse and the service", () =>
    Effect.gen(function* () {
      const both = SecretProvider.orElse(SecretProvider.fromRecord({ A: "1" }), SecretProvider.fromRecord({ B: "2" }))
      assert.strictEqual(Redacted.value(yield* both.resolve("B")), "2")
      const viaService = yield* SecretProvider.resolve("A").pipe(Effect.provide(SecretProvider.layer(both)))
      assert.strictEqual(Redacted.value(viaService), "1")
    })
  )
})
