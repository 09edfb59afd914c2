import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { headers as natsHeaders, type NatsConnection } from '@nats-io/nats-core';
import type { KV } from '@nats-io/kv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PipelineEvent, Runtime } from '../../src/index.js';
import { decode, Encoding } from '../../src/protocol/codec.js';
import { eventually } from '../harness/eventually.js';
import { client, startNats, type NatsServer } from '../harness/nats.js';
import { alive } from '../harness/process.js';
import { startRuntime } from '../harness/runtime.js';
import { executions, openExecBucket, registerSteps } from './fixtures/durable-steps.js';

/** Starts node A in its own process; resolves once its worker is ready. */
async function startChildNode(
  url: string,
): Promise<{ child: ChildProcess; pid: number; workers: Array<{ pid: number }> }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', new URL('./fixtures/durable-node-child.ts', import.meta.url).pathname],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, DSPEX_NATS_URL: url } },
  );
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`node child exited early (${code})`)));
  });
  const info = JSON.parse(line) as { pid: number; workers: Array<{ pid: number }> };
  return { child, ...info };
}

describe('a durable pipeline run whose node is killed with SIGKILL mid-run', () => {
  let srv: NatsServer;
  let nc: NatsConnection & AsyncDisposable;
  let kv: KV;
  let a: { child: ChildProcess; pid: number; workers: Array<{ pid: number }> } | undefined;
  let b: Runtime | undefined;

  beforeAll(async () => {
    srv = await startNats();
    nc = await client(srv.url);
    kv = await openExecBucket(nc);
    a = await startChildNode(srv.url);
  });
  afterAll(async () => {
    if (a !== undefined && alive(a.pid)) a.child.kill('SIGKILL');
    await b?.stop();
    await nc?.close();
    await srv?.stop();
  });

  it('is resumed by another node from its checkpoints: it finishes, and no finished work is redone', async () => {
    const runId = `durable-${Date.now()}`;
    const events: PipelineEvent[] = [];
    const sub = nc.subscribe(`dspex.pipeline.${runId}.events`, {
      callback: (_err, m) => {
        events.push(decode(m.data, Encoding.Msgpack) as PipelineEvent);
      },
    });
    const h = natsHeaders();
    h.set('Content-Type', 'application/json');
    const step = (id: string, inputs: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
      id,
      kind: 'fn',
      fn: 'step',
      inputs,
      ...extra,
    });
    const body = {
      run_id: runId,
      inputs: { question: 'What survives a crash?' },
      pipeline: {
        name: 'durable',
        stages: [
          {
            id: 'ask',
            kind: 'predict',
            module: 'Predict',
            signature: 'question -> answer',
            inputs: { question: { input: 'question' } },
          },
          step('first', { after: { stage: 'ask', output: 'answer' } }),
          step(
            'fan',
            { item: { value: [0, 1, 2, 3] }, after: { stage: 'first' } },
            { map: { over: 'item', concurrency: 1 } },
          ),
          step('last', { after: { stage: 'fan' } }),
        ],
      },
    };
    const reply = await nc.request('dspex.rpc.pipeline.run', JSON.stringify(body), {
      headers: h,
      timeout: 30_000,
    });
    expect(decode(reply.data, Encoding.Json)).toMatchObject({ run_id: runId });

    // Kill node A once the fan-out is on its second item: `ask`, `first` and item 0 are finished.
    await eventually(async () => expect((await executions(kv, runId))['fan.1']).toBe(1), {
      timeoutMs: 60_000,
    });
    a!.child.kill('SIGKILL');
    await eventually(() => expect(alive(a!.pid)).toBe(false));
    const before = await executions(kv, runId);
    expect(before).toMatchObject({ first: 1, 'fan.0': 1, 'fan.1': 1 });

    // Node B (no local workers: nothing after the DSPy stage needs one) takes the job over after the ack wait.
    b = await startRuntime(srv.url, { nodeId: 'node-b', pools: { general: { size: 0 } } });
    await registerSteps(b);
    const record = await eventually(
      async () => {
        const r = await b!.pipelines.get(runId);
        expect(r.status).toBe('completed');
        return r;
      },
      { timeoutMs: 60_000 },
    );
    sub.unsubscribe();

    expect(record).toMatchObject({ node: 'node-b', attempt: 2 });
    expect(record.stages?.ask).toEqual({ answer: 'answer for What survives a crash?' });
    expect(record.stages?.first).toEqual({ done: 'first on node-a', item: null });
    expect(record.stages?.fan?.done).toEqual([
      'fan[0] on node-a',
      'fan[1] on node-b',
      'fan[2] on node-b',
      'fan[3] on node-b',
    ]);
    expect(record.stages?.last).toEqual({ done: 'last on node-b', item: null });

    // Finished work was not repeated; only the item in flight at the kill ran twice.
    const after = await executions(kv, runId);
    expect(after).toEqual({ first: 1, 'fan.0': 1, 'fan.1': 2, 'fan.2': 1, 'fan.3': 1, last: 1 });
    const restarts = events.flatMap((e) =>
      e.type === 'run.started' ? [[e.node, e.attempt, e.restored]] : [],
    );
    expect(restarts).toEqual([
      ['node-a', 1, []],
      ['node-b', 2, ['ask', 'first']],
    ]);
    // The DSPy stage completed once, on node A, and was restored rather than rerun.
    expect(events.filter((e) => e.type === 'stage.completed' && e.stage === 'ask')).toHaveLength(1);
    expect(events.at(-1)).toMatchObject({ type: 'run.completed', status: 'completed' });
  });
});
