import { describe, expect, it } from 'vitest';
import { createActor, createMachine, fromCallback, type AnyActorLogic, type AnyActorRef } from 'xstate';
import { poolMachine, type PoolInput } from '../../../src/actors/pool-machine.js';
import {
  workerMachine,
  type WorkerInput,
  type WorkerProcessCommand,
} from '../../../src/actors/worker-machine.js';
import type { WorkerHeartbeat } from '../../../src/protocol/schemas.js';

const hb = (id: string, extra: Partial<WorkerHeartbeat> = {}): WorkerHeartbeat => ({
  id,
  pool: 'general',
  host: 'h',
  pid: 7,
  state: 'ready',
  inflight: 0,
  concurrency: 4,
  calls: 0,
  rss_bytes: 1000,
  started_at: 0,
  ts: 0,
  heartbeat_ms: 1000,
  version: '0.1.0',
  lm: 'dummy',
  ...extra,
});

/** The worker machine with a process actor that only records what it is told. */
function recordingWorkers() {
  const spawned: string[] = [];
  const terminated: string[] = [];
  const logic = workerMachine.provide({
    actors: {
      process: fromCallback<WorkerProcessCommand, WorkerInput>(({ input, receive }) => {
        if (input.managed) spawned.push(input.id);
        receive(() => terminated.push(input.id));
        return undefined;
      }),
    },
  });
  return { logic, spawned, terminated };
}

function startPool(workerLogic: AnyActorLogic, over: Partial<PoolInput> = {}) {
  const actor = createActor(poolMachine, {
    input: {
      name: 'general',
      nodeId: 'n-abc',
      size: 2,
      intensity: { maxRestarts: 3, periodMs: 10_000 },
      workerLogic,
      timings: {},
      ...over,
    },
  });
  actor.start();
  const workers = () => {
    const sup = actor.getSnapshot().children.workers as AnyActorRef | undefined;
    type Child = { getSnapshot(): { value: unknown } };
    return (sup?.getSnapshot() as { children: Record<string, Child> } | undefined)?.children ?? {};
  };
  return { actor, workers };
}

describe('pool machine', () => {
  it('starts its local workers under the workers supervisor with ids from the node', () => {
    const w = recordingWorkers();
    const { workers } = startPool(w.logic);
    expect(Object.keys(workers()).sort()).toEqual(['general-abc-0', 'general-abc-1']);
    expect(w.spawned.sort()).toEqual(['general-abc-0', 'general-abc-1']);
  });

  it('forwards heartbeats to the worker they name', () => {
    const { actor, workers } = startPool(recordingWorkers().logic);
    actor.send({ type: 'heartbeat', heartbeat: hb('general-abc-0', { node: 'n-abc' }) });
    expect(workers()['general-abc-0']!.getSnapshot().value).toEqual({ alive: 'ready' });
    expect(workers()['general-abc-1']!.getSnapshot().value).toEqual({ alive: 'starting' });
  });

  it('adopts a worker announced by another host, and not a stray one of its own', () => {
    const w = recordingWorkers();
    const { actor, workers } = startPool(w.logic);
    actor.send({ type: 'heartbeat', heartbeat: hb('by-hand') });
    actor.send({ type: 'heartbeat', heartbeat: hb('general-abc-9', { node: 'n-abc' }) });
    actor.send({ type: 'heartbeat', heartbeat: hb('leaving', { state: 'stopped' }) });
    expect(Object.keys(workers()).sort()).toEqual(['by-hand', 'general-abc-0', 'general-abc-1']);
    expect(workers()['by-hand']!.getSnapshot().value).toEqual({ alive: 'ready' });
    expect(w.spawned).not.toContain('by-hand');
  });

  it('recycles a worker by starting a replacement first and draining the old one', () => {
    const w = recordingWorkers();
    const { actor, workers } = startPool(w.logic);
    actor.send({ type: 'heartbeat', heartbeat: hb('general-abc-0', { node: 'n-abc' }) });
    actor.send({ type: 'recycle', id: 'general-abc-0', reason: 'call budget' });
    actor.send({ type: 'recycle', id: 'general-abc-0', reason: 'again' });
    expect(w.spawned).toContain('general-abc-2');
    expect(w.spawned).not.toContain('general-abc-3');
    expect(w.terminated).toEqual(['general-abc-0']);
    expect(workers()['general-abc-0']!.getSnapshot().value).toEqual({ alive: 'draining' });
  });

  it('recycles a local worker whose heartbeat reports too much memory', () => {
    const w = recordingWorkers();
    const { actor } = startPool(w.logic, { maxRssBytes: 5000 });
    actor.send({ type: 'heartbeat', heartbeat: hb('general-abc-1', { node: 'n-abc', rss_bytes: 4000 }) });
    expect(w.terminated).toEqual([]);
    actor.send({ type: 'heartbeat', heartbeat: hb('general-abc-1', { node: 'n-abc', rss_bytes: 6000 }) });
    expect(w.terminated).toEqual(['general-abc-1']);
    expect(w.spawned).toContain('general-abc-2');
  });

  it('ends crashed when its workers crash faster than the restart intensity allows', () => {
    let starts = 0;
    const crashing = createMachine({
      initial: 'gone',
      entry: () => starts++,
      states: { gone: { type: 'final' } },
      output: { status: 'crashed', reason: 'boom' },
    });
    const { actor } = startPool(crashing, { size: 1, intensity: { maxRestarts: 3, periodMs: 60_000 } });
    expect(starts).toBe(4);
    expect(actor.getSnapshot().status).toBe('done');
    expect(actor.getSnapshot().output).toEqual({
      status: 'crashed',
      reason: 'workers supervisor exceeded its restart intensity',
    });
  });

  it('drains its local workers, and not the remote ones, on drain', () => {
    const w = recordingWorkers();
    const { actor, workers } = startPool(w.logic);
    actor.send({ type: 'heartbeat', heartbeat: hb('by-hand') });
    actor.send({ type: 'drain' });
    expect(w.terminated.sort()).toEqual(['general-abc-0', 'general-abc-1']);
    expect(workers()['by-hand']!.getSnapshot().value).toEqual({ alive: 'ready' });
  });

  it('grows and shrinks its local workers on resize, draining the newest first', () => {
    const w = recordingWorkers();
    const { actor, workers } = startPool(w.logic);
    actor.send({ type: 'resize', size: 4 });
    expect(w.spawned.sort()).toEqual(['general-abc-0', 'general-abc-1', 'general-abc-2', 'general-abc-3']);
    actor.send({ type: 'resize', size: 1 });
    expect(w.terminated.sort()).toEqual(['general-abc-1', 'general-abc-2', 'general-abc-3']);
    expect(workers()['general-abc-0']!.getSnapshot().value).toEqual({ alive: 'starting' });
    expect(actor.getSnapshot().context.size).toBe(1);
  });

  it('stops its workers and ends stopped on stop', () => {
    const { actor } = startPool(recordingWorkers().logic);
    actor.send({ type: 'stop' });
    expect(actor.getSnapshot().status).toBe('done');
    expect(actor.getSnapshot().output).toEqual({ status: 'stopped' });
  });
});
