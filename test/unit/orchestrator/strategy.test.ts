import { describe, expect, it } from 'vitest';
import { planBatch, type TaskAnalysis } from '../../../src/orchestrator/strategy.js';

const base: TaskAnalysis = {
  items: 100,
  itemLatencyMs: 100,
  errorRate: 0,
  capacity: 8,
  queued: 0,
  size: 2,
  maxSize: 2,
  slotsPerWorker: 4,
  remainingMs: undefined,
};

describe('batch strategy', () => {
  it('keeps every slot busy with a little queue, and predicts waves of the item latency', () => {
    const s = planBatch(base);
    expect(s.parallelism).toBe(16);
    expect(s.predictedMs).toBe(Math.ceil(100 / 8) * 100);
    expect(s.growTo).toBeUndefined();
  });

  it('never runs more in parallel than there are items', () => {
    expect(planBatch({ ...base, items: 3 }).parallelism).toBe(3);
  });

  it('grows the pool just enough to meet a deadline, within its limit', () => {
    const s = planBatch({ ...base, maxSize: 6, remainingMs: 700 });
    // 100 items at 100 ms: 8 slots → 1300 ms; 12 → 900; 16 → 700.
    expect(s.growTo).toBe(4);
    expect(s.predictedMs).toBe(700);
  });

  it('grows to the limit when even that misses the deadline, and says so', () => {
    const s = planBatch({ ...base, maxSize: 3, remainingMs: 100 });
    expect(s.growTo).toBe(3);
    expect(s.predictedMs).toBeGreaterThan(100);
    expect(s.reason).toContain('grow to 3');
  });

  it('accounts for calls already queued and for failures', () => {
    expect(planBatch({ ...base, queued: 8 }).predictedMs).toBe(Math.ceil(108 / 8) * 100);
    expect(planBatch({ ...base, errorRate: 0.5 }).predictedMs).toBe(Math.ceil(100 / 8) * 150);
  });

  it('plans without a prediction when nothing similar ran yet', () => {
    const s = planBatch({ ...base, itemLatencyMs: undefined });
    expect(s.predictedMs).toBeUndefined();
    expect(s.parallelism).toBe(16);
  });
});
