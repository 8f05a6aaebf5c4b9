/**
 * Object builders: for a list of keys, a function that makes an object with those keys from consecutive values, as
 * one object literal with the keys as constant names — `(v, f) => ({ "id": v[f], "name": v[f + 1], … })` — so every
 * object is made with its final shape in one allocation. The decoders use them for records (the column names) and
 * for JSON objects (a key sequence seen before).
 *
 * @since 0.1.0
 */

/** Makes an object from `values[from, from + keys)` in key order. */
export type ObjectBuilder = (values: ArrayLike<unknown>, from: number) => Record<string, unknown>

// Built once per key list, shared by every decoder; the oldest goes past 256.
const builders = new Map<string, ObjectBuilder>()

/**
 * The builder for `keys`. Keys are embedded as JSON string literals (valid JavaScript string literals). The caller
 * never passes `__proto__` (a literal would set the prototype) nor an array-index key (a literal orders those
 * first, as any object does, which the caller must want).
 */
export const objectBuilderFor = (keys: ReadonlyArray<string>): ObjectBuilder => {
  const id = JSON.stringify(keys)
  let builder = builders.get(id)
  if (builder === undefined) {
    const fields = keys.map((key, i) => `${JSON.stringify(key)}: v[f + ${i}]`).join(", ")
    builder = new Function("v", "f", `return { ${fields} }`) as ObjectBuilder
    if (builders.size >= 256) builders.delete(builders.keys().next().value!)
    builders.set(id, builder)
  }
  return builder
}
