import { waitFor } from 'xstate';
import { describe, expect, it } from 'vitest';
import { selectChildRef, selectChildren } from '../../../src/supervisors/supervisor-machine.js';
import type { ChildSpec } from '../../../src/supervisors/types.js';
import {
  createFakeClock,
  createWorker,
  failsOnStart,
  rejectingPromise,
  sendToChild,
  spec,
  startSupervisor,
} from './fixtures.js';

function startWith(children: (worker: ReturnType<typeof createWorker>) => ChildSpec[]) {
  const log: string[] = [];
  const started = startSupervisor({
    id: 'sup',
    clock: createFakeClock(),
    children: children(createWorker(log)),
  });
  log.length = 0;
  return { ...started, log };
}

describe('supervisor restart types', () => {
  it('restarts a permanent child even after a normal exit', () => {
    const { actor, log, emitted } = startWith((w) => [spec('p', w, 'permanent')]);

    sendToChild(actor, 'p', { type: 'stop' });

    expect(log).toEqual(['stop:p', 'start:p']);
    expect(emitted).toContainEqual({ type: 'child.exited', id: 'p', exit: { status: 'stopped' } });
    expect(selectChildren(actor.getSnapshot())[0]).toMatchObject({ restarts: 1, status: 'running' });
  });

  it('restarts a transient child after a crash but keeps it exited after a normal exit', () => {
    const { actor, log } = startWith((w) => [spec('t', w, 'transient')]);

    sendToChild(actor, 't', { type: 'crash', reason: 'oom' });
    expect(log).toEqual(['stop:t', 'start:t']);

    sendToChild(actor, 't', { type: 'stop' });
    expect(log).toEqual(['stop:t', 'start:t', 'stop:t']);
    expect(selectChildren(actor.getSnapshot())).toEqual([
      { id: 't', restart: 'transient', restarts: 1, status: 'exited' },
    ]);
    expect(selectChildRef(actor.getSnapshot(), 't')).toBeUndefined();
    expect(actor.getSnapshot().children.t).toBeUndefined();
  });

  it('never restarts a temporary child and forgets it when it exits', () => {
    const { actor, log, emitted } = startWith((w) => [spec('a', w), spec('tmp', w, 'temporary')]);

    sendToChild(actor, 'tmp', { type: 'crash', reason: 'oom' });

    expect(log).toEqual(['stop:tmp']);
    expect(selectChildren(actor.getSnapshot()).map((c) => c.id)).toEqual(['a']);
    expect(emitted).toContainEqual({
      type: 'child.exited',
      id: 'tmp',
      exit: { status: 'crashed', reason: 'oom' },
    });
    expect(emitted.some((e) => e.type === 'child.restarted')).toBe(false);
  });

  it('forgets a temporary sibling that one_for_all stopped instead of restarting it', () => {
    const log: string[] = [];
    const w = createWorker(log);
    const { actor } = startSupervisor({
      id: 'sup',
      strategy: 'one_for_all',
      clock: createFakeClock(),
      children: [spec('a', w), spec('tmp', w, 'temporary'), spec('c', w)],
    });
    log.length = 0;

    sendToChild(actor, 'a', { type: 'crash', reason: 'oom' });

    expect(log).toEqual(['stop:a', 'stop:c', 'stop:tmp', 'start:a', 'start:c']);
    expect(selectChildren(actor.getSnapshot()).map((c) => c.id)).toEqual(['a', 'c']);
  });

  it('does not apply the strategy to siblings when the exited child is not restarted', () => {
    const log: string[] = [];
    const w = createWorker(log);
    const { actor } = startSupervisor({
      id: 'sup',
      strategy: 'one_for_all',
      clock: createFakeClock(),
      children: [spec('a', w), spec('t', w, 'transient')],
    });
    log.length = 0;

    sendToChild(actor, 't', { type: 'stop' });

    expect(log).toEqual(['stop:t']);
    expect(selectChildren(actor.getSnapshot())[0]).toMatchObject({ id: 'a', restarts: 0, status: 'running' });
  });

  it('treats a rejected promise child as a crash', async () => {
    const { actor, emitted } = startSupervisor({
      id: 'sup',
      clock: createFakeClock(),
      children: [{ id: 'job', logic: rejectingPromise, restart: 'transient' }],
      intensity: { maxRestarts: 2, periodMs: 1000 },
    });

    await waitFor(actor, (s) => s.status === 'done');

    const exits = emitted.filter((e) => e.type === 'child.exited');
    expect(exits).toHaveLength(3);
    expect(exits[0]).toMatchObject({ id: 'job', exit: { status: 'crashed', reason: 'rejected' } });
    expect(actor.getSnapshot().output).toMatchObject({ status: 'crashed', lastFailure: { child: 'job' } });
  });
});

describe('exits of replaced instances', () => {
  it('ignores the queued exit of a sibling that one_for_all already replaced', () => {
    // Both children fail while starting, so both exits are queued before the supervisor handles
    // either; the restart for `a` replaces `b`, whose old exit must not count as a second failure.
    const { actor, emitted } = startSupervisor({
      id: 'sup',
      strategy: 'one_for_all',
      clock: createFakeClock(),
      intensity: { maxRestarts: 2, periodMs: 1000 },
      children: [
        { id: 'a', logic: failsOnStart, restart: 'permanent' },
        { id: 'b', logic: failsOnStart, restart: 'permanent' },
      ],
    });

    expect(emitted.filter((e) => e.type === 'child.exited').map((e) => e.id)).toEqual(['a', 'a', 'a']);
    expect(actor.getSnapshot().output).toMatchObject({ lastFailure: { child: 'a', reason: 'cannot start' } });
  });
});
