import { createActor, SimulatedClock } from 'xstate';
import { describe, expect, it } from 'vitest';
import { isValidationError } from '../../../src/errors.js';
import { resolveSupervisorOptions } from '../../../src/supervisors/options.js';
import {
  selectChildRef,
  selectChildren,
  supervisorMachine,
} from '../../../src/supervisors/supervisor-machine.js';
import type { ChildSpec } from '../../../src/supervisors/types.js';
import { createFakeClock, createWorker, sendToChild, spec, startSupervisor } from './fixtures.js';

function startEmpty() {
  const log: string[] = [];
  const started = startSupervisor({ id: 'pool', clock: createFakeClock() });
  return { ...started, log, worker: createWorker(log) };
}

describe('dynamic children', () => {
  it('starts a child added at run time, after the existing ones, and exposes its ref', () => {
    const { actor, log, worker, emitted } = startEmpty();

    actor.send({ type: 'supervisor.start_child', spec: spec('w1', worker) });
    actor.send({ type: 'supervisor.start_child', spec: spec('w2', worker) });

    expect(log).toEqual(['start:w1', 'start:w2']);
    expect(selectChildren(actor.getSnapshot()).map((c) => c.id)).toEqual(['w1', 'w2']);
    expect(selectChildRef(actor.getSnapshot(), 'w2')).toBe(actor.getSnapshot().children.w2);
    expect(emitted).toEqual([
      { type: 'child.started', id: 'w1' },
      { type: 'child.started', id: 'w2' },
    ]);
  });

  it('refuses a duplicate id with an emitted error and keeps the running child', () => {
    const { actor, log, worker, emitted, errors } = startEmpty();
    actor.send({ type: 'supervisor.start_child', spec: spec('w1', worker) });
    const first = actor.getSnapshot().children.w1;

    actor.send({ type: 'supervisor.start_child', spec: spec('w1', worker) });

    expect(log).toEqual(['start:w1']);
    expect(actor.getSnapshot().children.w1).toBe(first);
    expect(emitted.at(-1)).toMatchObject({ type: 'supervisor.error', code: 'duplicate_child_id', id: 'w1' });
    expect(errors).toEqual([]);
  });

  it('refuses an invalid spec with an emitted error naming the field', () => {
    const { actor, emitted } = startEmpty();

    const notLogic = { id: 'w1', logic: {}, restart: 'permanent' } as unknown as ChildSpec;
    actor.send({ type: 'supervisor.start_child', spec: notLogic });

    expect(emitted).toHaveLength(1);
    expect(emitted[0]).toMatchObject({ type: 'supervisor.error', code: 'invalid_child_spec', id: 'w1' });
    expect(emitted[0]?.type === 'supervisor.error' && emitted[0].message).toMatch(/^spec\.logic:/);
    expect(actor.getSnapshot().value).toBe('running');
  });

  it('terminates a child without restarting it and forgets it', () => {
    const { actor, log, worker, emitted } = startEmpty();
    actor.send({ type: 'supervisor.start_child', spec: spec('w1', worker) });
    actor.send({ type: 'supervisor.start_child', spec: spec('w2', worker) });

    actor.send({ type: 'supervisor.terminate_child', id: 'w1' });

    expect(log).toEqual(['start:w1', 'start:w2', 'stop:w1']);
    expect(selectChildren(actor.getSnapshot()).map((c) => c.id)).toEqual(['w2']);
    expect(actor.getSnapshot().children.w1).toBeUndefined();
    expect(emitted.at(-1)).toEqual({ type: 'child.stopped', id: 'w1', reason: 'terminated' });

    // The id is free again.
    actor.send({ type: 'supervisor.start_child', spec: spec('w1', worker) });
    expect(selectChildren(actor.getSnapshot()).map((c) => c.id)).toEqual(['w2', 'w1']);
  });

  it('reports terminating an unknown child as an emitted error', () => {
    const { actor, emitted } = startEmpty();

    actor.send({ type: 'supervisor.terminate_child', id: 'ghost' });

    expect(emitted).toEqual([
      { type: 'supervisor.error', code: 'unknown_child', id: 'ghost', message: 'no child with id "ghost"' },
    ]);
  });
});

describe('supervisor shutdown', () => {
  it('stops its children in reverse start order and ends stopped', () => {
    const log: string[] = [];
    const w = createWorker(log);
    const { actor, emitted } = startSupervisor({
      id: 'sup',
      clock: createFakeClock(),
      children: [spec('a', w), spec('b', w), spec('c', w)],
    });
    actor.send({ type: 'supervisor.start_child', spec: spec('d', w) });
    sendToChild(actor, 'b', { type: 'crash', reason: 'oom' });
    log.length = 0;
    emitted.length = 0;

    actor.send({ type: 'supervisor.stop' });

    expect(log).toEqual(['stop:d', 'stop:c', 'stop:b', 'stop:a']);
    expect(actor.getSnapshot().status).toBe('done');
    expect(actor.getSnapshot().value).toBe('stopped');
    expect(actor.getSnapshot().output).toEqual({ status: 'stopped' });
    expect(emitted.map((e) => e.type)).toEqual([
      'child.stopped',
      'child.stopped',
      'child.stopped',
      'child.stopped',
    ]);
  });
});

describe('supervisor options', () => {
  it('applies the documented defaults', () => {
    const resolved = resolveSupervisorOptions({ id: 'sup' });

    expect(resolved).toMatchObject({
      strategy: 'one_for_one',
      intensity: { maxRestarts: 3, periodMs: 5000 },
      children: [],
      restartDelayMs: 0,
    });
    expect(typeof resolved.clock.now()).toBe('number');
  });

  it('rejects duplicate child ids with a validation error naming the field', () => {
    const w = createWorker([]);
    const options = { id: 'sup', children: [spec('a', w), spec('a', w)] };

    expect(() => resolveSupervisorOptions(options)).toThrowError(/children\.1\.id: duplicate child id "a"/);

    const actor = createActor(supervisorMachine, { input: options });
    const errors: unknown[] = [];
    actor.subscribe({ error: (error) => errors.push(error) });
    actor.start();
    expect(actor.getSnapshot().status).toBe('error');
    expect(errors).toHaveLength(1);
    expect(isValidationError(errors[0])).toBe(true);
  });

  it('rejects an unknown strategy and a negative intensity', () => {
    expect(() =>
      resolveSupervisorOptions({ id: 'sup', strategy: 'one_for_some' as 'one_for_one' }),
    ).toThrowError(/^supervisor\.strategy:/);
    expect(() => resolveSupervisorOptions({ id: 'sup', intensity: { maxRestarts: -1 } })).toThrowError(
      /^supervisor\.intensity\.maxRestarts:/,
    );
  });
});

describe('restart delay', () => {
  it('waits restartDelayMs on the actor system clock before starting the fresh instance', () => {
    const log: string[] = [];
    const w = createWorker(log);
    const clock = new SimulatedClock();
    const actor = createActor(supervisorMachine, {
      clock,
      input: {
        id: 'sup',
        restartDelayMs: 500,
        clock: createFakeClock(),
        children: [spec('a', w), spec('b', w)],
      },
    }).start();
    log.length = 0;

    sendToChild(actor, 'a', { type: 'crash', reason: 'oom' });

    expect(log).toEqual(['stop:a']);
    expect(selectChildren(actor.getSnapshot())[0]).toMatchObject({
      id: 'a',
      status: 'restarting',
      restarts: 0,
    });
    expect(selectChildRef(actor.getSnapshot(), 'a')).toBeUndefined();

    clock.increment(499);
    expect(log).toEqual(['stop:a']);

    clock.increment(1);
    expect(log).toEqual(['stop:a', 'start:a']);
    expect(selectChildren(actor.getSnapshot())[0]).toMatchObject({ id: 'a', status: 'running', restarts: 1 });
  });

  it('does not start a child terminated while it waited to restart', () => {
    const log: string[] = [];
    const w = createWorker(log);
    const clock = new SimulatedClock();
    const actor = createActor(supervisorMachine, {
      clock,
      input: { id: 'sup', restartDelayMs: 500, clock: createFakeClock(), children: [spec('a', w)] },
    }).start();
    sendToChild(actor, 'a', { type: 'crash', reason: 'oom' });

    actor.send({ type: 'supervisor.terminate_child', id: 'a' });
    clock.increment(500);

    expect(log).toEqual(['start:a', 'stop:a']);
    expect(selectChildren(actor.getSnapshot())).toEqual([]);
  });
});
