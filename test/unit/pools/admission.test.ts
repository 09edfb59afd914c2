import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  admitByDeadline,
  admitToQueue,
  effectiveServiceMs,
  expectedCompletionMs,
  poolRate,
  ThroughputMeter,
  worthSending,
} from '../../../src/pools/admission.js';
import { InflightGate } from '../../../src/nats/inflight-gate.js';

/** A test clock: time moves only when the test says so. */
function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('InflightGate', () => {
  it('admits up to the limit per endpoint and again after a leave', () => {
    let limit = 2;
    const gate = new InflightGate(() => limit);
    expect([gate.enter('a'), gate.enter('a'), gate.enter('a')]).toEqual([true, true, false]);
    expect(gate.enter('b')).toBe(true);
    gate.leave('a');
    expect(gate.enter('a')).toBe(true);
    expect(gate.inflight('a')).toBe(2);
    limit = 3;
    expect(gate.enter('a')).toBe(true);
  });

  it('never counts below zero nor admits past the limit, whatever the order of calls', () => {
    fc.assert(
      fc.property(
        fc.array(fc.boolean(), { maxLength: 300 }),
        fc.integer({ min: 1, max: 20 }),
        (ops, limit) => {
          const gate = new InflightGate(() => limit);
          let held = 0;
          for (const enter of ops) {
            if (enter) {
              const ok = gate.enter('e');
              expect(ok).toBe(held < limit);
              if (ok) held++;
            } else if (held > 0) {
              gate.leave('e');
              held--;
            }
            expect(gate.inflight('e')).toBe(held);
          }
        },
      ),
      { seed: 7 },
    );
  });
});

describe('deadline admission', () => {
  it('estimates the completion of a queued call from the pool rate', () => {
    // 8 slots of 20 ms: 0.4 calls/ms. 100 ahead: (100 + 1 + 8) / 0.4 = 272.5 ms.
    expect(expectedCompletionMs({ queued: 100, capacity: 8, serviceMs: 20 })).toBeCloseTo(272.5);
    expect(expectedCompletionMs({ queued: 0, capacity: 0, serviceMs: 20 })).toBeUndefined();
    expect(expectedCompletionMs({ queued: 5, capacity: 8, serviceMs: undefined })).toBeUndefined();
  });

  it('takes the better of the latency and the rate delivered while busy, so a late-read latency refuses nobody', () => {
    // The node's latency says 0.1/ms (inflated while it was busy reading a burst); busy, the pool
    // delivered 0.4/ms.
    const load = { queued: 0, capacity: 8, serviceMs: 80, saturatedRate: 0.4 };
    expect(poolRate(load)).toBe(0.4);
    expect(effectiveServiceMs(load)).toBe(20);
    expect(poolRate({ ...load, saturatedRate: 0.01 })).toBe(0.1);
    expect(poolRate({ ...load, saturatedRate: undefined })).toBe(0.1);
    expect(poolRate({ queued: 0, capacity: 8, serviceMs: undefined, saturatedRate: 0.2 })).toBe(0.2);
    expect(poolRate({ queued: 0, capacity: 0, serviceMs: 10, saturatedRate: 0.2 })).toBeUndefined();
  });

  it('refuses at once a call that would finish after its deadline, and admits one that fits', () => {
    const c = clock();
    const load = { queued: 400, capacity: 8, serviceMs: 20 };
    // (400 + 1 + 8) / 0.4 = 1022.5 ms.
    expect(admitByDeadline(load, c.now() + 2000, c.now())).toEqual({ admit: true });
    expect(admitByDeadline(load, c.now() + 1000, c.now())).toEqual({
      admit: false,
      expectedMs: 1023,
      remainingMs: 1000,
    });
    c.advance(1500);
    expect(admitByDeadline(load, c.now() + 1023, c.now()).admit).toBe(true);
  });

  it('never refuses on a guess: without a measurement only a full queue refuses', () => {
    fc.assert(
      fc.property(
        fc.nat(5000),
        fc.nat(64),
        fc.integer({ min: -1000, max: 60_000 }),
        (queued, capacity, left) => {
          const c = clock();
          const verdict = admitToQueue(
            'p',
            { queued, capacity, serviceMs: undefined, limit: 1000 },
            c.now() + left,
            c.now(),
          );
          expect(verdict.admit).toBe(queued < 1000);
        },
      ),
      { seed: 8 },
    );
  });

  it('refuses more as the queue grows, never less (monotone in the calls ahead)', () => {
    fc.assert(
      fc.property(
        fc.nat(3000),
        fc.nat(3000),
        fc.integer({ min: 1, max: 64 }),
        fc.double({ min: 0.5, max: 500, noNaN: true }),
        fc.integer({ min: 0, max: 30_000 }),
        (a, b, capacity, serviceMs, left) => {
          const [lo, hi] = a <= b ? [a, b] : [b, a];
          const c = clock();
          const at = (queued: number) =>
            admitToQueue('p', { queued, capacity, serviceMs, limit: 10_000 }, c.now() + left, c.now()).admit;
          if (!at(lo)) expect(at(hi)).toBe(false);
        },
      ),
      { seed: 9 },
    );
  });

  it('names the reason without echoing anything the caller sent', () => {
    const c = clock();
    const full = admitToQueue(
      'general',
      { queued: 10, capacity: 8, serviceMs: 20, limit: 10 },
      c.now() + 9e9,
      c.now(),
    );
    expect(full).toMatchObject({
      admit: false,
      reason: 'queue_full',
      details: { pool: 'general', limit: 10 },
    });
    const late = admitToQueue(
      'general',
      { queued: 9, capacity: 8, serviceMs: 20, limit: 10 },
      c.now() + 5,
      c.now(),
    );
    expect(late).toMatchObject({
      admit: false,
      reason: 'deadline',
      details: { pool: 'general', reason: 'deadline' },
    });
  });

  it('drops a queued call whose deadline is too close for half a typical call', () => {
    const c = clock();
    expect(worthSending(c.now() + 100, c.now(), 20)).toBe(true);
    expect(worthSending(c.now() + 9, c.now(), 20)).toBe(false);
    expect(worthSending(c.now() + 1, c.now(), undefined)).toBe(true);
    expect(worthSending(c.now(), c.now(), undefined)).toBe(false);
  });
});

describe('ThroughputMeter', () => {
  it('measures completions per ms while the pool is busy, on the injected clock', () => {
    const c = clock();
    const meter = new ThroughputMeter(32, 2000);
    for (let i = 0; i < 16; i++) {
      meter.record(c.now(), 8, true);
      c.advance(5);
    }
    expect(meter.rate(c.now(), 8)).toBeUndefined(); // fewer than 16 gaps
    for (let i = 0; i < 40; i++) {
      meter.record(c.now(), 8, true);
      c.advance(5);
    }
    // One completion every 5 ms: 0.2 per ms, over the last 32 gaps.
    expect(meter.rate(c.now(), 8)).toBeCloseTo(0.2);
    // Half the workers gone: half the rate.
    expect(meter.rate(c.now(), 4)).toBeCloseTo(0.1);
  });

  it('leaves idle time out: the rate of the last burst is kept for the next', () => {
    const c = clock();
    const meter = new ThroughputMeter(64, 30_000);
    const busy = (n: number, every: number) => {
      for (let i = 0; i < n; i++) {
        meter.record(c.now(), 8, true);
        c.advance(every);
      }
    };
    busy(30, 2);
    // Idle: slow completions with nobody waiting, then a pause.
    for (let i = 0; i < 5; i++) {
      meter.record(c.now(), 8, false);
      c.advance(400);
    }
    c.advance(3000);
    busy(30, 2);
    expect(meter.rate(c.now(), 8)).toBeCloseTo(0.5);
    c.advance(31_000);
    expect(meter.rate(c.now(), 8)).toBeUndefined(); // stale
  });
});
