import { describe, expect, it } from 'vitest';
import {
  route,
  type RoutableWorker,
  type RouteOptions,
  type RoutingStrategy,
} from '../../../src/pools/routing.js';

const w = (id: string, over: Partial<RoutableWorker> = {}): RoutableWorker => ({
  id,
  state: 'ready',
  inflight: 0,
  concurrency: 4,
  calls: 0,
  ...over,
});
const opts = (
  over: Partial<RouteOptions> = {},
  strategy: RoutingStrategy = 'least_loaded',
): RouteOptions => ({
  strategy,
  affinity: undefined,
  excluded: new Set(),
  ahead: 0,
  cursor: { value: 0 },
  now: 100_000,
  ...over,
});

describe('routing', () => {
  describe.each(['least_loaded', 'round_robin', 'adaptive'] as const)('common rules (%s)', (strategy) => {
    it('keeps a session on its worker, and waits for it when it is full', () => {
      expect(route([w('a'), w('b', { inflight: 4 })], opts({ affinity: 'b' }, strategy))).toEqual({
        kind: 'wait',
        for: 'b',
      });
      expect(
        route([w('a', { inflight: 3 }), w('b', { inflight: 1 })], opts({ affinity: 'a' }, strategy)),
      ).toEqual({
        kind: 'worker',
        id: 'a',
      });
    });

    it('moves a session whose worker is gone to another live worker', () => {
      expect(route([w('a', { state: 'crashed' }), w('b')], opts({ affinity: 'a' }, strategy))).toEqual({
        kind: 'worker',
        id: 'b',
      });
    });

    it('never routes to draining, starting or excluded workers', () => {
      const workers = [w('a', { state: 'draining' }), w('b', { state: 'starting' }), w('c')];
      expect(route(workers, opts({ excluded: new Set(['c']) }, strategy))).toEqual({
        kind: 'wait',
        for: undefined,
      });
    });

    it('says none when no worker is alive or starting', () => {
      expect(
        route([w('a', { state: 'crashed' }), w('b', { state: 'draining' })], opts({}, strategy)),
      ).toEqual({ kind: 'none' });
      expect(route([], opts({}, strategy))).toEqual({ kind: 'none' });
    });

    it('waits when every live worker is at its limit', () => {
      expect(route([w('a', { inflight: 4 }), w('b', { inflight: 4 })], opts({}, strategy)).kind).toBe('wait');
    });
  });

  it.each(['least_loaded', 'adaptive'] as const)(
    'never routes to a worker whose breaker is open (%s)',
    (strategy) => {
      expect(route([w('a', { allowed: false }), w('b', { inflight: 4 })], opts({}, strategy))).toEqual({
        kind: 'wait',
        for: undefined,
      });
      expect(route([w('a', { allowed: false }), w('b')], opts({}, strategy))).toEqual({
        kind: 'worker',
        id: 'b',
      });
    },
  );

  it.each(['least_loaded', 'adaptive'] as const)(
    'never routes to a worker whose breaker is open (%s)',
    (strategy) => {
      expect(route([w('a', { allowed: false }), w('b', { inflight: 4 })], opts({}, strategy))).toEqual({
        kind: 'wait',
        for: undefined,
      });
      expect(route([w('a', { allowed: false }), w('b')], opts({}, strategy))).toEqual({
        kind: 'worker',
        id: 'b',
      });
    },
  );

  describe('least loaded', () => {
    it('picks the least loaded live worker relative to its concurrency, ties to fewer calls', () => {
      expect(
        route([w('a', { inflight: 2 }), w('b', { inflight: 1 }), w('c', { inflight: 3 })], opts()),
      ).toEqual({ kind: 'worker', id: 'b' });
      expect(route([w('a', { calls: 9 }), w('b', { calls: 2 })], opts())).toEqual({
        kind: 'worker',
        id: 'b',
      });
      expect(
        route([w('a', { inflight: 2, concurrency: 2 }), w('b', { inflight: 3, concurrency: 8 })], opts()),
      ).toEqual({
        kind: 'worker',
        id: 'b',
      });
    });
  });

  describe('round robin', () => {
    it('keeps a call on its turn’s worker even when that worker’s breaker is open', () => {
      expect(
        route([w('a', { allowed: false, inflight: 4 }), w('b')], opts({ affinity: 'a' }, 'round_robin')),
      ).toEqual({
        kind: 'wait',
        for: 'a',
      });
    });

    it('takes live workers in turn, blind to load: a full one is waited for', () => {
      const cursor = { value: 0 };
      const workers = [w('a'), w('b', { inflight: 4 }), w('c'), w('d', { state: 'draining' })];
      const picks = Array.from({ length: 4 }, () => route(workers, opts({ cursor }, 'round_robin')));
      expect(picks).toEqual([
        { kind: 'worker', id: 'a' },
        { kind: 'wait', for: 'b' },
        { kind: 'worker', id: 'c' },
        { kind: 'worker', id: 'a' },
      ]);
    });
  });

  describe('adaptive', () => {
    it('prefers the worker with the lowest expected latency', () => {
      const workers = [
        w('slow', { latencyMs: 200, lastAt: 99_999 }),
        w('fast', { latencyMs: 10, inflight: 2 }),
      ];
      expect(route(workers, opts({}, 'adaptive'))).toEqual({ kind: 'worker', id: 'fast' });
    });

    it('waits for a fast worker rather than use a much slower one that is free', () => {
      const workers = [
        w('slow', { latencyMs: 400, lastAt: 99_999 }),
        w('fast', { latencyMs: 10, inflight: 4 }),
      ];
      expect(route(workers, opts({}, 'adaptive'))).toEqual({ kind: 'wait', for: undefined });
    });

    it('uses the slow worker when the queue for fast ones is long enough', () => {
      const workers = [
        w('slow', { latencyMs: 40, lastAt: 99_999 }),
        w('fast', { latencyMs: 10, inflight: 4 }),
      ];
      expect(route(workers, opts({ ahead: 40 }, 'adaptive'))).toEqual({ kind: 'worker', id: 'slow' });
    });

    it('steers away from a worker that fails often', () => {
      const workers = [w('flaky', { latencyMs: 10, errorRate: 0.6 }), w('steady', { latencyMs: 14 })];
      expect(route(workers, opts({}, 'adaptive'))).toEqual({ kind: 'worker', id: 'steady' });
    });

    it('gives an unmeasured worker traffic, and re-measures a slow one left idle', () => {
      expect(route([w('old', { latencyMs: 10, inflight: 1 }), w('new')], opts({}, 'adaptive'))).toEqual({
        kind: 'worker',
        id: 'new',
      });
      const idleSlow = [w('fast', { latencyMs: 10 }), w('slow', { latencyMs: 300, lastAt: 90_000 })];
      expect(route(idleSlow, opts({}, 'adaptive'))).toEqual({ kind: 'worker', id: 'slow' });
    });
  });
});
