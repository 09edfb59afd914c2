import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CallBatchSchema, type CallBatch, type CallRecord } from '../../../src/protocol/events.js';
import { createCallBatcher } from '../../../src/telemetry/call-batcher.js';
import { rng } from './synthetic.js';

const call = (i: number, signature = 'question -> answer'): CallRecord => ({
  ts: 1_700_000_000_000 + i,
  pool: 'general',
  worker: 'w1',
  module: 'Predict',
  signature,
  latency_ms: 10 + i,
  outcome: 'ok',
});

describe('call batcher', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('sends what was recorded on the flush interval, in valid numbered batches', () => {
    const batches: CallBatch[] = [];
    const b = createCallBatcher({ node: 'n1', sinks: [(x) => void batches.push(x)], flushMs: 1000 });
    for (let i = 0; i < 3; i++) b.record(call(i));
    expect(batches).toEqual([]);
    vi.advanceTimersByTime(1000);
    expect(batches).toHaveLength(1);
    expect(CallBatchSchema.parse(batches[0])).toMatchObject({
      node: 'n1',
      seq: 1,
      sample_rate: 1,
      dropped: 0,
    });
    expect(batches[0]!.calls.map((c) => c.latency_ms)).toEqual([10, 11, 12]);
    vi.advanceTimersByTime(5000);
    expect(batches).toHaveLength(1);
    b.record(call(3));
    b.close();
    expect(batches.map((x) => x.seq)).toEqual([1, 2]);
  });

  it('flushes a full batch without waiting for the timer, and splits large buffers', async () => {
    const batches: CallBatch[] = [];
    const b = createCallBatcher({
      node: 'n1',
      sinks: [(x) => void batches.push(x)],
      maxBatch: 10,
      flushMs: 60_000,
    });
    for (let i = 0; i < 25; i++) b.record(call(i));
    expect(batches).toEqual([]);
    await Promise.resolve();
    // One flush on the next microtask, in batches of at most maxBatch.
    expect(batches.map((x) => x.calls.length)).toEqual([10, 10, 5]);
    b.close();
  });

  it('drops and counts when the buffer is full, and reports the drops in the next batch', () => {
    const batches: CallBatch[] = [];
    const b = createCallBatcher({
      node: 'n1',
      sinks: [(x) => void batches.push(x)],
      maxBuffer: 5,
      maxBatch: 100,
    });
    for (let i = 0; i < 8; i++) b.record(call(i));
    expect(b.stats()).toMatchObject({ offered: 8, sampled: 8, dropped: 3 });
    b.flush();
    expect(batches[0]).toMatchObject({ dropped: 3 });
    expect(batches[0]!.calls).toHaveLength(5);
    b.close();
  });

  it('samples uniformly at its rate and says so in each batch', () => {
    const batches: CallBatch[] = [];
    const b = createCallBatcher({
      node: 'n1',
      sinks: [(x) => void batches.push(x)],
      sampleRate: 0.1,
      random: rng(42),
      maxBatch: 1000,
      maxBuffer: 100_000,
    });
    for (let i = 0; i < 20_000; i++) b.record(call(i));
    b.close();
    const kept = batches.reduce((n, x) => n + x.calls.length, 0);
    expect(kept).toBeGreaterThan(1800);
    expect(kept).toBeLessThan(2200);
    expect(batches.every((x) => x.sample_rate === 0.1)).toBe(true);
  });

  it('counts a sink that throws or rejects, and keeps feeding the others', async () => {
    const good: CallBatch[] = [];
    const b = createCallBatcher({
      node: 'n1',
      sinks: [
        () => {
          throw new Error('not connected');
        },
        () => Promise.reject(new Error('timeout')),
        (x) => void good.push(x),
      ],
    });
    b.record(call(1));
    b.record(call(2));
    expect(() => b.flush()).not.toThrow();
    await Promise.resolve();
    expect(good).toHaveLength(1);
    expect(b.stats()).toMatchObject({ batches: 1, sinkErrors: 2, dropped: 4 });
    b.close();
  });

  it('cuts signatures longer than the wire allows instead of sending an invalid batch', () => {
    const batches: CallBatch[] = [];
    const b = createCallBatcher({ node: 'n1', sinks: [(x) => void batches.push(x)] });
    b.record(call(1, 'q -> a, ' + 'x'.repeat(2000)));
    b.close();
    expect(CallBatchSchema.safeParse(batches[0]).success).toBe(true);
  });

  it('refuses a sample rate outside (0, 1]', () => {
    expect(() => createCallBatcher({ node: 'n1', sinks: [], sampleRate: 0 })).toThrow(/sampleRate/);
  });
});
