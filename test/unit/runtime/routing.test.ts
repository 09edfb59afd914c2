import { describe, expect, it } from 'vitest';
import { route, type RoutableWorker } from '../../../src/runtime/routing.js';

const w = (id: string, over: Partial<RoutableWorker> = {}): RoutableWorker => ({
  id,
  state: 'ready',
  inflight: 0,
  concurrency: 4,
  calls: 0,
  ...over,
});
const none = new Set<string>();

describe('routing', () => {
  it('picks the least loaded live worker', () => {
    expect(
      route([w('a', { inflight: 2 }), w('b', { inflight: 1 }), w('c', { inflight: 3 })], undefined, none),
    ).toEqual({
      kind: 'worker',
      id: 'b',
    });
  });

  it('breaks load ties towards the worker with fewer calls', () => {
    expect(route([w('a', { calls: 9 }), w('b', { calls: 2 })], undefined, none)).toEqual({
      kind: 'worker',
      id: 'b',
    });
  });

  it('compares load relative to each worker’s concurrency', () => {
    const decision = route(
      [w('a', { inflight: 2, concurrency: 2 }), w('b', { inflight: 3, concurrency: 8 })],
      undefined,
      none,
    );
    expect(decision).toEqual({ kind: 'worker', id: 'b' });
  });

  it('keeps a session on its worker, and waits for it when it is full', () => {
    const workers = [w('a'), w('b', { inflight: 4 })];
    expect(route(workers, 'b', none)).toEqual({ kind: 'wait', for: 'b' });
    expect(route([w('a', { inflight: 3 }), w('b', { inflight: 1 })], 'a', none)).toEqual({
      kind: 'worker',
      id: 'a',
    });
  });

  it('moves a session whose worker is gone to another live worker', () => {
    expect(route([w('a', { state: 'crashed' }), w('b')], 'a', none)).toEqual({ kind: 'worker', id: 'b' });
  });

  it('never routes to draining, starting or excluded workers', () => {
    const workers = [w('a', { state: 'draining' }), w('b', { state: 'starting' }), w('c')];
    expect(route(workers, undefined, new Set(['c']))).toEqual({ kind: 'wait', for: undefined });
  });

  it('says none when no worker is alive or starting', () => {
    expect(route([w('a', { state: 'crashed' }), w('b', { state: 'draining' })], undefined, none)).toEqual({
      kind: 'none',
    });
    expect(route([], undefined, none)).toEqual({ kind: 'none' });
  });

  it('waits when every live worker is at its limit', () => {
    expect(route([w('a', { inflight: 4 }), w('b', { inflight: 4 })], undefined, none)).toEqual({
      kind: 'wait',
      for: undefined,
    });
  });
});
