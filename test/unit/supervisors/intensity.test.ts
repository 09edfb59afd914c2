import { describe, expect, it } from 'vitest';
import { recordRestart } from '../../../src/supervisors/restart-intensity.js';
import { supervisorMachine, selectChildren } from '../../../src/supervisors/supervisor-machine.js';
import type { SupervisorActorRef } from '../../../src/supervisors/supervisor-machine.js';
import {
  createFakeClock,
  createWorker,
  failsOnStart,
  sendToChild,
  spec,
  startSupervisor,
} from './fixtures.js';

const intensity = { maxRestarts: 2, periodMs: 1000 };

describe('restart intensity', () => {
  it('allows maxRestarts restarts within the window and refuses the next', () => {
    const first = recordRestart([], 0, intensity);
    const second = recordRestart(first.history, 10, intensity);
    const third = recordRestart(second.history, 20, intensity);

    expect([first.allowed, second.allowed, third.allowed]).toEqual([true, true, false]);
  });

  it('forgets restarts that have left the sliding window', () => {
    expect(recordRestart([0, 500], 1000, intensity)).toEqual({ allowed: true, history: [500, 1000] });
    expect(recordRestart([0, 500], 999, intensity).allowed).toBe(false);
  });

  it('escalates on the first restart when maxRestarts is 0', () => {
    expect(recordRestart([], 0, { maxRestarts: 0, periodMs: 1000 }).allowed).toBe(false);
  });
});

describe('supervisor escalation', () => {
  function startThree() {
    const log: string[] = [];
    const clock = createFakeClock();
    const w = createWorker(log);
    const started = startSupervisor({
      id: 'sup',
      clock,
      intensity,
      children: [spec('a', w), spec('b', w), spec('c', w)],
    });
    log.length = 0;
    return { ...started, log, clock };
  }

  it('keeps restarting while old restarts fall out of the window', () => {
    const { actor, clock } = startThree();

    for (let i = 0; i < 6; i++) {
      sendToChild(actor, 'b', { type: 'crash', reason: 'oom' });
      clock.advance(600);
    }

    expect(actor.getSnapshot().value).toBe('running');
    expect(selectChildren(actor.getSnapshot())[1]).toMatchObject({ id: 'b', restarts: 6, status: 'running' });
  });

  it('stops all children in reverse order and ends crashed when a restart would exceed the intensity', () => {
    const { actor, log, emitted, clock } = startThree();
    sendToChild(actor, 'b', { type: 'crash', reason: 'oom' });
    clock.advance(100);
    sendToChild(actor, 'a', { type: 'crash', reason: 'oom' });
    clock.advance(100);
    log.length = 0;

    sendToChild(actor, 'b', { type: 'crash', reason: 'segfault' });

    expect(log).toEqual(['stop:b', 'stop:c', 'stop:a']);
    const snapshot = actor.getSnapshot();
    expect(snapshot.status).toBe('done');
    expect(snapshot.value).toBe('crashed');
    expect(snapshot.output).toEqual({
      status: 'crashed',
      reason: 'restart intensity exceeded',
      supervisor: 'sup',
      lastFailure: { child: 'b', reason: 'segfault' },
    });
    expect(emitted).toContainEqual({
      type: 'supervisor.escalated',
      id: 'sup',
      lastFailure: { child: 'b', reason: 'segfault' },
    });
    expect(emitted.filter((e) => e.type === 'child.stopped').map((e) => [e.id, e.reason])).toEqual([
      ['c', 'escalation'],
      ['a', 'escalation'],
    ]);
  });

  it('escalates quickly when a child fails every time it starts', () => {
    const { actor } = startSupervisor({
      id: 'sup',
      clock: createFakeClock(),
      intensity,
      children: [{ id: 'broken', logic: failsOnStart, restart: 'permanent' }],
    });

    expect(actor.getSnapshot().output).toMatchObject({
      status: 'crashed',
      lastFailure: { child: 'broken', reason: 'cannot start' },
    });
  });
});

describe('nested supervisors', () => {
  it('lets a parent restart a child supervisor that escalated, and crash once its own intensity is exceeded', () => {
    const log: string[] = [];
    const clock = createFakeClock();
    const w = createWorker(log);
    const inner = {
      id: 'inner',
      clock,
      intensity: { maxRestarts: 1, periodMs: 1000 },
      children: [spec('x', w), spec('y', w)],
    };
    const { actor: outer, emitted } = startSupervisor({
      id: 'outer',
      clock,
      intensity: { maxRestarts: 1, periodMs: 1000 },
      children: [
        spec('sibling', w),
        { id: 'inner', logic: supervisorMachine, input: inner, restart: 'permanent' },
      ],
    });
    const innerRef = () => outer.getSnapshot().children.inner as SupervisorActorRef;
    const crashInnerTwice = () => {
      sendToChild(innerRef(), 'x', { type: 'crash', reason: 'oom' });
      sendToChild(innerRef(), 'x', { type: 'crash', reason: 'oom' });
    };
    const firstInner = innerRef();
    log.length = 0;

    crashInnerTwice();

    expect(log).toEqual(['stop:x', 'start:x', 'stop:x', 'stop:y', 'start:x', 'start:y']);
    expect(innerRef()).not.toBe(firstInner);
    expect(innerRef().getSnapshot().value).toBe('running');
    expect(emitted).toContainEqual({
      type: 'child.exited',
      id: 'inner',
      exit: {
        status: 'crashed',
        reason: 'restart intensity exceeded',
        supervisor: 'inner',
        lastFailure: { child: 'x', reason: 'oom' },
      },
    });
    expect(selectChildren(outer.getSnapshot()).map((c) => [c.id, c.restarts])).toEqual([
      ['sibling', 0],
      ['inner', 1],
    ]);

    log.length = 0;
    crashInnerTwice();

    expect(log).toEqual(['stop:x', 'start:x', 'stop:x', 'stop:y', 'stop:sibling']);
    expect(outer.getSnapshot().output).toEqual({
      status: 'crashed',
      reason: 'restart intensity exceeded',
      supervisor: 'outer',
      lastFailure: { child: 'inner', reason: 'restart intensity exceeded' },
    });
  });
});
