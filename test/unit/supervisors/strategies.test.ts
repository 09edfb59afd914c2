import { describe, expect, it } from 'vitest';
import { selectChildRef, selectChildren } from '../../../src/supervisors/supervisor-machine.js';
import type { RestartStrategy } from '../../../src/supervisors/types.js';
import { createFakeClock, createWorker, sendToChild, spec, startSupervisor } from './fixtures.js';

function startFour(strategy: RestartStrategy) {
  const log: string[] = [];
  const worker = createWorker(log);
  const started = startSupervisor({
    id: 'sup',
    strategy,
    clock: createFakeClock(),
    children: ['a', 'b', 'c', 'd'].map((id) => spec(id, worker)),
  });
  return { ...started, log };
}

describe('supervisor strategies', () => {
  it('starts its children in spec order', () => {
    const { actor, log, emitted } = startFour('one_for_one');

    expect(log).toEqual(['start:a', 'start:b', 'start:c', 'start:d']);
    expect(emitted.filter((e) => e.type === 'child.started').map((e) => e.id)).toEqual(['a', 'b', 'c', 'd']);
    expect(selectChildren(actor.getSnapshot())).toEqual(
      ['a', 'b', 'c', 'd'].map((id) => ({ id, restart: 'permanent', restarts: 0, status: 'running' })),
    );
  });

  it('one_for_one restarts only the crashed child', () => {
    const { actor, log } = startFour('one_for_one');
    const before = { ...actor.getSnapshot().children };
    log.length = 0;

    sendToChild(actor, 'b', { type: 'crash', reason: 'oom' });

    expect(log).toEqual(['stop:b', 'start:b']);
    const after = actor.getSnapshot().children;
    expect(after.a).toBe(before.a);
    expect(after.c).toBe(before.c);
    expect(after.b).not.toBe(before.b);
    expect(selectChildRef(actor.getSnapshot(), 'b')?.getSnapshot().status).toBe('active');
    expect(selectChildren(actor.getSnapshot()).map((c) => [c.id, c.restarts])).toEqual([
      ['a', 0],
      ['b', 1],
      ['c', 0],
      ['d', 0],
    ]);
  });

  it('one_for_all stops the others in reverse start order and restarts all in start order', () => {
    const { actor, log, emitted } = startFour('one_for_all');
    const before = { ...actor.getSnapshot().children };
    log.length = 0;
    emitted.length = 0;

    sendToChild(actor, 'c', { type: 'crash', reason: 'oom' });

    expect(log).toEqual(['stop:c', 'stop:d', 'stop:b', 'stop:a', 'start:a', 'start:b', 'start:c', 'start:d']);
    for (const id of ['a', 'b', 'c', 'd']) expect(actor.getSnapshot().children[id]).not.toBe(before[id]);
    expect(emitted.filter((e) => e.type === 'child.stopped')).toEqual([
      { type: 'child.stopped', id: 'd', reason: 'restart' },
      { type: 'child.stopped', id: 'b', reason: 'restart' },
      { type: 'child.stopped', id: 'a', reason: 'restart' },
    ]);
    expect(selectChildren(actor.getSnapshot()).every((c) => c.restarts === 1 && c.status === 'running')).toBe(
      true,
    );
  });

  it('rest_for_one restarts the crashed child and those started after it, in order', () => {
    const { actor, log } = startFour('rest_for_one');
    const before = { ...actor.getSnapshot().children };
    log.length = 0;

    sendToChild(actor, 'b', { type: 'crash', reason: 'oom' });

    expect(log).toEqual(['stop:b', 'stop:d', 'stop:c', 'start:b', 'start:c', 'start:d']);
    expect(actor.getSnapshot().children.a).toBe(before.a);
    expect(selectChildren(actor.getSnapshot()).map((c) => c.restarts)).toEqual([0, 1, 1, 1]);
  });

  it('gives a restarted child a fresh instance with the same id, input and place in the order', () => {
    const { actor, log } = startFour('rest_for_one');
    sendToChild(actor, 'a', { type: 'crash', reason: 'oom' });
    log.length = 0;

    // The restarted instances received the same input ({name}), and a later failure of `b` still
    // treats `c` and `d` as started after it.
    sendToChild(actor, 'b', { type: 'crash', reason: 'oom' });

    expect(log).toEqual(['stop:b', 'stop:d', 'stop:c', 'start:b', 'start:c', 'start:d']);
    expect(selectChildren(actor.getSnapshot()).map((c) => c.id)).toEqual(['a', 'b', 'c', 'd']);
    expect(selectChildRef(actor.getSnapshot(), 'b')?.id).toBe('b');
  });

  it('restarts a child whose action throws, reporting the error message as the reason', () => {
    const { actor, log, emitted } = startFour('one_for_one');
    log.length = 0;

    sendToChild(actor, 'c', { type: 'throw' });

    // XState v5 does not stop the invoked actors of a machine that errors, hence no `stop:c`: child
    // machines should end in a crashed final state rather than throw.
    expect(log).toEqual(['start:c']);
    const exited = emitted.find((e) => e.type === 'child.exited');
    expect(exited).toMatchObject({ id: 'c', exit: { status: 'crashed', reason: 'boom' } });
    expect(emitted.at(-1)).toEqual({ type: 'child.restarted', id: 'c', restarts: 1 });
  });
});
