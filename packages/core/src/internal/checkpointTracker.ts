// The watermark over finished batches: batches may finish out of order, but a checkpoint is released only once
// every batch before it has finished, so checkpoints commit in source order whatever the concurrency.
export interface Tracker {
  /** Marks batch `seq` finished; returns the newest checkpoint the watermark passed, if it moved past one. */
  readonly complete: (
    seq: number,
    checkpoint: { readonly value: unknown } | undefined
  ) => { readonly value: unknown } | undefined
  /** The lowest batch number not yet finished. */
  readonly watermark: () => number
}

export const make = (): Tracker => {
  const done = new Map<number, { readonly value: unknown } | undefined>()
  let next = 0
  return {
    complete: (seq, checkpoint) => {
      done.set(seq, checkpoint)
      let released: { readonly value: unknown } | undefined
      while (done.has(next)) {
        const c = done.get(next)
        if (c !== undefined) released = c
        done.delete(next)
        next++
      }
      return released
    },
    watermark: () => next
  }
}
