/** Order statistics over latency samples (milliseconds). */

/** Summary of a set of latency samples, in milliseconds. */
export interface LatencySummary {
  n: number;
  p50_ms: number;
  p95_ms: number;
  p99_ms: number;
  mean_ms: number;
  max_ms: number;
}

/**
 * The `p`-th percentile (0–100) of ascending `sorted` samples, nearest-rank method: the smallest
 * sample with at least `p`% of the samples at or below it. With 100 samples p99 is the 99th.
 */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new RangeError('percentile of no samples');
  if (p < 0 || p > 100) throw new RangeError(`percentile ${p} is outside 0..100`);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

/** p50/p95/p99, mean and max of `samples` (any order; not modified). */
export function summarize(samples: readonly number[]): LatencySummary {
  const sorted = [...samples].sort((a, b) => a - b);
  const sum = sorted.reduce((acc, x) => acc + x, 0);
  return {
    n: sorted.length,
    p50_ms: percentile(sorted, 50),
    p95_ms: percentile(sorted, 95),
    p99_ms: percentile(sorted, 99),
    mean_ms: sum / sorted.length,
    max_ms: sorted[sorted.length - 1]!,
  };
}

/** Completed calls per second over an elapsed wall time in milliseconds. */
export function perSecond(calls: number, elapsedMs: number): number {
  return elapsedMs > 0 ? (calls * 1000) / elapsedMs : 0;
}

/** `a / b`, or NaN when `b` is 0 (printed as "n/a" rather than Infinity). */
export function ratio(a: number, b: number): number {
  return b === 0 ? Number.NaN : a / b;
}
