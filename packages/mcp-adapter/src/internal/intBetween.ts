// A whole number within bounds, with its description: the shape of every numeric option and tool argument.
import { Schema } from "effect"

/** An integer from `minimum` to `maximum` (inclusive), described for JSON Schema and error messages. */
export const intBetween = (minimum: number, maximum: number, description: string) =>
  Schema.Int.check(Schema.isBetween({ minimum, maximum })).annotate({ description })
