import { describe, expect, it } from 'vitest';
import { createActor, fromCallback, SimulatedClock } from 'xstate';
import {
  workerMachine,
  type WorkerInput,
  type WorkerProcessCommand,
  type WorkerProcessEvent,
} from '../../../src/actors/worker-machine.js';
import type { WorkerHeartbeat } from '../../../src/protocol/schemas.js';

const hb = (state: WorkerHeartbeat['state'], extra: Partial<WorkerHeartbeat> = {}): WorkerHeartbeat => ({
  id: 'w1',
  pool: 'general',
  host: 'h',
  pid: 42,
  state,
  inflight: 0,
  concurrency: 4,
  calls: 0,
  rss_bytes: 0,
  started_at: 0,
  ts: 0,
  heartbeat_ms: 1000,
  version: '0.1.0',
  lm: 'dummy',
  ...extra,
});

/** A fake process actor that records commands and lets the test send process events. */
function fakeProcess() {
  const commands: string[] = [];
  let stoppedCount = 0;
  let emit: ((e: WorkerProcessEvent) => void) | undefined;
  const logic = fromCallback<WorkerProcessCommand, WorkerInput>(({ sendBack, receive }) => {
    emit = sendBack;
    receive((cmd) => commands.push(cmd.type));
    return () => {
      stoppedCount++;
    };
  });
  return {
    logic,
    commands,
    send: (e: WorkerProcessEvent) => emit?.(e),
    stopped: () => stoppedCount,
  };
}

function start(input: Partial<WorkerInput> = {}) {
  const proc = fakeProcess();
  const clock = new SimulatedClock();
  const emitted: string[] = [];
  const machine = workerMachine.provide({
    actors: { process: proc.logic },
    actions: { notify: (_, params) => emitted.push(params.state) },
  });
  const actor = createActor(machine, {
    input: { id: 'w1', pool: 'general', managed: true, heartbeatTimeoutMs: 3000, ...input },
    clock,
  });
  actor.start();
  return { actor, proc, clock, emitted };
}

describe('worker machine', () => {
  it('becomes ready on its first ready heartbeat and busy when it reports busy', () => {
    const { actor, proc } = start();
    proc.send({ type: 'process.spawned', pid: 42 });
    expect(actor.getSnapshot().value).toEqual({ alive: 'starting' });
    actor.send({ type: 'heartbeat', heartbeat: hb('ready') });
    expect(actor.getSnapshot().value).toEqual({ alive: 'ready' });
    actor.send({ type: 'heartbeat', heartbeat: hb('busy', { inflight: 4 }) });
    expect(actor.getSnapshot().value).toEqual({ alive: 'busy' });
    expect(actor.getSnapshot().context.pid).toBe(42);
  });

  it('crashes after missed heartbeats and stops its process', () => {
    const { actor, proc, clock, emitted } = start();
    actor.send({ type: 'heartbeat', heartbeat: hb('ready') });
    clock.increment(2000);
    actor.send({ type: 'heartbeat', heartbeat: hb('ready') });
    clock.increment(2000);
    expect(actor.getSnapshot().status).toBe('active');
    clock.increment(1001);
    const snap = actor.getSnapshot();
    expect(snap.status).toBe('done');
    expect(snap.output).toEqual({ status: 'crashed', reason: 'missed heartbeats for 3000 ms' });
    expect(proc.stopped()).toBe(1);
    // every heartbeat re-enters `ready` and refreshes the routing table
    expect(emitted).toEqual(['starting', 'ready', 'ready', 'crashed']);
  });

  it('crashes when its process is killed', () => {
    const { actor, proc } = start();
    actor.send({ type: 'heartbeat', heartbeat: hb('ready') });
    proc.send({ type: 'process.exited', code: null, signal: 'SIGKILL' });
    expect(actor.getSnapshot().output).toEqual({ status: 'crashed', reason: 'process killed by SIGKILL' });
  });

  it('crashes when it never announces itself', () => {
    const { actor, clock } = start({ startTimeoutMs: 500 });
    clock.increment(501);
    expect(actor.getSnapshot().output).toEqual({
      status: 'crashed',
      reason: 'did not announce itself within 500 ms',
    });
  });

  it('drains by terminating its process and stops on a clean exit', () => {
    const { actor, proc, emitted } = start();
    actor.send({ type: 'heartbeat', heartbeat: hb('ready') });
    actor.send({ type: 'drain' });
    expect(proc.commands).toEqual(['process.terminate']);
    expect(actor.getSnapshot().value).toEqual({ alive: 'draining' });
    proc.send({ type: 'process.exited', code: 0, signal: null });
    expect(actor.getSnapshot().output).toEqual({ status: 'stopped' });
    expect(emitted).toEqual(['starting', 'ready', 'draining', 'stopped']);
  });

  it('treats an exit nobody asked for as a crash, even with code 0', () => {
    const { actor, proc } = start();
    actor.send({ type: 'heartbeat', heartbeat: hb('ready') });
    proc.send({ type: 'process.exited', code: 0, signal: null });
    expect(actor.getSnapshot().output).toEqual({ status: 'crashed', reason: 'process exited with code 0' });
  });

  it('kills a draining process that overstays its drain timeout', () => {
    const { actor, proc, clock } = start({ drainTimeoutMs: 1000 });
    actor.send({ type: 'heartbeat', heartbeat: hb('ready') });
    actor.send({ type: 'drain' });
    clock.increment(1001);
    expect(proc.commands).toEqual(['process.terminate']);
    expect(proc.stopped()).toBe(1);
    expect(actor.getSnapshot().output).toEqual({ status: 'stopped' });
  });

  it('knows a remote worker from its heartbeats and ends with its farewell', () => {
    const { actor } = start({ managed: false, heartbeat: hb('ready') });
    expect(actor.getSnapshot().value).toEqual({ alive: 'ready' });
    actor.send({ type: 'heartbeat', heartbeat: hb('stopped') });
    expect(actor.getSnapshot().output).toEqual({ status: 'stopped' });
  });
});
