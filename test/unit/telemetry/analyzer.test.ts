import { describe, expect, it } from 'vitest';
import type { AnomalyEvent } from '../../../src/protocol/events.js';
import { Analyzer, type WorkerSample } from '../../../src/telemetry/analyzer.js';
import { resolveAnalysisOptions, type AnalysisOptions } from '../../../src/telemetry/detectors.js';
import { createLoad, gaussian, rng, type LoadOptions } from './synthetic.js';

const T0 = 1_700_000_000_000;

/** Drives an analyzer tick by tick with a synthetic load; time only moves when the test says. */
function harness(options: AnalysisOptions = {}, load: LoadOptions = {}) {
  const resolved = resolveAnalysisOptions(options);
  let analyzer = new Analyzer(resolved, 'n1');
  const gen = createLoad(load);
  let now = T0;
  const events: AnomalyEvent[] = [];
  const h = {
    gen,
    events,
    get now() {
      return now;
    },
    get analyzer() {
      return analyzer;
    },
    /** Runs `seconds` of load, ticking every `tickMs`; `samples(ts)` adds heartbeat gauges. */
    run(seconds: number, samples?: (ts: number) => WorkerSample[]) {
      const end = now + seconds * 1000;
      while (now < end) {
        const next = now + resolved.tickMs;
        analyzer.ingestCalls(gen.calls(now, next), next);
        if (samples !== undefined) {
          for (let ts = now; ts < next; ts += 1000) analyzer.ingestSamples(samples(ts), ts);
        }
        now = next;
        events.push(...analyzer.tick(now));
      }
      return h;
    },
    restart() {
      analyzer = Analyzer.restore(resolved, 'n1', analyzer.snapshot());
    },
    raised: (filter: Partial<Pick<AnomalyEvent, 'kind'>> & { id?: string } = {}) =>
      events.filter(
        (e) =>
          e.state === 'raised' &&
          (filter.kind === undefined || e.kind === filter.kind) &&
          (filter.id === undefined || e.key.id === filter.id),
      ),
    cleared: (id: string) => events.filter((e) => e.state === 'cleared' && e.id === id),
  };
  return h;
}

describe('analysis on stationary noise', () => {
  it.each([1, 2])('raises nothing over 30 minutes of noise at 20 calls/s (seed %i)', (seed) => {
    const h = harness({}, { seed });
    h.run(30 * 60);
    // 900 ticks × (1 pool + 4 workers + 2 modules + 1 model) series × their detectors, none raised.
    expect(h.raised()).toEqual([]);
    expect(h.analyzer.stats().series).toBe(8);
  });

  it('raises nothing on a worker whose RSS only wobbles', () => {
    const random = rng(7);
    const h = harness({}, { workers: ['w1'] });
    h.run(20 * 60, (ts) => [
      { ts, pool: 'general', worker: 'w1', rss_bytes: Math.round(300e6 + 5e6 * gaussian(random)) },
    ]);
    expect(h.raised({ kind: 'rss_growth' })).toEqual([]);
  });
});

describe('analysis on a step change', () => {
  it('detects a worker slowed 10x within a window and clears after it recovers', () => {
    const h = harness().run(5 * 60);
    const stepAt = h.now;
    h.gen.set('w2', { medianMs: 1000 });
    h.run(60);

    const [raised, ...more] = h.raised({ kind: 'latency_shift', id: 'general/w2' });
    expect(more).toEqual([]);
    expect(raised).toBeDefined();
    const delayS = (raised!.ts - stepAt) / 1000;
    // Half the 10 s window must be slow for the median to move, then 2 confirming ticks of 2 s.
    expect(delayS).toBeLessThanOrEqual(10);
    expect(raised!.evidence.ratio).toBeGreaterThan(5);
    expect(raised!.evidence.baseline.median).toBeGreaterThan(80);
    expect(raised!.evidence.baseline.median).toBeLessThan(125);
    expect(raised!.evidence.score).toBeGreaterThanOrEqual(raised!.evidence.threshold);
    // The other workers stay quiet; the worker's tail is raised too.
    expect(h.raised({ kind: 'latency_shift' }).map((e) => e.key.id)).not.toContain('general/w1');
    expect(h.raised({ kind: 'tail_latency', id: 'general/w2' })).toHaveLength(1);

    h.gen.set('w2', { medianMs: 100 });
    const recoverAt = h.now;
    h.run(60);
    const [cleared] = h.cleared(raised!.id);
    expect(cleared?.reason).toBe('recovered');
    expect(cleared?.since).toBe(raised!.ts);
    expect((cleared!.ts - recoverAt) / 1000).toBeLessThanOrEqual(16);
    // Recovered, and the slow minute was not learned: a second slowdown is caught the same way.
    h.gen.set('w2', { medianMs: 1000 });
    h.run(30);
    expect(h.raised({ kind: 'latency_shift', id: 'general/w2' })).toHaveLength(2);
  });

  it('detects an error burst on a model and a parse-failure spike on a module', () => {
    const h = harness().run(5 * 60);
    h.gen.setAll({ errorRate: 0.4 });
    h.run(30);
    const model = h.raised({ kind: 'error_rate', id: 'openai/gpt-test' });
    expect(model).toHaveLength(1);
    expect(model[0]!.evidence.value).toBeGreaterThan(0.1);
    expect(model[0]!.evidence.ratio).toBeGreaterThan(5);
    expect(model[0]!.evidence.baseline.scale).toBe('rate');

    h.gen.setAll({ errorRate: 0.02, parseRate: 0.3 });
    h.run(30);
    const modules = h.raised({ kind: 'parse_failures' }).filter((e) => e.key.scope === 'module');
    expect(modules.map((e) => e.key.module).sort()).toEqual(['ChainOfThought', 'Predict']);
  });

  it('detects token and cost drift up and output length drift down, on modules and the model', () => {
    const h = harness().run(5 * 60);
    h.gen.setAll({ tokens: 900, outputChars: 300 });
    h.run(30);
    for (const kind of ['token_drift', 'cost_drift', 'output_length_drift'] as const) {
      const scopes = h.raised({ kind }).map((e) => e.key.scope);
      expect(scopes.sort(), kind).toEqual(['model', 'module', 'module']);
    }
    const out = h.raised({ kind: 'output_length_drift' })[0]!;
    expect(out.evidence.ratio).toBeLessThan(0.75);
  });

  it('detects a leaking worker from its RSS trend and clears once it is replaced', () => {
    const random = rng(3);
    let leaking = false;
    let base = 300e6;
    const h = harness({}, { workers: ['w1'] });
    const rss = (ts: number): WorkerSample[] => {
      if (leaking) base += 8e6 / 60; // 8 MB a minute
      return [{ ts, pool: 'general', worker: 'w1', rss_bytes: Math.round(base + 3e6 * gaussian(random)) }];
    };
    h.run(10 * 60, rss);
    expect(h.raised({ kind: 'rss_growth' })).toEqual([]);
    leaking = true;
    const leakAt = h.now;
    h.run(10 * 60, rss);
    const [raised] = h.raised({ kind: 'rss_growth' });
    expect(raised?.key.id).toBe('general/w1');
    // Slope in bytes/minute, near the injected 8 MB/min.
    expect(raised!.evidence.value).toBeGreaterThan(4e6);
    expect((raised!.ts - leakAt) / 60_000).toBeLessThan(10);
    // Recycled: a fresh process starts small and stays flat.
    leaking = false;
    base = 250e6;
    h.run(12 * 60, rss);
    expect(h.cleared(raised!.id)).toHaveLength(1);
  });
});

describe('analysis bounds and lifecycle', () => {
  it('keeps at most maxKeys series, forgetting the least recently seen', () => {
    const workers = Array.from({ length: 200 }, (_, i) => `w${i}`);
    const h = harness({ maxKeys: 50 }, { workers, rate: 400 });
    h.run(20);
    expect(h.analyzer.stats().series).toBeLessThanOrEqual(50);
    expect(h.analyzer.stats().evicted).toBeGreaterThan(0);
  });

  it('clears an anomaly as expired when its series goes silent', () => {
    const h = harness({ keyTtlMs: 30_000 }, { workers: ['w1', 'w2'] }).run(5 * 60);
    h.gen.set('w2', { medianMs: 1000 });
    h.run(20);
    const [raised] = h.raised({ kind: 'latency_shift', id: 'general/w2' });
    expect(raised).toBeDefined();
    // w2 disappears (only w1 gets calls from now on).
    h.gen.set('w2', { medianMs: 100 });
    const gen2 = createLoad({ workers: ['w1'], seed: 9 });
    const a = h.analyzer;
    let now = h.now;
    const events: AnomalyEvent[] = [];
    for (let i = 0; i < 30; i++) {
      a.ingestCalls(gen2.calls(now, now + 2000), now + 2000);
      now += 2000;
      events.push(...a.tick(now));
    }
    expect(events.filter((e) => e.id === raised!.id)).toMatchObject([
      { state: 'cleared', reason: 'expired' },
    ]);
  });

  it('takes a shift that lasts relearnAfterMs as the new normal', () => {
    const h = harness({ relearnAfterMs: 60_000 }).run(5 * 60);
    h.gen.setAll({ medianMs: 300 });
    h.run(4 * 60);
    const pool = h.events.filter((e) => e.kind === 'latency_shift' && e.key.id === 'general');
    expect(pool.map((e) => [e.state, e.reason])).toEqual([
      ['raised', undefined],
      ['cleared', 'relearned'],
    ]);
  });

  it('resumes from a snapshot with its baselines: no warm-up, a step is caught as fast', () => {
    const h = harness().run(5 * 60);
    const before = h.analyzer.snapshot();
    h.restart();
    expect(h.analyzer.snapshot()).toEqual(before);
    // The restored analyzer has no windows yet; its first full window is judged against the old baseline.
    h.gen.set('w1', { medianMs: 1000 });
    const stepAt = h.now;
    h.run(30);
    const [raised] = h.raised({ kind: 'latency_shift', id: 'general/w1' });
    expect((raised!.ts - stepAt) / 1000).toBeLessThanOrEqual(10);
  });

  it('keeps a raised anomaly across a restart and clears it afterwards', () => {
    const h = harness().run(5 * 60);
    h.gen.set('w3', { medianMs: 1000 });
    h.run(20);
    const [raised] = h.raised({ kind: 'latency_shift', id: 'general/w3' });
    h.restart();
    expect(h.analyzer.active().map((a) => a.id)).toContain(raised!.id);
    h.gen.set('w3', { medianMs: 100 });
    h.run(40);
    expect(h.cleared(raised!.id)).toHaveLength(1);
  });

  it('rejects bad options naming the field', () => {
    expect(() => resolveAnalysisOptions({ tickMs: 0 })).toThrow(/tickMs/);
    expect(() => resolveAnalysisOptions({ kinds: { error_rate: { zOn: -1 } } })).toThrow(/zOn/);
  });
});
