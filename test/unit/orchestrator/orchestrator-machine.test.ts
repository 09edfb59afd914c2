import { describe, expect, it } from 'vitest';
import { shrinkIdle, type PoolSizes } from '../../../src/orchestrator/orchestrator-machine.js';

const pool = (o: Partial<PoolSizes> = {}): PoolSizes => ({
  size: 3,
  baseSize: 1,
  inflight: 0,
  queued: 0,
  ...o,
});

describe('the idle-shrink step', () => {
  it('gives back one worker of a grown pool once it has idled long enough, then waits again', () => {
    const first = shrinkIdle({ g: pool() }, { g: 0 }, 30_000, 30_000);
    expect(first).toEqual({ busyAt: { g: 30_000 }, resizes: [{ pool: 'g', size: 2 }] });
    expect(shrinkIdle({ g: pool({ size: 2 }) }, first.busyAt, 59_999, 30_000).resizes).toEqual([]);
  });

  it('counts a busy pool, and a pool first seen, as busy now', () => {
    expect(shrinkIdle({ g: pool({ queued: 1 }) }, { g: 0 }, 50_000, 30_000)).toEqual({
      busyAt: { g: 50_000 },
      resizes: [],
    });
    expect(shrinkIdle({ g: pool() }, {}, 50_000, 30_000)).toEqual({ busyAt: { g: 50_000 }, resizes: [] });
  });

  it('leaves pools at or below their configured size alone', () => {
    expect(shrinkIdle({ g: pool({ size: 1 }) }, { g: 0 }, 99_000, 30_000).resizes).toEqual([]);
  });
});
