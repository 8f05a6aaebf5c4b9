/**
 * Core's built-in connectors: in-memory records, a synthetic generator, and CSV, JSON Lines and Parquet
 * files — enough to run the whole product on one machine with no services. Each is shaped like a connector
 * package (a folder with one public module), and each file source emits an unparseable record as an
 * `InvalidRecord` for the runner to dead-letter.
 *
 * @since 0.1.0
 */

/**
 * CSV file source and sink.
 *
 * @category connectors
 * @since 0.1.0
 */
export * as Csv from "./csv/Csv.ts"

/**
 * Deterministic synthetic records.
 *
 * @category connectors
 * @since 0.1.0
 */
export * as Generator from "./generator/Generator.ts"

export {
  /**
   * A record a source could not parse, for the runner to dead-letter.
   *
   * @category models
   * @since 0.1.0
   */
  type InvalidRecord,
  /**
   * Makes an invalid record.
   *
   * @category constructors
   * @since 0.1.0
   */
  invalidRecord,
  /**
   * Whether a value is an invalid record.
   *
   * @category guards
   * @since 0.1.0
   */
  isInvalidRecord,
  /**
   * The records of a source without its invalid records.
   *
   * @category models
   * @since 0.1.0
   */
  type Valid
} from "./internal/invalid.ts"

/**
 * JSON Lines file source and sink.
 *
 * @category connectors
 * @since 0.1.0
 */
export * as Jsonl from "./jsonl/Jsonl.ts"

/**
 * In-memory source and collecting sink.
 *
 * @category connectors
 * @since 0.1.0
 */
export * as Memory from "./memory/Memory.ts"

/**
 * Parquet file source and sink.
 *
 * @category connectors
 * @since 0.1.0
 */
export * as Parquet from "./parquet/Parquet.ts"
