/**
 * Robust statistics for baselines and trends: median, MAD, Theil–Sen slope. They tolerate up to
 * half the points being outliers (a burst of timeouts, a GC pause, one huge prompt), which a mean,
 * a standard deviation or a least-squares slope do not.
 */

/** Scale that makes the MAD estimate the standard deviation of normally distributed data. */
export const MAD_TO_SIGMA = 1.4826;

/** Median of `values` (undefined when empty). Does not modify its argument. */
export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

/** Median absolute deviation around `center` (the median when omitted). */
export function mad(values: readonly number[], center = median(values)): number | undefined {
  if (center === undefined) return undefined;
  return median(values.map((v) => Math.abs(v - center)));
}

/**
 * Theil–Sen estimate of the slope of `ys` over `xs`: the median of the slopes between every pair of
 * points. With n points that is n(n-1)/2 slopes, so callers keep n small (≤ ~120).
 */
export function theilSen(xs: readonly number[], ys: readonly number[]): number | undefined {
  const slopes: number[] = [];
  for (let i = 0; i < xs.length; i++) {
    for (let j = i + 1; j < xs.length; j++) {
      const dx = (xs[j] ?? 0) - (xs[i] ?? 0);
      if (dx !== 0) slopes.push(((ys[j] ?? 0) - (ys[i] ?? 0)) / dx);
    }
  }
  return median(slopes);
}

/** One step of an exponentially weighted moving average (the first value starts it). */
export function ewma(previous: number | undefined, value: number, alpha: number): number {
  return previous === undefined ? value : previous + alpha * (value - previous);
}
