import { describe, expect, it } from 'vitest';
import type {
  ActuatorCall,
  AdaptationEvent,
  AnomalyEvent,
  AnomalyKind,
  Evidence,
  SeriesKey,
} from '../../../src/protocol/events.js';
import { performCall, type ActResult } from '../../../src/telemetry/actuator.js';
import { fakeActuator } from './fake-actuator.js';
import { resolvePolicies, type PoliciesOptions } from '../../../src/telemetry/policy-config.js';
import { PolicyEngine, type CurrentValue, type PolicyCommand } from '../../../src/telemetry/policy-engine.js';
import { modelKey, moduleKey, poolKey, workerKey } from '../../../src/telemetry/series-key.js';

const evidence = (value: number, median: number): Evidence => ({
  window: { start: 0, end: 10_000, samples: 50 },
  baseline: { median, mad: 0.1, ewma: median, points: 150, scale: 'log' },
  value,
  score: 9,
  threshold: 4,
  ratio: value / median,
});

let seq = 0;
function raise(kind: AnomalyKind, key: SeriesKey, value = 1000, median = 100): AnomalyEvent {
  return {
    id: `an-${++seq}`,
    node: 'n1',
    ts: 0,
    kind,
    state: 'raised',
    key,
    evidence: evidence(value, median),
  };
}
const clear = (e: AnomalyEvent): AnomalyEvent => ({ ...e, state: 'cleared', reason: 'recovered' });

/** Runs an engine against a fake actuator with a clock the test moves. */
function harness(options: PoliciesOptions, answer?: (call: ActuatorCall) => ActResult) {
  const engine = new PolicyEngine(resolvePolicies(options), 'n1');
  const fake = fakeActuator(answer);
  const emitted: AdaptationEvent[] = [];
  const values = new Map<string, number>();
  const current: CurrentValue = (id, kind) => {
    const v = values.get(`${id}|${kind}`);
    return v === undefined ? undefined : evidence(v, 100);
  };
  let now = 0;
  async function run(commands: PolicyCommand[]): Promise<void> {
    for (const c of commands) {
      if (c.type === 'emit') emitted.push(c.event);
      else await run(engine.onResult(c.id, c.step, await performCall(fake.actuator, c.call), now));
    }
  }
  return {
    engine,
    calls: fake.calls,
    emitted,
    values,
    phases: () => emitted.map((e) => [e.policy, e.phase]),
    at: (t: number) => (now = t),
    anomaly: (e: AnomalyEvent) => run(engine.onAnomaly({ ...e, ts: now }, now, current)),
    tick: async (t: number) => {
      now = t;
      await run(engine.onTick(now, current));
    },
  };
}

const avoid = {
  name: 'route-around',
  on: { kinds: ['latency_shift' as const], scope: 'worker' as const },
  action: { type: 'avoid_worker' as const },
};

describe('policy engine', () => {
  it('routes around a slow worker, observes the effect, and restores it after the cause clears', async () => {
    const h = harness({
      policies: [avoid],
      revertDelayMs: 30_000,
      observeAfterMs: 20_000,
      cooldownMs: 60_000,
    });
    const slow = raise('latency_shift', workerKey('general', 'w2'));
    await h.anomaly(slow);
    expect(h.calls).toEqual([{ type: 'avoid_worker', pool: 'general', worker: 'w2', probe_ratio: 0.05 }]);
    const applied = h.emitted[0]!;
    expect(applied).toMatchObject({
      phase: 'applied',
      dry_run: false,
      trigger: { anomaly: slow.id, kind: 'latency_shift' },
      expected: { key: poolKey('general'), kind: 'latency_shift', direction: 'decrease', target: 100 },
    });

    h.values.set('pool:general|latency_shift', 110);
    await h.tick(20_000);
    expect(h.emitted.at(-1)).toMatchObject({
      phase: 'observed',
      observed: { ts: 20_000, value: 110, improved: true },
    });

    h.at(25_000);
    await h.anomaly(clear(slow));
    await h.tick(50_000); // 25 s after the clear: not yet
    expect(h.calls).toHaveLength(1);
    await h.tick(55_000);
    expect(h.calls.at(-1)).toEqual({ type: 'restore_worker', pool: 'general', worker: 'w2' });
    expect(h.emitted.at(-1)).toMatchObject({ phase: 'reverted', reason: 'cause cleared (recovered)' });
    expect(h.engine.active()).toEqual([]);

    // Cooldown: the same worker slow again within a minute is left alone, after it is handled.
    h.at(60_000);
    await h.anomaly(raise('latency_shift', workerKey('general', 'w2')));
    expect(h.calls).toHaveLength(2);
    h.at(120_000);
    await h.tick(120_000);
    await h.anomaly(raise('latency_shift', workerKey('general', 'w2')));
    expect(h.calls).toHaveLength(3);
  });

  it('keeps an adaptation whose cause comes back during the revert delay (hysteresis)', async () => {
    const h = harness({ policies: [avoid], revertDelayMs: 30_000 });
    const slow = raise('latency_shift', workerKey('general', 'w1'));
    await h.anomaly(slow);
    h.at(10_000);
    await h.anomaly(clear(slow));
    h.at(20_000);
    const again = raise('latency_shift', workerKey('general', 'w1'));
    await h.anomaly(again);
    await h.tick(35_000);
    await h.tick(60_000);
    expect(h.calls.map((c) => c.type)).toEqual(['avoid_worker']);
    expect(h.engine.active()[0]?.trigger.anomaly).toBe(again.id);
    h.at(70_000);
    await h.anomaly(clear(again));
    await h.tick(100_000);
    expect(h.calls.map((c) => c.type)).toEqual(['avoid_worker', 'restore_worker']);
  });

  it('in dry-run mode suggests and withdraws without calling the actuator', async () => {
    const h = harness({ mode: 'dry_run', policies: [avoid], revertDelayMs: 1000 });
    const slow = raise('latency_shift', workerKey('general', 'w1'));
    await h.anomaly(slow);
    h.at(5000);
    await h.anomaly(clear(slow));
    await h.tick(6000);
    expect(h.calls).toEqual([]);
    expect(h.emitted.map((e) => [e.phase, e.dry_run])).toEqual([
      ['suggested', true],
      ['reverted', true],
    ]);
  });

  it('a per-policy dryRun suggests while other policies act', async () => {
    const h = harness({
      policies: [
        { ...avoid, dryRun: true },
        {
          name: 'recycle',
          on: { kinds: ['latency_shift'], scope: 'worker' },
          action: { type: 'recycle_worker' },
        },
      ],
    });
    await h.anomaly(raise('latency_shift', workerKey('general', 'w1')));
    expect(h.calls.map((c) => c.type)).toEqual(['recycle_worker']);
    expect(h.phases()).toEqual([
      ['route-around', 'suggested'],
      ['recycle', 'applied'],
    ]);
  });

  it('leaves a worker alone when its whole pool shows the same anomaly', async () => {
    const h = harness({ policies: [avoid] });
    await h.anomaly(raise('latency_shift', poolKey('general')));
    await h.anomaly(raise('latency_shift', workerKey('general', 'w1')));
    expect(h.calls).toEqual([]);
  });

  it('never avoids more workers of a pool than maxActive', async () => {
    const h = harness({ policies: [{ ...avoid, maxActive: 1 }] });
    await h.anomaly(raise('latency_shift', workerKey('general', 'w1')));
    await h.anomaly(raise('latency_shift', workerKey('general', 'w2')));
    await h.anomaly(raise('latency_shift', workerKey('other', 'w9')));
    expect(h.calls.map((c) => (c.type === 'avoid_worker' ? c.worker : c.type))).toEqual(['w1', 'w9']);
  });

  it('records a refusal as failed, with the reason, and cools down', async () => {
    const h = harness({ policies: [avoid] }, () => ({ ok: false, reason: 'last ready worker of general' }));
    await h.anomaly(raise('latency_shift', workerKey('general', 'w1')));
    expect(h.emitted).toMatchObject([{ phase: 'failed', reason: 'last ready worker of general' }]);
    await h.anomaly(raise('latency_shift', workerKey('general', 'w1')));
    expect(h.calls).toHaveLength(1);
  });

  it('reverts a resize by the delta actually applied', async () => {
    const h = harness(
      {
        policies: [
          {
            name: 'grow',
            on: { kinds: ['latency_shift'], scope: 'pool' },
            action: { type: 'resize_pool', delta: 2, max: 4 },
          },
        ],
        revertDelayMs: 0,
      },
      (call) =>
        call.type === 'resize_pool' && call.delta > 0 ? { ok: true, detail: { delta: 1 } } : { ok: true },
    );
    const slow = raise('latency_shift', poolKey('general'));
    await h.anomaly(slow);
    await h.anomaly(clear(slow));
    await h.tick(1);
    expect(h.calls).toEqual([
      { type: 'resize_pool', pool: 'general', delta: 2, min: 0, max: 4 },
      { type: 'resize_pool', pool: 'general', delta: -1, min: 0, max: 4 },
    ]);
  });

  it('switches a matching model to its fallback and expects the fallback to be healthy', async () => {
    const h = harness({
      policies: [
        {
          name: 'fallback',
          on: { kinds: ['error_rate'], scope: 'model', match: { model: 'openai/gpt-4o' } },
          action: { type: 'fallback_model', fallback: 'openai/gpt-4o-mini' },
        },
      ],
      revertDelayMs: 0,
    });
    await h.anomaly(raise('error_rate', modelKey('openai/other')));
    expect(h.calls).toEqual([]);
    const burst = raise('error_rate', modelKey('openai/gpt-4o'), 0.4, 0.02);
    await h.anomaly(burst);
    expect(h.calls).toEqual([
      { type: 'set_fallback_model', model: 'openai/gpt-4o', fallback: 'openai/gpt-4o-mini' },
    ]);
    expect(h.emitted[0]?.expected.key).toEqual(modelKey('openai/gpt-4o-mini'));
    await h.anomaly(clear(burst));
    await h.tick(1);
    expect(h.calls.at(-1)).toEqual({ type: 'set_fallback_model', model: 'openai/gpt-4o', fallback: null });
  });

  it('recycles a leaking worker once: observed, then done, never reverted', async () => {
    const h = harness({
      policies: [
        {
          name: 'recycle',
          on: { kinds: ['rss_growth'], scope: 'worker' },
          action: { type: 'recycle_worker' },
        },
      ],
      observeAfterMs: 30_000,
    });
    const leak = raise('rss_growth', workerKey('general', 'w1'), 8e6, 300e6);
    await h.anomaly(leak);
    h.values.set('worker:general/w1|rss_growth', 0);
    await h.tick(30_000);
    expect(h.phases().map((p) => p[1])).toEqual(['applied', 'observed']);
    expect(h.emitted[0]?.expected).toMatchObject({ target: 0, direction: 'decrease', before: 8e6 });
    expect(h.emitted[1]?.observed).toMatchObject({ value: 0, improved: true });
    await h.anomaly(clear(leak));
    await h.tick(200_000);
    expect(h.calls.map((c) => c.type)).toEqual(['recycle_worker']);
  });

  it('pauses an optimizer on a module and resumes it; raises hedging on a pool', async () => {
    const h = harness({
      policies: [
        {
          name: 'pause-opt',
          on: { kinds: ['parse_failures'], scope: 'module' },
          action: { type: 'optimizer', command: 'pause' },
        },
        {
          name: 'hedge',
          on: { kinds: ['tail_latency'], scope: 'pool' },
          action: { type: 'set_hedging', factor: 1.5 },
        },
      ],
      revertDelayMs: 0,
    });
    const parse = raise('parse_failures', moduleKey('Predict', 'q -> a'), 0.3, 0.01);
    const tail = raise('tail_latency', poolKey('general'));
    await h.anomaly(parse);
    await h.anomaly(tail);
    await h.anomaly(clear(parse));
    await h.anomaly(clear(tail));
    await h.tick(1);
    expect(h.calls).toEqual([
      { type: 'optimizer', command: 'pause', module: 'Predict', signature: 'q -> a' },
      { type: 'set_hedging', pool: 'general', factor: 1.5 },
      { type: 'optimizer', command: 'resume', module: 'Predict', signature: 'q -> a' },
      { type: 'set_hedging', pool: 'general', factor: null },
    ]);
  });

  it('reverts as a trial after maxDurationMs even while the cause persists', async () => {
    const h = harness({ policies: [{ ...avoid, maxDurationMs: 60_000 }] });
    await h.anomaly(raise('latency_shift', workerKey('general', 'w1')));
    await h.tick(59_000);
    expect(h.calls).toHaveLength(1);
    await h.tick(60_000);
    expect(h.calls.at(-1)?.type).toBe('restore_worker');
    expect(h.emitted.at(-1)).toMatchObject({ phase: 'reverted', reason: 'expired after 60000 ms' });
  });

  it('retries a failed revert, then gives up after three attempts', async () => {
    let restoreOk = false;
    const h = harness({ policies: [avoid], revertDelayMs: 1000 }, (call) =>
      call.type === 'restore_worker' && !restoreOk ? { ok: false, reason: 'worker gone' } : { ok: true },
    );
    const slow = raise('latency_shift', workerKey('general', 'w1'));
    await h.anomaly(slow);
    await h.anomaly(clear(slow));
    for (const t of [1000, 2000, 3000, 4000, 5000]) await h.tick(t);
    expect(h.calls.filter((c) => c.type === 'restore_worker')).toHaveLength(3);
    expect(h.emitted.at(-1)?.reason).toMatch(/gave up after 3/);
    restoreOk = true;
  });

  it('resumes from a snapshot and still reverts what was in force', async () => {
    const h = harness({ policies: [avoid], revertDelayMs: 0 });
    const slow = raise('latency_shift', workerKey('general', 'w1'));
    await h.anomaly(slow);
    const restored = new PolicyEngine(
      resolvePolicies({ policies: [avoid], revertDelayMs: 0 }),
      'n1',
      h.engine.snapshot(),
    );
    restored.onAnomaly(clear(slow), 1, () => undefined);
    const commands = restored.onTick(2, () => undefined);
    expect(commands).toEqual([
      {
        type: 'act',
        id: 'ad-n1-1',
        step: 'revert',
        call: { type: 'restore_worker', pool: 'general', worker: 'w1' },
      },
    ]);
  });

  it('rejects policies whose action does not fit their scope, naming the field', () => {
    expect(() =>
      resolvePolicies({ policies: [{ ...avoid, on: { kinds: ['latency_shift'], scope: 'pool' } }] }),
    ).toThrow(/policies\.policies\.0\.on\.scope: action avoid_worker needs scope "worker"/);
    expect(() => resolvePolicies({ policies: [avoid, avoid] })).toThrow(
      /policies\.policies\.1\.name: duplicate/,
    );
    expect(() =>
      resolvePolicies({
        policies: [
          { name: 'x', on: { kinds: [], scope: 'pool' }, action: { type: 'set_hedging', factor: 2 } },
        ],
      }),
    ).toThrow(/on\.kinds/);
  });
});
