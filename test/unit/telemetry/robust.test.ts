import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { rateScore } from '../../../src/telemetry/detectors.js';
import { mad, median, theilSen } from '../../../src/telemetry/robust.js';
import { QuantileSketch } from '../../../src/telemetry/sketch.js';

describe('QuantileSketch', () => {
  it('answers every quantile within its relative accuracy of a true sample', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0.01, max: 600_000, noNaN: true }), { minLength: 1, maxLength: 400 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (values, q) => {
          const sketch = new QuantileSketch(0.02);
          for (const v of values) sketch.add(v);
          const sorted = [...values].sort((a, b) => a - b);
          const exact = sorted[Math.floor(q * (sorted.length - 1))]!;
          const got = sketch.quantile(q)!;
          expect(Math.abs(got - exact) / exact).toBeLessThanOrEqual(0.02 + 1e-9);
        },
      ),
    );
  });

  it('merges like adding both sets and stays small for many samples', () => {
    const a = new QuantileSketch();
    const b = new QuantileSketch();
    const both = new QuantileSketch();
    for (let i = 1; i <= 100_000; i++) {
      const v = (i % 997) + 0.5;
      (i % 2 === 0 ? a : b).add(v);
      both.add(v);
    }
    a.merge(b);
    expect(a.count).toBe(both.count);
    expect(a.quantile(0.5)).toBe(both.quantile(0.5));
    expect(a.quantile(0.99)).toBe(both.quantile(0.99));
    expect(a.size).toBeLessThan(200);
  });

  it('counts values at or below its floor as zero and ignores non-finite ones', () => {
    const s = new QuantileSketch();
    s.add(0);
    s.add(Number.NaN);
    s.add(Infinity);
    expect(s.count).toBe(1);
    expect(s.quantile(0.5)).toBe(0);
    expect(new QuantileSketch().quantile(0.5)).toBeUndefined();
  });
});

describe('robust statistics', () => {
  it('median and MAD ignore a minority of outliers', () => {
    const values = [10, 11, 9, 10, 12, 10, 9, 1000, 5000];
    expect(median(values)).toBe(10);
    expect(mad(values)).toBe(1);
    expect(median([])).toBeUndefined();
    expect(median([1, 2])).toBe(1.5);
  });

  it('Theil–Sen finds the slope through outliers that drag least squares away', () => {
    const xs = Array.from({ length: 40 }, (_, i) => i);
    const ys = xs.map((x) => 3 * x + 7);
    ys[5] = 1000;
    ys[30] = -500;
    expect(theilSen(xs, ys)).toBeCloseTo(3, 6);
  });

  it('the rate score is 0 at or below the baseline and grows with the excess and the count', () => {
    expect(rateScore(0.01, 0.02, 100)).toBe(0);
    expect(rateScore(0.1, 0.02, 100)).toBeGreaterThan(rateScore(0.1, 0.02, 50));
    expect(rateScore(0.4, 0.02, 50)).toBeGreaterThan(rateScore(0.1, 0.02, 50));
    // Six errors in fifty calls at a 2% baseline happens about once in two thousand windows: not 4.5.
    expect(rateScore(6 / 50, 0.02, 50)).toBeLessThan(4.5);
  });
});
