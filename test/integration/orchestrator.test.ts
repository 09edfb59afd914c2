import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BatchProgress, Runtime } from '../../src/index.js';
import { eventually } from '../harness/eventually.js';
import { startNats, type NatsServer } from '../harness/nats.js';
import { startRuntime } from '../harness/runtime.js';

const SIG = 'question -> answer';

describe('orchestrator', () => {
  let srv: NatsServer;
  let rt: Runtime;
  let second: Runtime;

  beforeAll(async () => {
    srv = await startNats();
    rt = await startRuntime(srv.url, {
      pools: {
        general: { size: 2, concurrency: 2, env: { DSPEX_DUMMY_DELAY_MS: '30' } },
        elastic: { size: 1, maxSize: 2, concurrency: 1, env: { DSPEX_DUMMY_DELAY_MS: '250' } },
      },
    });
    // A node with no workers of its own: it learns latencies from the cluster's pattern store.
    second = await startRuntime(srv.url, { pools: { general: { size: 0 } }, serve: false });
  });
  afterAll(async () => {
    await second?.stop();
    await rt?.stop();
    await srv?.stop();
  });

  it('predicts latency from the history of similar tasks, here and on another node', async () => {
    expect(rt.orchestrator.estimate({ module: 'Predict', signature: SIG }).basis).toBe('none');
    for (let i = 0; i < 6; i++) {
      await rt.predict({ module: 'Predict', signature: SIG, inputs: { question: `warm ${i}` } });
    }
    const here = rt.orchestrator.estimate({ module: 'Predict', signature: SIG });
    expect(here.basis).toBe('pattern');
    expect(here.latencyMs).toBeGreaterThanOrEqual(30);
    expect(here.samples).toBe(6);
    await eventually(
      () => {
        const there = second.orchestrator.estimate({ module: 'Predict', signature: SIG });
        expect(there.basis).toBe('cluster');
        expect(there.latencyMs).toBeCloseTo(here.latencyMs!, 0);
      },
      { timeoutMs: 20_000 },
    );
  });

  it('runs a batch with progress, keeping each failure named and every item in order', async () => {
    const progress: BatchProgress[] = [];
    const inputs = Array.from({ length: 20 }, (_, i) =>
      i === 7 ? { wrong: 'x' } : { question: `batch ${i}` },
    );
    const result = await rt.orchestrator.run(
      { module: 'Predict', signature: SIG, inputs, config: { cache: false } },
      { onProgress: (p) => progress.push(p) },
    );
    expect(result.strategy.parallelism).toBe(8); // 2 workers x 2 slots, twice over
    expect(result.results).toHaveLength(20);
    result.results.forEach((r, i) => {
      if (i === 7) expect(r).toMatchObject({ ok: false, error: { code: 'validation_failed' } });
      else expect(r).toMatchObject({ ok: true, outputs: { answer: `answer for batch ${i}` } });
    });
    expect(progress).toHaveLength(20);
    expect(progress.at(-1)).toMatchObject({ done: 19, failed: 1, total: 20, etaMs: 0 });
    expect(result.predictedMs).toBeGreaterThan(0);
  });

  it('grows a pool within its limit to meet a batch deadline', async () => {
    for (let i = 0; i < 4; i++) {
      await rt.predict({
        module: 'Predict',
        signature: SIG,
        inputs: { question: `slow ${i}` },
        pool: 'elastic',
      });
    }
    const inputs = Array.from({ length: 12 }, (_, i) => ({ question: `deadline ${i}` }));
    const result = await rt.orchestrator.run({
      module: 'Predict',
      signature: SIG,
      inputs,
      pool: 'elastic',
      config: { cache: false },
      deadline: Date.now() + 2500,
    });
    expect(result.strategy.growTo).toBe(2);
    expect(result.results.every((r) => r.ok)).toBe(true);
    await eventually(() => expect(rt.status().pools.find((p) => p.name === 'elastic')?.size).toBe(2));
    const workers = new Set(result.results.map((r) => (r.ok ? r.worker : '')));
    expect(workers.size).toBe(2);
  });
});
