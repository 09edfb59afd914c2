import type { NatsConnection } from '@nats-io/nats-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DspexError,
  ErrorCode,
  fn,
  from,
  input,
  pipeline,
  predict,
  transform,
  value,
  type PipelineEvent,
  type Runtime,
} from '../../src/index.js';
import { decode, Encoding } from '../../src/protocol/codec.js';
import { eventually } from '../harness/eventually.js';
import { client } from '../harness/nats.js';
import { sharedNode } from '../harness/shared-node.js';
import { callJson } from '../harness/wire.js';

async function collect(run: AsyncIterable<PipelineEvent>): Promise<PipelineEvent[]> {
  const events: PipelineEvent[] = [];
  for await (const event of run) events.push(event);
  return events;
}

describe('pipelines on a runtime node with real DSPy workers', () => {
  let rt: Runtime;
  let nc: NatsConnection & AsyncDisposable;

  beforeAll(async () => {
    const shared = await sharedNode();
    rt = shared.rt;
    nc = await client(shared.url);
  });
  afterAll(async () => {
    await nc?.close();
  });

  it('runs independent stages in parallel and wires outputs into a DSPy stage', async () => {
    const entered = new Set<string>();
    let bothRan!: () => void;
    const both = new Promise<void>((r) => (bothRan = r));
    // Each side waits until the other has started: the run only finishes if they overlap.
    const side = (name: string) => async () => {
      entered.add(name);
      if (entered.size === 2) bothRan();
      await Promise.race([
        both,
        new Promise((_, reject) => setTimeout(() => reject(new Error(`${name} ran alone`)), 10_000)),
      ]);
      return { text: `from ${name}` };
    };
    const p = pipeline('parallel')
      .stage('left', fn(side('left')))
      .stage('right', fn(side('right')))
      .stage('joined', transform('template', { template: '{a} and {b}' }), {
        inputs: { a: from('left', 'text'), b: from('right', 'text') },
      })
      .stage('answer', predict('Predict', 'question -> answer'), {
        inputs: { question: from('joined', 'text') },
      });
    const run = await rt.pipelines.run(p, {});
    const events = await collect(run);
    const record = await run.result();
    expect(record.status).toBe('completed');
    expect(record.outputs).toEqual({ answer: { answer: 'answer for from left and from right' } });
    const started = events
      .filter((e) => e.type === 'stage.started')
      .map((e) => (e as { stage: string }).stage);
    expect(started.slice(0, 2).sort()).toEqual(['left', 'right']);
    expect(events.at(-1)?.type).toBe('run.completed');
  });

  it('fans a DSPy stage out over a list with a concurrency bound', async () => {
    let running = 0;
    let peak = 0;
    rt.pipelines.register('slow-echo', async (inputs) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 100));
      running--;
      return { question: `q${String(inputs.n)}` };
    });
    const p = pipeline('fanout')
      .stage('split', transform('split', { separator: ',' }), { inputs: { text: input('numbers') } })
      .stage('prepare', fn('slow-echo'), {
        inputs: { n: from('split', 'items') },
        map: { over: 'n', concurrency: 3 },
      })
      .stage('answer', predict('Predict', 'question -> answer'), {
        inputs: { question: from('prepare', 'question') },
        map: { over: 'question', concurrency: 4 },
      });
    const run = await rt.pipelines.run(p, { numbers: '1,2,3,4,5,6,7,8' });
    const record = await run.result();
    run.close();
    expect(record.status).toBe('completed');
    expect(peak).toBe(3);
    expect(record.stages?.answer?.answer).toEqual([1, 2, 3, 4, 5, 6, 7, 8].map((n) => `answer for q${n}`));
  });

  it('retries retryable failures, times out attempts and does not retry other errors', async () => {
    const attempts = { flaky: 0, hang: 0, broken: 0 };
    let aborted = 0;
    rt.pipelines.register('flaky', () => {
      attempts.flaky++;
      if (attempts.flaky < 3) throw new DspexError(ErrorCode.Unavailable, 'try again');
      return { ok: true };
    });
    rt.pipelines.register('hang', (_inputs, ctx) => {
      attempts.hang++;
      return new Promise((_, reject) =>
        ctx.signal.addEventListener('abort', () => {
          aborted++;
          reject(new Error('aborted'));
        }),
      );
    });
    rt.pipelines.register('broken', () => {
      attempts.broken++;
      throw new Error('a bug');
    });
    const p = pipeline('retries')
      .stage('flaky', fn('flaky'), { retries: 2, backoffMs: 10 })
      .stage('hang', fn('hang'), { timeoutMs: 200, retries: 1, backoffMs: 10 })
      .stage('broken', fn('broken'), { retries: 3 })
      .policy('continue');
    const run = await rt.pipelines.run(p);
    const events = await collect(run);
    const record = await run.result();
    expect(record.status).toBe('partial');
    expect(attempts).toEqual({ flaky: 3, hang: 2, broken: 1 });
    expect(aborted).toBe(2);
    const retrying = events
      .filter((e) => e.type === 'stage.retrying')
      .map((e) => (e as { stage: string }).stage);
    expect(retrying.sort()).toEqual(['flaky', 'flaky', 'hang']);
    const failures = Object.fromEntries(record.failures!.map((f) => [f.stage, f.error.code]));
    expect(failures).toEqual({ hang: 'deadline_exceeded', broken: 'internal' });
    expect(record.stages?.flaky).toEqual({ ok: true });
  });

  it('continues past a failure with partial results, or fails fast and stops the other stages', async () => {
    let stopped = 0;
    rt.pipelines.register('fail', () => {
      throw new DspexError(ErrorCode.ValidationFailed, 'bad data');
    });
    rt.pipelines.register('wait-for-abort', (_i, ctx) => {
      return new Promise((resolve) => {
        const timer = setTimeout(() => resolve({ done: true }), 1500);
        ctx.signal.addEventListener('abort', () => {
          stopped++;
          clearTimeout(timer);
        });
      });
    });
    const base = pipeline('policies')
      .stage('a', transform('identity'), { inputs: { x: value(1) } })
      .stage('b', fn('fail'), { inputs: { x: from('a', 'x') } })
      .stage('c', transform('identity'), { inputs: { y: from('b') } })
      .stage('d', fn('wait-for-abort'));

    const partial = await (await rt.pipelines.run(base.policy('continue'))).result();
    expect(partial.status).toBe('partial');
    expect(partial.failures?.map((f) => [f.stage, f.error.code])).toEqual([['b', 'validation_failed']]);
    expect(partial.failures?.[0]?.error.message).toContain('stage "b"');
    expect(partial.skipped).toEqual(['c']);
    expect(Object.keys(partial.stages!).sort()).toEqual(['a', 'd']);

    const failed = await (await rt.pipelines.run(base)).result();
    expect(failed.status).toBe('failed');
    expect(failed.error?.code).toBe('validation_failed');
    expect(failed.skipped?.sort()).toEqual(['c', 'd']);
    expect(stopped).toBe(1);
  });

  it('runs a pipeline sent over the wire and streams its events to a plain NATS subscriber', async () => {
    const runId = `wire-${Date.now()}`;
    const sub = nc.subscribe(`dspex.pipeline.${runId}.events`);
    const events: PipelineEvent[] = [];
    const done = (async () => {
      for await (const m of sub) {
        const e = decode(m.data, Encoding.Msgpack) as PipelineEvent;
        events.push(e);
        if (e.type === 'run.completed' || e.type === 'run.failed') break;
      }
    })();
    const reply = await callJson(nc, 'dspex.rpc.pipeline.run', {
      run_id: runId,
      inputs: { topic: 'tides' },
      pipeline: {
        name: 'wire',
        stages: [
          {
            id: 'ask',
            kind: 'transform',
            op: 'template',
            args: { template: 'Why {t}?' },
            inputs: { t: { input: 'topic' } },
          },
          {
            id: 'cot',
            kind: 'predict',
            module: 'ChainOfThought',
            signature: 'question -> answer',
            inputs: { question: { stage: 'ask', output: 'text' } },
          },
        ],
        outputs: { answer: { stage: 'cot', output: 'answer' } },
      },
    });
    expect(reply).toEqual({ status: 0, body: { run_id: runId, events: `dspex.pipeline.${runId}.events` } });
    await done;
    expect(events.map((e) => e.type)).toEqual([
      'run.started',
      'stage.started',
      'stage.completed',
      'progress',
      'stage.started',
      'stage.completed',
      'progress',
      'run.completed',
    ]);
    expect(events[2]).toMatchObject({ stage: 'ask', outputs: { text: 'Why tides?' } });
    expect(events[6]).toMatchObject({ done: 2, total: 2, eta_ms: 0 });
    expect(events.at(-1)).toMatchObject({
      status: 'completed',
      outputs: { answer: 'answer for Why tides?' },
    });
    const got = await callJson(nc, 'dspex.rpc.pipeline.get', { run_id: runId });
    expect(got.body).toMatchObject({
      status: 'completed',
      attempt: 1,
      outputs: { answer: 'answer for Why tides?' },
    });
  });

  it('rejects cycles, dangling references and unknown functions before running, naming the stage', async () => {
    const stage = (id: string, reads: string) => ({
      id,
      kind: 'transform',
      op: 'identity',
      inputs: { x: { stage: reads } },
    });
    const cycle = await callJson(nc, 'dspex.rpc.pipeline.run', {
      pipeline: { name: 'c', stages: [stage('a', 'c'), stage('b', 'a'), stage('c', 'b')] },
    });
    expect(cycle.status).toBe(422);
    expect(cycle.body.error!.message).toContain('dependency cycle: a → b → c → a');
    expect(cycle.body.error!.details).toMatchObject({ field: 'pipeline.stages.0', stage: 'a' });

    const dangling = await callJson(nc, 'dspex.rpc.pipeline.run', {
      pipeline: { name: 'd', stages: [stage('a', 'nowhere')] },
    });
    expect(dangling.status).toBe(422);
    expect(dangling.body.error!.details).toMatchObject({ field: 'pipeline.stages.0.inputs.x', stage: 'a' });

    const output = await callJson(nc, 'dspex.rpc.pipeline.run', {
      pipeline: {
        name: 'o',
        stages: [
          { id: 'p', kind: 'predict', module: 'Predict', signature: 'q -> a', inputs: { q: { value: 'x' } } },
          { id: 'u', kind: 'transform', op: 'identity', inputs: { x: { stage: 'p', output: 'answer' } } },
        ],
      },
    });
    expect(output.status).toBe(422);
    expect(output.body.error!.message).toContain('reads output "answer" of stage "p", which produces a');

    const unknownFn = await callJson(nc, 'dspex.rpc.pipeline.run', {
      pipeline: { name: 'f', stages: [{ id: 'x', kind: 'fn', fn: 'not-registered' }] },
    });
    expect(unknownFn.status).toBe(404);
    expect(unknownFn.body.error!.details).toMatchObject({ field: 'pipeline.stages.0.fn', stage: 'x' });

    const badShape = await callJson(nc, 'dspex.rpc.pipeline.run', {
      pipeline: { name: 'b', stages: [{ id: 'x', kind: 'teleport' }] },
    });
    expect(badShape.status).toBe(400);
    expect(badShape.body.error?.details).toMatchObject({ field: 'pipeline.stages.0.kind' });

    const missingInput = await callJson(nc, 'dspex.rpc.pipeline.run', {
      pipeline: {
        name: 'm',
        stages: [{ id: 'x', kind: 'transform', op: 'identity', inputs: { q: { input: 'question' } } }],
      },
      inputs: {},
    });
    expect(missingInput.status).toBe(422);
    expect(missingInput.body.error?.details).toMatchObject({ field: 'inputs.question' });

    // A DSL pipeline with an inline function cannot be sent as a durable (wire) run.
    const inline = pipeline('inline').stage(
      'x',
      fn(() => ({ y: 1 })),
    );
    await expect(rt.pipelines.run(inline, {}, { durable: true })).rejects.toMatchObject({
      code: 'validation_failed',
      details: { field: 'pipeline.stages.0.fn' },
    });
    expect(() => inline.toJSON()).toThrow(/inline function/);
    await eventually(() => expect(rt.pipelines.running).toEqual([]));
  });
});
