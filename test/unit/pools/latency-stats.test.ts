import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LatencyStats } from '../../../src/pools/latency-stats.js';

/** The quantile as the window's plain sort gives it. */
function naive(window: number[], q: number): number | undefined {
  if (window.length === 0) return undefined;
  const sorted = [...window].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

describe('LatencyStats', () => {
  it('has no quantile before its first sample', () => {
    expect(new LatencyStats().quantile(0.5)).toBeUndefined();
  });

  it('gives the quantiles of its most recent samples as a sort of the window would', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        fc.array(fc.oneof(fc.double({ min: 0, max: 1e4, noNaN: true }), fc.constantFrom(1, 2, 3)), {
          maxLength: 60,
        }),
        fc.constantFrom(0, 0.1, 0.5, 0.95, 1),
        (capacity, samples, q) => {
          const stats = new LatencyStats(0.2, capacity);
          const window: number[] = [];
          for (const s of samples) {
            stats.recordSuccess(s, 0);
            window.push(s);
            if (window.length > capacity) window.shift();
            expect(stats.quantile(q)).toBe(naive(window, q));
          }
        },
      ),
      { numRuns: 300, seed: 13 },
    );
  });

  it('keeps failures out of the latency window', () => {
    const stats = new LatencyStats(0.2, 4);
    for (const ms of [5, 1, 9]) stats.recordSuccess(ms, 0);
    stats.recordFailure(0);
    expect(stats.quantile(0.5)).toBe(5);
    expect(stats.toJSON()).toMatchObject({ count: 4, errors: 1, p50_ms: 5, p95_ms: 9 });
  });
});
