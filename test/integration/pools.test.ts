import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DspexError, type Runtime } from '../../src/index.js';
import { eventually } from '../harness/eventually.js';
import { alive } from '../harness/process.js';
import { startNats, type NatsServer } from '../harness/nats.js';
import { startRuntime } from '../harness/runtime.js';

const ask = (rt: Runtime, pool: string, question: string, session?: string) =>
  rt.predict({
    module: 'Predict',
    signature: 'question -> answer',
    inputs: { question },
    pool,
    ...(session ? { session } : {}),
  });

const workersOf = (rt: Runtime, pool: string) =>
  rt.status().pools.find((p) => p.name === pool)?.workers ?? [];

describe('pool routing, backpressure and health', () => {
  let srv: NatsServer;
  let rt: Runtime;

  beforeAll(async () => {
    srv = await startNats();
    rt = await startRuntime(srv.url, {
      pools: {
        general: { size: 2, concurrency: 4, heartbeatMs: 250, env: { DSPEX_DUMMY_DELAY_MS: '30' } },
        tiny: { size: 1, concurrency: 1, queueLimit: 2, env: { DSPEX_DUMMY_DELAY_MS: '400' } },
        recycled: { size: 1, recycleAfterCalls: 3 },
      },
    });
  });
  afterAll(async () => {
    await rt?.stop();
    await srv?.stop();
  });

  it('spreads concurrent calls over the least loaded workers', async () => {
    const replies = await Promise.all(Array.from({ length: 8 }, (_, i) => ask(rt, 'general', `spread ${i}`)));
    const counts = new Map<string, number>();
    for (const r of replies) counts.set(r.worker, (counts.get(r.worker) ?? 0) + 1);
    expect([...counts.values()]).toEqual([4, 4]);
  });

  it('keeps the calls of one session on the same worker', async () => {
    const first = await ask(rt, 'general', 'hello', 'session-a');
    const rest = await Promise.all(
      Array.from({ length: 6 }, (_, i) => ask(rt, 'general', `again ${i}`, 'session-a')),
    );
    expect(new Set(rest.map((r) => r.worker))).toEqual(new Set([first.worker]));
  });

  it('queues calls up to the limit and answers 429 beyond it', async () => {
    // One worker with room for one call, and a queue of two: of eight calls, three are accepted.
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => ask(rt, 'tiny', `burst ${i}`)),
    );
    const ok = results.filter((r) => r.status === 'fulfilled');
    const rejected = results
      .filter((r): r is PromiseRejectedResult => r.status === 'rejected')
      .map((r) => r.reason as DspexError);
    expect(ok).toHaveLength(3);
    expect(rejected).toHaveLength(5);
    for (const e of rejected) {
      expect(e).toBeInstanceOf(DspexError);
      expect(e.code).toBe('overloaded');
      expect(e.status).toBe(429);
      expect(e.retryable).toBe(true);
    }
  });

  it('recycles a worker after its call budget without failing a call', async () => {
    const before = workersOf(rt, 'recycled')[0]!;
    const replies = [];
    for (let i = 0; i < 8; i++) replies.push(await ask(rt, 'recycled', `budget ${i}`));
    expect(replies.every((r) => typeof r.outputs.answer === 'string')).toBe(true);
    expect(new Set(replies.map((r) => r.worker)).size).toBeGreaterThanOrEqual(2);
    await eventually(() => expect(alive(before.pid)).toBe(false));
    const exits = await rt.metrics.registry.getSingleMetricAsString('dspex_worker_exits_total');
    expect(exits).toMatch(/pool="recycled",outcome="stopped"} [1-9]/);
  });

  it('replaces a worker whose heartbeats stop (frozen with SIGSTOP)', async () => {
    const victim = workersOf(rt, 'general')[0]!;
    process.kill(victim.pid, 'SIGSTOP');
    try {
      await eventually(
        () => {
          const now = workersOf(rt, 'general').find((w) => w.id === victim.id);
          expect(now?.pid).not.toBe(victim.pid);
          expect(now?.state).toMatch(/ready|busy/);
        },
        { timeoutMs: 20_000 },
      );
      // The frozen process was killed, not left behind.
      await eventually(() => expect(alive(victim.pid)).toBe(false));
    } finally {
      if (alive(victim.pid)) process.kill(victim.pid, 'SIGKILL');
    }
    const reply = await ask(rt, 'general', 'after the freeze');
    expect(reply.outputs.answer).toBe('answer for after the freeze');
    // One crash, one restart: the replacement waited for the frozen process to be reaped.
    const exits = await rt.metrics.registry.getSingleMetricAsString('dspex_worker_exits_total');
    expect(exits).toContain('dspex_worker_exits_total{pool="general",outcome="crashed"} 1');
  });
});
