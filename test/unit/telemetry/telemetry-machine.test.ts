import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createActor, type AnyActorRef } from 'xstate';
import {
  AdaptationEventSchema,
  AnomalyEventSchema,
  type ActuatorCall,
} from '../../../src/protocol/events.js';
import { supervisorMachine, selectChildren } from '../../../src/supervisors/supervisor-machine.js';
import type { SupervisorEmitted } from '../../../src/supervisors/types.js';
import type { PoliciesOptions } from '../../../src/telemetry/policy-config.js';
import {
  memorySnapshotStore,
  selectTelemetry,
  telemetryMachine,
  type SnapshotStore,
  type TelemetryEvent,
  type TelemetryActorRef,
  type TelemetryInput,
} from '../../../src/telemetry/telemetry-machine.js';
import { fakeActuator } from './fake-actuator.js';
import { createLoad } from './synthetic.js';

const T0 = 1_700_000_000_000;
const TICK = 2000;

const routeAround: PoliciesOptions = {
  revertDelayMs: 10_000,
  observeAfterMs: 10_000,
  policies: [
    {
      name: 'route-around-slow-worker',
      on: { kinds: ['latency_shift'], scope: 'worker' },
      action: { type: 'avoid_worker', probeRatio: 0.1 },
    },
  ],
};

function setupInput(overrides: Partial<TelemetryInput> = {}) {
  const published: TelemetryEvent[] = [];
  const fake = fakeActuator();
  const input: TelemetryInput = {
    node: 'n1',
    policies: routeAround,
    publish: (e) => void published.push(e),
    actuator: fake.actuator,
    ...overrides,
  };
  return { input, published, calls: fake.calls };
}

/** Feeds `seconds` of synthetic load to whatever `target()` is now, a tick at a time. */
async function drive(
  target: () => AnyActorRef | undefined,
  load: ReturnType<typeof createLoad>,
  seconds: number,
) {
  for (let t = 0; t < seconds * 1000; t += TICK) {
    const from = Date.now();
    target()?.send({ type: 'telemetry.calls', calls: load.calls(from, from + TICK) });
    await vi.advanceTimersByTimeAsync(TICK);
  }
}

const kinds = (published: TelemetryEvent[]) =>
  published.map((p) =>
    p.kind === 'anomaly' ? `${p.event.kind}:${p.event.state}` : `adaptation:${p.event.phase}`,
  );

describe('telemetry actor', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
  });
  afterEach(() => vi.useRealTimers());

  it('detects a slow worker on its ticks, routes around it, observes, and restores it after recovery', async () => {
    const { input, published, calls } = setupInput();
    const actor = createActor(telemetryMachine, { input }).start();
    const load = createLoad({ seed: 5 });
    await drive(() => actor, load, 60);
    expect(published).toEqual([]);

    load.set('w3', { medianMs: 1000 });
    await drive(() => actor, load, 20);
    expect(calls).toEqual<ActuatorCall[]>([
      { type: 'avoid_worker', pool: 'general', worker: 'w3', probe_ratio: 0.1 },
    ]);
    expect(kinds(published)).toContain('latency_shift:raised');
    expect(kinds(published)).toContain('adaptation:applied');
    for (const p of published) {
      (p.kind === 'anomaly' ? AnomalyEventSchema : AdaptationEventSchema).parse(p.event);
    }
    expect(selectTelemetry(actor.getSnapshot()).adaptations).toHaveLength(1);

    load.set('w3', { medianMs: 100 });
    await drive(() => actor, load, 60);
    expect(calls.at(-1)).toEqual({ type: 'restore_worker', pool: 'general', worker: 'w3' });
    const phases = published.filter((p) => p.kind === 'adaptation').map((p) => p.event.phase);
    expect(phases).toEqual(['applied', 'observed', 'reverted']);
    expect(selectTelemetry(actor.getSnapshot()).adaptations).toEqual([]);
    actor.stop();
  });

  it('switches a failing model to its fallback and back, and recycles a worker whose RSS grows', async () => {
    const { input, calls } = setupInput({
      policies: {
        revertDelayMs: 10_000,
        policies: [
          {
            name: 'fallback',
            on: { kinds: ['error_rate'], scope: 'model', match: { model: 'openai/gpt-test' } },
            action: { type: 'fallback_model', fallback: 'openai/gpt-mini' },
          },
          {
            name: 'recycle',
            on: { kinds: ['rss_growth'], scope: 'worker' },
            action: { type: 'recycle_worker' },
          },
        ],
      },
    });
    const actor = createActor(telemetryMachine, { input }).start();
    const load = createLoad({ seed: 9, workers: ['w1'] });
    let rss = 300e6;
    let leak = 0;
    const feed = async (seconds: number) => {
      for (let t = 0; t < seconds * 1000; t += TICK) {
        rss += leak;
        actor.send({
          type: 'telemetry.samples',
          samples: [{ ts: Date.now(), pool: 'general', worker: 'w1', rss_bytes: rss }],
        });
        await drive(() => actor, load, TICK / 1000);
      }
    };
    await feed(60);
    load.set('w1', { errorRate: 0.5 });
    await feed(20);
    expect(calls).toEqual([
      { type: 'set_fallback_model', model: 'openai/gpt-test', fallback: 'openai/gpt-mini' },
    ]);
    load.set('w1', { errorRate: 0.02 });
    await feed(60);
    expect(calls.at(-1)).toEqual({ type: 'set_fallback_model', model: 'openai/gpt-test', fallback: null });

    leak = 1e6; // 1 MB per 2 s tick: 30 MB a minute
    await feed(8 * 60);
    expect(calls.filter((c) => c.type === 'recycle_worker')).toEqual([
      { type: 'recycle_worker', pool: 'general', worker: 'w1' },
    ]);
    actor.stop();
  });

  it('in dry-run mode publishes suggestions and never calls the actuator', async () => {
    const { input, published, calls } = setupInput({ policies: { ...routeAround, mode: 'dry_run' } });
    const actor = createActor(telemetryMachine, { input }).start();
    const load = createLoad({ seed: 6 });
    await drive(() => actor, load, 60);
    load.set('w1', { medianMs: 1000 });
    await drive(() => actor, load, 20);
    load.set('w1', { medianMs: 100 });
    await drive(() => actor, load, 60);
    expect(calls).toEqual([]);
    const adaptations = published.filter((p) => p.kind === 'adaptation').map((p) => p.event);
    expect(adaptations.map((a) => [a.phase, a.dry_run])).toEqual([
      ['suggested', true],
      ['observed', true],
      ['reverted', true],
    ]);
    actor.stop();
  });

  it('keeps running when publishing throws, and counts it', async () => {
    const { input } = setupInput({
      publish: () => {
        throw new Error('no connection');
      },
    });
    const actor = createActor(telemetryMachine, { input }).start();
    const load = createLoad({ seed: 7 });
    await drive(() => actor, load, 60);
    load.set('w2', { medianMs: 1000 });
    await drive(() => actor, load, 20);
    expect(actor.getSnapshot().status).toBe('active');
    expect(actor.getSnapshot().context.stats.publishErrors).toBeGreaterThan(0);
    actor.stop();
  });

  it('stops normally on telemetry.stop, saving a last snapshot', async () => {
    const store = memorySnapshotStore();
    const { input } = setupInput({ store });
    const actor = createActor(telemetryMachine, { input }).start();
    await drive(() => actor, createLoad(), 10);
    actor.send({ type: 'telemetry.stop' });
    expect(actor.getSnapshot().status).toBe('done');
    expect(actor.getSnapshot().output).toEqual({ status: 'stopped' });
    expect(store.last?.analyzer.series.length).toBeGreaterThan(0);
  });

  it('starts fresh from a snapshot that does not validate, and says why', () => {
    const store: SnapshotStore = { load: () => ({ version: 2 }), save: () => undefined };
    const actor = createActor(telemetryMachine, { input: setupInput({ store }).input }).start();
    const { stats } = actor.getSnapshot().context;
    expect(stats.restored).toBe(false);
    expect(stats.restoreError).toMatch(/^version: /);
    actor.stop();
  });

  it('crashes when its snapshot cannot be saved; one_for_one restarts it with its state recovered', async () => {
    const memory = memorySnapshotStore();
    let failNextSave = false;
    const store: SnapshotStore = {
      load: () => memory.load(),
      save: (snapshot) => {
        if (failNextSave) {
          failNextSave = false;
          throw new Error('disk full');
        }
        memory.save(snapshot);
      },
    };
    const { input, calls, published } = setupInput({ store, snapshotEveryTicks: 5 });
    const sup = createActor(supervisorMachine, {
      input: {
        id: 'node',
        strategy: 'one_for_one',
        children: [{ id: 'telemetry', logic: telemetryMachine, input, restart: 'permanent' }],
      },
    });
    const events: SupervisorEmitted[] = [];
    sup.on('*', (e) => events.push(e));
    sup.start();
    const child = () => sup.getSnapshot().children.telemetry as AnyActorRef | undefined;
    const first = child();
    const load = createLoad({ seed: 8 });

    await drive(child, load, 60);
    load.set('w4', { medianMs: 1000 });
    await drive(child, load, 20);
    expect(calls.map((c) => c.type)).toEqual(['avoid_worker']);

    failNextSave = true;
    await drive(child, load, 12);
    expect(events).toContainEqual({
      type: 'child.exited',
      id: 'telemetry',
      exit: { status: 'crashed', reason: 'telemetry tick failed: disk full' },
    });
    expect(events).toContainEqual({ type: 'child.restarted', id: 'telemetry', restarts: 1 });
    expect(child()).not.toBe(first);
    const restarted = (child() as TelemetryActorRef).getSnapshot();
    expect(restarted.context.stats.restored).toBe(true);
    // What was in force before the crash is known to the new instance.
    const state = selectTelemetry(restarted);
    expect(state.adaptations.map((a) => a.action)).toEqual([calls[0]]);
    expect(state.anomalies.map((a) => a.key.id)).toContain('general/w4');

    // ...so it is the new instance that reverts it once the worker recovers.
    load.set('w4', { medianMs: 100 });
    await drive(child, load, 60);
    expect(calls.map((c) => c.type)).toEqual(['avoid_worker', 'restore_worker']);
    expect(published.filter((p) => p.kind === 'adaptation').map((p) => p.event.phase)).toContain('reverted');
    expect(selectChildren(sup.getSnapshot())).toEqual([
      { id: 'telemetry', restart: 'permanent', restarts: 1, status: 'running' },
    ]);
    sup.send({ type: 'supervisor.stop' });
  });
  it('escalates when every restarted instance crashes again: its supervisor gives up past the intensity', async () => {
    const memory = memorySnapshotStore();
    let saves = 0;
    // A store that fails every save: each instance crashes at its first snapshot.
    const store: SnapshotStore = {
      load: () => memory.load(),
      save: () => {
        saves++;
        throw new Error('disk full');
      },
    };
    const { input } = setupInput({ store, snapshotEveryTicks: 1 });
    const sup = createActor(supervisorMachine, {
      input: {
        id: 'node.telemetry',
        strategy: 'one_for_one',
        intensity: { maxRestarts: 2, periodMs: 60_000 },
        children: [{ id: 'telemetry', logic: telemetryMachine, input, restart: 'permanent' }],
      },
    });
    const events: SupervisorEmitted[] = [];
    sup.on('*', (e) => events.push(e));
    sup.start();
    const child = () => sup.getSnapshot().children.telemetry as AnyActorRef | undefined;
    await drive(child, createLoad({ seed: 3 }), 20);

    expect(events.filter((e) => e.type === 'child.restarted')).toHaveLength(2);
    expect(sup.getSnapshot().status).toBe('done');
    expect(sup.getSnapshot().output).toEqual({
      status: 'crashed',
      reason: 'restart intensity exceeded',
      supervisor: 'node.telemetry',
      lastFailure: { child: 'telemetry', reason: 'telemetry tick failed: disk full' },
    });
    // One save per instance: the first and its two restarts; nothing runs after the escalation.
    expect(saves).toBe(3);
  });
});
