import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DspexError, type Runtime } from '../../src/index.js';
import { eventually } from '../harness/eventually.js';
import { startNats, type NatsServer } from '../harness/nats.js';
import { startRuntime, workerBin } from '../harness/runtime.js';

/** Starts `dspex-worker` by hand, as an operator would on another host. */
function handStart(url: string, id: string): ChildProcess {
  return spawn(workerBin, ['--nats', url, '--pool', 'general', '--id', id, '--heartbeat-ms', '250'], {
    stdio: ['ignore', 'ignore', process.env.DSPEX_TEST_LOG ? 'inherit' : 'ignore'],
    env: { ...process.env, LITELLM_LOCAL_MODEL_COST_MAP: 'True' },
  });
}

const exited = (p: ChildProcess) =>
  new Promise<number | null>((resolve) =>
    p.exitCode !== null ? resolve(p.exitCode) : p.once('exit', (code) => resolve(code)),
  );

describe('a worker started by hand', () => {
  let srv: NatsServer;
  let rt: Runtime;
  const started: ChildProcess[] = [];

  beforeAll(async () => {
    srv = await startNats();
    // The node runs no local worker: the pool is only what other hosts bring.
    rt = await startRuntime(srv.url, { pools: { general: { size: 0, heartbeatMs: 250 } } });
  });
  afterAll(async () => {
    for (const p of started) if (p.exitCode === null) p.kill('SIGKILL');
    await rt?.stop();
    await srv?.stop();
  });

  it('answers 503 while the pool has no worker', async () => {
    const error = await rt
      .predict({ module: 'Predict', signature: 'question -> answer', inputs: { question: 'anyone?' } })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DspexError);
    expect(error).toMatchObject({ code: 'unavailable', retryable: true });
  });

  it('joins the running pool, takes calls, and leaves cleanly on SIGTERM', async () => {
    const worker = handStart(srv.url, 'by-hand-1');
    started.push(worker);
    await rt.waitForWorkers('general', 1, 60_000);
    const status = rt.status().pools.find((p) => p.name === 'general')!;
    expect(status.workers).toMatchObject([{ id: 'by-hand-1', managed: false }]);
    const reply = await rt.predict({
      module: 'Predict',
      signature: 'question -> answer',
      inputs: { question: 'hi' },
    });
    expect(reply.worker).toBe('by-hand-1');
    expect(reply.outputs.answer).toBe('answer for hi');

    worker.kill('SIGTERM');
    expect(await exited(worker)).toBe(0);
    await eventually(() => expect(rt.status().pools.find((p) => p.name === 'general')!.workers).toEqual([]));
  });

  it('is forgotten when it dies without a word', async () => {
    const worker = handStart(srv.url, 'by-hand-2');
    started.push(worker);
    await rt.waitForWorkers('general', 1, 60_000);
    worker.kill('SIGKILL');
    await exited(worker);
    // Three missed heartbeats (3 × 250 ms) and it is gone from the pool.
    await eventually(() => expect(rt.status().pools.find((p) => p.name === 'general')!.workers).toEqual([]), {
      timeoutMs: 10_000,
    });
  });
});
