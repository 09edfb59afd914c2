import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { headers as natsHeaders, type NatsConnection } from '@nats-io/nats-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import type { Runtime } from '../../src/index.js';
import { decode, encode, Encoding } from '../../src/protocol/codec.js';
import { CompileReplySchema, type OptimizeEvent } from '../../src/protocol/optimize.js';
import { eventually } from '../harness/eventually.js';
import { client, startNats, type NatsServer } from '../harness/nats.js';
import { startOpenAiServer, textOf, type OpenAiServer } from '../harness/openai-server.js';
import { startRuntime } from '../harness/runtime.js';

// The optimizer pool runs DSPy's DummyLM, whose answer is "answer for <question>": an example passes
// `contains` on `answer` exactly when its label appears in its question.
const trainset = [
  { question: 'Capital of France? Paris', answer: 'Paris' },
  { question: 'What is 2+2?', answer: '4' },
  { question: 'Colour of the sky: blue', answer: 'blue' },
  { question: 'Who wrote Hamlet?', answer: 'Shakespeare' },
  { question: 'Largest planet: Jupiter', answer: 'jupiter' },
  { question: 'Square root of 9?', answer: '3' },
];
const metric = { name: 'contains', field: 'answer' };

describe('DSPy optimizers in the optimizer pool', () => {
  let srv: NatsServer;
  let lm: OpenAiServer;
  let optimizerNode: Runtime;
  let servingNode: Runtime;
  let nc: NatsConnection & AsyncDisposable;

  beforeAll(async () => {
    srv = await startNats();
    lm = await startOpenAiServer();
    // Node 1 hosts only the optimizer pool (dummy LM); node 2 only the general pool, whose worker calls
    // a local OpenAI-compatible server that records every prompt.
    [optimizerNode, servingNode] = await Promise.all([
      startRuntime(srv.url, { nodeId: 'opt-node', pools: { optimizer: { size: 1 } } }),
      startRuntime(srv.url, {
        nodeId: 'serve-node',
        pools: {
          general: {
            size: 1,
            lm: 'openai/test-model',
            env: { DSPEX_LM_API_BASE: lm.baseUrl, DSPEX_LM_API_KEY: 'x', DSPEX_MEMORY_CACHE: '0' },
          },
        },
      }),
    ]);
    nc = await client(srv.url);
  }, 180_000);
  afterAll(async () => {
    await nc?.close();
    await Promise.all([optimizerNode?.stop(), servingNode?.stop()]);
    await lm?.close();
    await srv?.stop();
  });

  it('compiles with BootstrapFewShot, writes the state to a variable, and another node’s worker uses its demos', async () => {
    const events: OptimizeEvent[] = [];
    const reply = await optimizerNode.optimizer.compile(
      {
        optimizer: 'BootstrapFewShot',
        signature: 'question -> answer',
        trainset,
        metric,
        settings: { max_bootstrapped_demos: 2, max_labeled_demos: 0 },
        variable: 'qa_program',
        run_id: 'bfs-e2e',
      },
      { onProgress: (e) => events.push(e) },
    );
    expect(reply.status).toBe('completed');
    expect(reply.score).toBeCloseTo(0.5);
    const demos = (reply.state as { demos: Array<{ question: string; answer: string }> }).demos;
    expect(demos.map((d) => d.question)).toEqual(['Capital of France? Paris', 'Colour of the sky: blue']);
    expect(reply.variable?.name).toBe('qa_program');
    await eventually(() => expect(events.at(-1)?.status).toBe('completed'));
    expect(events[0]!.status).toBe('running');
    expect(events.at(-1)!.done).toBe(reply.evaluations);

    // The serving node reads the variable (its own KV watch) and loads the state into its predict.
    const record = await eventually(async () => {
      const r = await servingNode.variables.get('qa_program', { consistency: 'latest' });
      expect(r.revision).toBe(reply.variable!.revision);
      return r;
    });
    expect(record.score).toBeCloseTo(0.5);
    expect(record.by).toBe('bfs-e2e');
    const history = await servingNode.variables.history('qa_program');
    expect(history.at(-1)?.score).toBeCloseTo(0.5);

    const before = lm.count();
    const out = await servingNode.predict({
      module: 'Predict',
      signature: 'question -> answer',
      inputs: { question: 'Tallest mountain: Everest' },
      state: record.value as Record<string, unknown>,
    });
    expect(out.outputs.answer).toBe('answer for Tallest mountain: Everest');
    expect(lm.count()).toBe(before + 1);
    const prompt = (lm.requests.at(-1)!.body.messages ?? []).map((m) => textOf(m.content)).join('\n');
    expect(prompt).toContain('Capital of France? Paris');
    expect(prompt).toContain('answer for Colour of the sky: blue');
  });

  it.each([
    [
      'BootstrapFewShotWithRandomSearch',
      { max_bootstrapped_demos: 2, max_labeled_demos: 1, num_candidate_programs: 2 },
    ],
    ['COPRO', { breadth: 2, depth: 1 }],
    [
      'MIPROv2',
      { num_candidates: 2, num_trials: 2, max_bootstrapped_demos: 1, max_labeled_demos: 1, minibatch: false },
    ],
  ])(
    'runs %s over the wire (dspex.rpc.optimize.compile) with small settings',
    async (optimizer, settings) => {
      const h = natsHeaders();
      h.set('Dspex-Deadline', String(Date.now() + 120_000));
      const msg = await nc.request(
        'dspex.rpc.optimize.compile',
        encode({ optimizer, signature: 'question -> answer', trainset, metric, settings }, Encoding.Msgpack),
        { timeout: 125_000, headers: h },
      );
      expect(msg.headers?.get('Nats-Service-Error-Code') ?? '').toBe('');
      const reply = CompileReplySchema.parse(decode(msg.data, Encoding.Msgpack));
      expect(reply.status).toBe('completed');
      expect(reply.optimizer).toBe(optimizer);
      expect(reply.score).toBeCloseTo(0.5);
      expect(reply.evaluations).toBeGreaterThanOrEqual(trainset.length);
      expect(reply.state).toHaveProperty('signature.instructions');
    },
  );

  it('answers a bad compile request with a 400 naming the field', async () => {
    const msg = await nc.request(
      'dspex.rpc.optimize.compile',
      encode({ optimizer: 'GEPA', signature: 'question -> answer', trainset, metric }, Encoding.Msgpack),
      { timeout: 10_000 },
    );
    expect(msg.headers?.get('Nats-Service-Error-Code')).toBe('400');
    const body = decode(msg.data, Encoding.Msgpack) as { error: { details: { field: string } } };
    expect(body.error.details.field).toBe('optimizer');

    const unknownMetric = optimizerNode.optimizer.compile({
      optimizer: 'BootstrapFewShot',
      signature: 'question -> answer',
      trainset,
      metric: { name: 'not_registered' },
    });
    await expect(unknownMetric).rejects.toMatchObject({
      code: 'not_found',
      details: { field: 'metric.name' },
    });
  });

  it('reports progress and stops a long run on cancel', async () => {
    const events: OptimizeEvent[] = [];
    const run = optimizerNode.optimizer.compile(
      {
        optimizer: 'BootstrapFewShotWithRandomSearch',
        signature: 'question -> answer',
        trainset: Array.from({ length: 30 }, () => trainset).flat(),
        metric,
        settings: { num_candidate_programs: 50 },
        run_id: 'long-run',
      },
      { onProgress: (e) => events.push(e) },
    );
    await eventually(() => expect(events.some((e) => e.done > 0)).toBe(true), { timeoutMs: 60_000 });
    // Cancel from the other node, over the wire: any node forwards it to the worker running the run.
    const ack = await nc.request(
      'dspex.rpc.optimize.cancel',
      encode({ run_id: 'long-run' }, Encoding.Msgpack),
      {
        timeout: 10_000,
      },
    );
    expect(decode(ack.data, Encoding.Msgpack)).toMatchObject({ run_id: 'long-run', cancelled: true });
    const reply = await run;
    expect(reply.status).toBe('cancelled');
    expect(reply.state).toBeUndefined();
    expect(reply.evaluations).toBeLessThan(events.at(-1)!.total);
    await eventually(() => expect(events.at(-1)?.status).toBe('cancelled'));
    const progress = events.filter((e) => e.status === 'running').map((e) => e.done);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));

    await expect(servingNode.optimizer.cancel('long-run')).rejects.toMatchObject({ code: 'not_found' });
  });

  it('dspex optimize compile draws a progress bar and writes the variable through a node', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dspex-opt-'));
    const file = join(dir, 'train.json');
    await writeFile(file, JSON.stringify(trainset));
    const out: string[] = [];
    const err: string[] = [];
    const io = {
      stdout: (l: string) => out.push(l),
      stderr: (l: string) => err.push(l),
      env: {},
      onSignal: () => () => {},
    };
    const code = await main(
      [
        'optimize',
        'compile',
        '--nats',
        srv.url,
        '--optimizer',
        'BootstrapFewShot',
        '--signature',
        'question -> answer',
        '--trainset',
        file,
        '--metric',
        'contains:answer',
        '--settings',
        '{"max_bootstrapped_demos": 1, "max_labeled_demos": 0}',
        '--variable',
        'cli_program',
        '--run-id',
        'cli-run',
      ],
      io,
    );
    expect(err.join('\n')).toMatch(/\] 100% \d+\/\d+ best 0\.500 completed/);
    expect(code).toBe(0);
    expect(out[0]).toMatch(/^run cli-run: completed after \d+ evaluations$/);
    expect(out).toContain('score: 0.5000');
    const record = await servingNode.variables.get('cli_program', { consistency: 'latest' });
    expect((record.value as { demos: unknown[] }).demos).toHaveLength(1);

    const usage = await main(['optimize', 'compile', '--nats', srv.url, '--signature', 'q -> a'], io);
    expect(usage).toBe(2);
    expect(err.at(-2)).toContain('--optimizer is required');
    expect(await main(['optimize', 'cancel', 'no-such-run', '--nats', srv.url], io)).toBe(1);
    expect(err.at(-1)).toContain('not_found');
  });
});
