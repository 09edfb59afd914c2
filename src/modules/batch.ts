import { DspexError, ErrorCode, toDspexError } from '../errors.js';

/** Options of `module.batch()`. */
export interface BatchOptions {
  /** Calls in flight at once. @default 4 */
  concurrency?: number;
}

/**
 * Runs `run` over every item with bounded concurrency. The result has one entry per item, in order:
 * the value, or the {@link DspexError} that item failed with (other errors are wrapped as `internal`).
 * Nothing is dropped and one failure does not stop the others.
 */
export async function runBatch<T, R>(
  items: readonly T[],
  run: (item: T, index: number) => Promise<R>,
  options: BatchOptions = {},
): Promise<Array<R | DspexError>> {
  const concurrency = options.concurrency ?? 4;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new DspexError(
      ErrorCode.BadRequest,
      `batch: concurrency must be an integer >= 1, got ${concurrency}`,
      {
        details: { field: 'concurrency' },
      },
    );
  }
  const results = new Array<R | DspexError>(items.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      try {
        results[index] = await run(items[index]!, index);
      } catch (error) {
        results[index] = toDspexError(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, lane));
  return results;
}
