import { describe, expect, it } from 'vitest';
import { createActor, fromPromise, SimulatedClock, waitFor } from 'xstate';
import type { SessionRecord } from '../../../src/protocol/sessions.js';
import {
  sessionMachine,
  type SessionJob,
  type StoredSession,
} from '../../../src/sessions/session-machine.js';
import {
  callChange,
  closeChange,
  isExpired,
  openChange,
  updateChange,
  type SessionChange,
} from '../../../src/sessions/session-record.js';

const apply = (change: SessionChange, current: SessionRecord | undefined, now: number) =>
  change(current, now).record;

describe('session record changes', () => {
  const opened = apply(openChange({ id: 's', ttlMs: 1000, node: 'a', state: { k: 1 } }), undefined, 100)!;

  it('opens a session with an expiry, and refreshes an open one merging its state', () => {
    expect(opened).toMatchObject({
      id: 's',
      status: 'open',
      created_at: 100,
      expires_at: 1100,
      state: { k: 1 },
    });
    expect(opened.metrics).toEqual({
      calls: 0,
      errors: 0,
      latency_ms_total: 0,
      latency_ms_ewma: null,
      tokens_total: 0,
    });
    const again = apply(openChange({ id: 's', ttlMs: 2000, node: 'b', state: { j: 2 } }), opened, 500)!;
    expect(again).toMatchObject({ created_at: 100, expires_at: 2500, node: 'b', state: { k: 1, j: 2 } });
    // An expired session is replaced by a fresh one.
    expect(apply(openChange({ id: 's', ttlMs: 1000, node: 'a' }), opened, 5000)).toMatchObject({
      created_at: 5000,
      state: {},
    });
  });

  it('records calls: bounded history, metrics with an EWMA of successful latencies, affinity from the last success', () => {
    let record = opened;
    const calls = [
      { ok: true, latencyMs: 100, worker: 'w1', tokens: 10 },
      { ok: false, latencyMs: 5, code: 'validation_failed' },
      { ok: true, latencyMs: 200, worker: 'w2' },
    ];
    calls.forEach((c, i) => {
      record = apply(callChange({ module: 'Predict', pool: 'general', ...c }, 'a', 2), record, 200 + i)!;
    });
    expect(record.history.map((h) => [h.ok, h.latency_ms])).toEqual([
      [false, 5],
      [true, 200],
    ]);
    expect(record.metrics).toEqual({
      calls: 3,
      errors: 1,
      latency_ms_total: 305,
      latency_ms_ewma: 120,
      tokens_total: 10,
    });
    expect(record.affinity).toEqual({ pool: 'general', worker: 'w2', node: 'a', at: 202 });
    expect(record.expires_at).toBe(1202);
  });

  it('leaves unknown and expired sessions alone, updates and closes open ones', () => {
    expect(
      callChange({ module: 'Predict', pool: 'g', ok: true, latencyMs: 1 }, 'a', 5)(undefined, 0),
    ).toEqual({ kind: 'none', record: undefined });
    expect(isExpired(opened, 1100)).toBe(true);
    expect(updateChange({ state: { x: 1 } }, 'a')(opened, 2000).kind).toBe('none');
    expect(
      apply(updateChange({ state: { x: 1 }, optimization: { demos: [] } }, 'b'), opened, 300),
    ).toMatchObject({
      state: { k: 1, x: 1 },
      optimization: { demos: [] },
      node: 'b',
    });
    expect(closeChange(opened, 300)).toMatchObject({ kind: 'delete', record: { status: 'closed' } });
  });
});

describe('the session machine', () => {
  it('applies changes one at a time in order and stops when idle', async () => {
    const log: string[] = [];
    let active = 0;
    // Each apply waits until the test opens its gate: the order is observed, not timed.
    const gates: Array<() => void> = [];
    const logic = sessionMachine.provide({
      actors: {
        load: fromPromise<StoredSession, { id: string }>(() =>
          Promise.resolve({ record: undefined, revision: undefined }),
        ),
        apply: fromPromise(async ({ input }) => {
          active++;
          expect(active).toBe(1);
          const record = input.job.change(undefined, 0).record;
          log.push(String(record?.id));
          await new Promise<void>((resolve) => gates.push(resolve));
          active--;
          return { result: record, stored: undefined };
        }),
      },
    });
    const clock = new SimulatedClock();
    const actor = createActor(logic, { input: { id: 's', idleMs: 50, queueLimit: 3 }, clock });
    actor.start();
    const outcomes: unknown[] = [];
    const job = (id: string): SessionJob => ({
      change: () => ({ kind: 'none', record: { id } as SessionRecord }),
      settle: (o) => outcomes.push('error' in o ? 'refused' : (o.record as SessionRecord).id),
    });
    for (const id of ['a', 'b', 'c']) actor.send({ type: 'change', job: job(id) });
    // The limit counts the change being applied: a fourth one is refused.
    actor.send({ type: 'change', job: job('d') });
    expect(outcomes).toEqual(['refused']);
    for (let i = 0; i < 3; i++) {
      await waitFor(actor, (s) => s.matches('applying') && s.context.queue.length === 3 - i);
      expect(log).toEqual(['a', 'b', 'c'].slice(0, i + 1));
      expect(outcomes.at(-1)).toBe(i === 0 ? 'refused' : ['a', 'b', 'c'][i - 1]);
      gates[i]!();
    }
    await waitFor(actor, (s) => s.matches('idle') && s.context.queue.length === 0);
    expect(log).toEqual(['a', 'b', 'c']);
    expect(outcomes).toEqual(['refused', 'a', 'b', 'c']);
    // Idle for less than idleMs: still there; at idleMs it stops.
    clock.increment(49);
    expect(actor.getSnapshot().status).toBe('active');
    clock.increment(1);
    expect(actor.getSnapshot().status).toBe('done');
  });
});
