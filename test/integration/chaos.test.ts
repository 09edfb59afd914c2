import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, DspexError, type Client, type Runtime } from '../../src/index.js';
import { eventually } from '../harness/eventually.js';
import { startNats, type NatsServer } from '../harness/nats.js';
import { startRuntime } from '../harness/runtime.js';

describe('a worker killed with SIGKILL under load', () => {
  let srv: NatsServer;
  let rt: Runtime;
  let caller: Client;

  beforeAll(async () => {
    srv = await startNats();
    rt = await startRuntime(srv.url, {
      pools: {
        general: {
          size: 2,
          concurrency: 2,
          heartbeatMs: 250,
          // Calls take a while, so the kill lands on calls in flight.
          env: { DSPEX_DUMMY_DELAY_MS: '80' },
        },
      },
    });
    caller = await createClient({ servers: srv.url });
  });
  afterAll(async () => {
    await caller?.close();
    await rt?.stop();
    await srv?.stop();
  });

  it('is replaced by its supervisor and every call either succeeds or fails with a clear retryable error', async () => {
    const counts = { sent: 0, succeeded: 0, failed: 0 };
    const failures: DspexError[] = [];
    const settled = new Set<number>();
    const calls: Array<Promise<void>> = [];
    const started = Date.now();
    let stop = false;

    // Eight closed-loop callers through the public wire endpoint, as an external client would call.
    const loop = async (caller_: number): Promise<void> => {
      let n = 0;
      while (!stop) {
        const id = counts.sent++;
        const question = `load ${caller_}-${n++}`;
        const call = caller
          .predict(
            { module: 'Predict', signature: 'question -> answer', inputs: { question } },
            { deadline: Date.now() + 20_000 },
          )
          .then(
            (reply) => {
              expect(reply.outputs.answer).toBe(`answer for ${question}`);
              counts.succeeded++;
            },
            (error: unknown) => {
              counts.failed++;
              failures.push(error as DspexError);
            },
          )
          .finally(() => settled.add(id));
        calls.push(call);
        await call;
      }
    };
    const loops = Array.from({ length: 8 }, (_, i) => loop(i));

    await eventually(() => expect(counts.succeeded).toBeGreaterThan(30));
    const before = rt.status().pools.find((p) => p.name === 'general')!.workers;
    const victim = before.find((w) => w.state === 'ready' || w.state === 'busy')!;
    process.kill(victim.pid, 'SIGKILL');
    const killedAt = counts.sent;

    // The supervisor restarts the slot with a new process; keep the load on until it serves again.
    await eventually(
      () => {
        const workers = rt.status().pools.find((p) => p.name === 'general')!.workers;
        const replaced = workers.find((w) => w.id === victim.id);
        expect(replaced?.pid).not.toBe(victim.pid);
        expect(replaced?.state).toMatch(/ready|busy/);
      },
      { timeoutMs: 30_000 },
    );
    await eventually(() => expect(counts.sent).toBeGreaterThan(killedAt + 40));
    stop = true;
    await Promise.race([Promise.all(loops), new Promise((r) => setTimeout(r, 25_000))]);

    const lost = counts.sent - settled.size;

    console.log(
      `chaos: sent ${counts.sent}, succeeded ${counts.succeeded}, failed ${counts.failed}, lost ${lost}, ${Date.now() - started} ms`,
    );
    expect(lost).toBe(0);
    expect(counts.succeeded + counts.failed).toBe(counts.sent);
    for (const error of failures) {
      expect(error).toBeInstanceOf(DspexError);
      expect(error.retryable).toBe(true);
      expect(error.message).not.toBe('');
    }
    // Retries on the other worker absorb the kill: at most the few calls whose retries ran out.
    expect(counts.failed).toBeLessThanOrEqual(4);
    // The kill landed on calls in flight (8 callers keep all 4 slots busy), and they were retried.
    const retries =
      (await rt.metrics.registry.getSingleMetric('dspex_call_retries_total')?.get())?.values ?? [];
    expect(retries.reduce((sum, v) => sum + v.value, 0)).toBeGreaterThanOrEqual(1);
    const exits = await rt.metrics.registry.getSingleMetricAsString('dspex_worker_exits_total');
    expect(exits).toContain('dspex_worker_exits_total{pool="general",outcome="crashed"} 1');
  });
});
