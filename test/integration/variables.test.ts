import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { promisify } from 'node:util';
import { headers as natsHeaders, type NatsConnection } from '@nats-io/nats-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Predict, signature, type Runtime } from '../../src/index.js';
import { decode, encode, Encoding } from '../../src/protocol/codec.js';
import { ErrorReplySchema } from '../../src/protocol/schemas.js';
import {
  VarDescribeReplySchema,
  VarHistoryReplySchema,
  VarListReplySchema,
  VarRecordSchema,
} from '../../src/protocol/variables.js';
import { eventually } from '../harness/eventually.js';
import { client, startNats, type NatsServer } from '../harness/nats.js';
import { startRuntime, venvPython } from '../harness/runtime.js';

const run = promisify(execFile);
const natspy = new URL('./clients/natspy_call.py', import.meta.url).pathname;

/** What the fake LM saw of one chat completion request. */
interface SeenCall {
  temperature: unknown;
  system: string;
  user: string;
}

/**
 * A local OpenAI-compatible server the workers' real `dspy.LM` calls: it records each request's
 * temperature and prompts and answers in DSPy's chat-adapter format.
 */
async function startFakeLm(): Promise<{ url: string; calls: SeenCall[]; server: Server }> {
  const calls: SeenCall[] = [];
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const body = JSON.parse(raw) as {
        temperature?: unknown;
        messages: Array<{ role: string; content: string }>;
      };
      const text = (role: string) =>
        body.messages
          .filter((m) => m.role === role)
          .map((m) => m.content)
          .join('\n');
      calls.push({ temperature: body.temperature, system: text('system'), user: text('user') });
      const content = '[[ ## answer ## ]]\nfake answer\n\n[[ ## completed ## ]]';
      res.setHeader('Content-Type', 'application/json');
      res.end(
        JSON.stringify({
          id: `c${calls.length}`,
          object: 'chat.completion',
          created: Math.floor(Date.now() / 1000),
          model: 'fake',
          choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return { url: `http://127.0.0.1:${port}/v1`, calls, server };
}

describe('variables across two runtime nodes', () => {
  let srv: NatsServer;
  let a: Runtime;
  let b: Runtime;
  let nc: NatsConnection & AsyncDisposable;
  let lm: Awaited<ReturnType<typeof startFakeLm>>;

  beforeAll(async () => {
    srv = await startNats();
    lm = await startFakeLm();
    const pool = {
      size: 1,
      lm: 'openai/fake',
      env: { DSPEX_LM_API_BASE: lm.url, DSPEX_LM_API_KEY: 'test-key' },
    };
    a = await startRuntime(srv.url, { nodeId: 'node-a', pools: { general: pool } });
    b = await startRuntime(srv.url, { nodeId: 'node-b', pools: { other: pool } });
    nc = await client(srv.url);
  });
  afterAll(async () => {
    await nc?.close();
    await b?.stop();
    await a?.stop();
    await srv?.stop();
    lm?.server.close();
  });

  /** A request as any NATS client sends it; returns the status header and the decoded body. */
  async function wire(subject: string, body: unknown, encoding: Encoding = Encoding.Json) {
    const h = natsHeaders();
    if (encoding === Encoding.Json) h.set('Content-Type', 'application/json');
    const msg = await nc.request(`dspex.rpc.${subject}`, encode(body, encoding), {
      timeout: 10_000,
      headers: h,
    });
    return {
      status: msg.headers?.get('Nats-Service-Error-Code') ?? '',
      body: decode(msg.data, encoding) as Record<string, unknown>,
    };
  }

  it('refuses a stale compare-and-set with 409 and the current revision', async () => {
    const v = await a.variables.define({ name: 'cas', type: 'int', initial: 1 });
    const first = await v.get();
    const second = await b.variables.set('cas', 2, { revision: first.revision });
    await expect(a.variables.set('cas', 3, { revision: first.revision })).rejects.toMatchObject({
      code: 'revision_conflict',
      status: 409,
      details: { field: 'revision', reason: 'stale_revision', current_revision: second.revision },
    });
    const reply = await wire('var.set', { name: 'cas', value: 4, revision: first.revision });
    expect(reply.status).toBe('409');
    expect(reply.body.error).toMatchObject({
      code: 'revision_conflict',
      details: { current_revision: second.revision },
    });
    // With the current revision the write goes through.
    const ok = await wire('var.set', { name: 'cas', value: 4, revision: second.revision, by: 'wire' });
    expect(ok.status).toBe('');
    const record = VarRecordSchema.parse(ok.body);
    expect(record).toMatchObject({ value: 4, by: 'wire' });
    expect(record.node).toMatch(/^node-[ab]$/);
  });

  it('checks types and constraints on every node, naming the field', async () => {
    await a.variables.define({
      name: 'model',
      type: 'str',
      initial: 'gpt-a',
      constraints: { pattern: '^gpt-' },
    });
    await a.variables.define({
      name: 'even',
      type: z.number().int(),
      initial: 2,
      check: (n) => n % 2 === 0 || 'must be even',
    });
    await expect(b.variables.set('model', 'claude')).rejects.toMatchObject({
      code: 'validation_failed',
      details: { field: 'value' },
    });
    const bad = await wire('var.set', { name: 'model', value: 7 });
    expect(bad.status).toBe('422');
    expect(ErrorReplySchema.parse(bad.body).error.message).toMatch(/^value/);
    await expect(a.variables.set('even', 3)).rejects.toThrow('value: must be even');
    const missing = await wire('var.set', { name: 'nope', value: 1 });
    expect(missing.status).toBe('404');
    const badName = await wire('var.get', { name: 'a.b' });
    expect(badName.status).toBe('400');
    expect(ErrorReplySchema.parse(badName.body).error.details?.field).toBe('name');
  });

  it('propagates a derived variable to the other node when an input changes', async () => {
    await a.variables.define({ name: 'base', type: 'float', initial: 1 });
    await a.variables.define({ name: 'factor', type: 'float', initial: 2 });
    await a.variables.define<number>({
      name: 'product',
      type: 'float',
      derive: { from: ['base', 'factor'], fn: (i) => (i.base as number) * (i.factor as number) },
    });
    await a.variables.define<number>({
      name: 'product_plus',
      type: 'float',
      derive: { from: ['product'], fn: (i) => (i.product as number) + 1 },
    });
    const seen: unknown[] = [];
    const stop = b.variables.watch('product_plus', (r) => seen.push(r?.value));
    await b.variables.set('base', 5);
    await eventually(() => expect(seen).toContain(11));
    expect(b.variables.peek('product')?.value).toBe(10);
    stop();
    // Derived variables are written by their function only.
    await expect(b.variables.set('product', 1)).rejects.toMatchObject({ code: 'bad_request' });
    const got = await wire('var.get', { name: 'product_plus' });
    expect(got.body).toMatchObject({ value: 11, spec: { derived: { from: ['product'] } } });
  });

  it('rejects a dependency cycle with an error naming it', async () => {
    await a.variables.define({ name: 'c1', type: 'int', initial: 1 });
    await a.variables.define<number>({
      name: 'c2',
      type: 'int',
      derive: { from: ['c1'], fn: (i) => i.c1 as number },
    });
    await a.variables.define<number>({
      name: 'c3',
      type: 'int',
      derive: { from: ['c2'], fn: (i) => i.c2 as number },
    });
    // b learns c2 and c3 from the KV, not from local definitions: the cycle check sees them anyway.
    await eventually(() => expect(b.variables.peek('c3')).toBeDefined());
    await expect(
      b.variables.define<number>({
        name: 'c1',
        type: 'int',
        derive: { from: ['c3'], fn: (i) => i.c3 as number },
      }),
    ).rejects.toMatchObject({
      code: 'bad_request',
      message: 'dependency cycle: c1 -> c3 -> c2 -> c1',
      details: { cycle: ['c1', 'c3', 'c2', 'c1'] },
    });
    await expect(
      a.variables.define({ name: 'self', type: 'int', derive: { from: ['self'], fn: () => 1 } }),
    ).rejects.toThrow('dependency cycle: self -> self');
  });

  it('applies bound module parameters set on one node to the next call on the other, in both pools', async () => {
    await a.variables.define({ name: 'temp', type: 'float', initial: 0.1, constraints: { min: 0, max: 2 } });
    await a.variables.define({ name: 'qa_instructions', type: 'str', initial: 'Answer in one word.' });
    const binding = { instructions: 'qa_instructions', config: { temperature: 'temp' } };
    const onB = new Predict(signature('question -> answer'), {
      executor: b,
      pool: 'other',
      config: { cache: false },
      binding: b.variables.bind(binding),
    });
    const onA = new Predict(signature('question -> answer'), {
      executor: a,
      config: { cache: false },
      binding: a.variables.bind(binding),
    });
    await onB.call({ question: 'first?' });
    expect(lm.calls.at(-1)).toMatchObject({ temperature: 0.1 });
    expect(lm.calls.at(-1)?.system).toContain('Answer in one word.');

    // Set on node a; node b's next call (its own pool, its own worker) uses the new values.
    await a.variables.set('temp', 0.7, { by: 'test' });
    await a.variables.set('qa_instructions', 'Answer like a pirate.');
    await eventually(() => expect(b.variables.peek('qa_instructions')?.value).toBe('Answer like a pirate.'));
    const viaB = await onB.run({ question: 'second?' });
    expect(viaB.outputs.answer).toBe('fake answer');
    expect(lm.calls.at(-1)).toMatchObject({ temperature: 0.7 });
    expect(lm.calls.at(-1)?.system).toContain('Answer like a pirate.');
    expect(viaB.worker).toMatch(/other/);

    // And set on node b, seen by node a's module on the general pool.
    await b.variables.set('temp', 1.3);
    await eventually(() => expect(a.variables.peek('temp')?.value).toBe(1.3));
    const viaA = await onA.run({ question: 'third?' });
    expect(viaA.worker).toMatch(/general/);
    expect(lm.calls.at(-1)).toMatchObject({ temperature: 1.3 });

    // The bindings announced themselves: describe lists observers on both nodes.
    const d = await a.variables.describe('temp');
    expect(
      d.observers
        .filter((o) => o.kind === 'binding')
        .map((o) => o.node)
        .sort(),
    ).toEqual(['node-a', 'node-b']);
  });

  it('gives one writer at a time under a lease and refuses the others clearly', async () => {
    await a.variables.define({ name: 'lr', type: 'float', initial: 0.01 });
    const lease = await a.variables.acquire(['lr'], { holder: 'opt-1' });
    await a.variables.set('lr', 0.02, { lease, score: 0.5 });
    await expect(b.variables.set('lr', 0.03)).rejects.toMatchObject({
      code: 'revision_conflict',
      retryable: true,
      details: { reason: 'lease_held', holder: 'opt-1', node: 'node-a' },
    });
    await expect(b.variables.acquire('lr', { holder: 'opt-2' })).rejects.toMatchObject({
      details: { reason: 'lease_held', holder: 'opt-1' },
    });
    const wireRefused = await wire('var.lease.acquire', { names: ['lr'], holder: 'opt-3' });
    expect(wireRefused.status).toBe('409');
    // A waiter gets the lease once the holder releases it.
    const waiting = b.variables.acquire('lr', { holder: 'opt-2', waitMs: 10_000 });
    const describe = await b.variables.describe('lr');
    expect(describe.lease).toMatchObject({ holder: 'opt-1', node: 'node-a' });
    await lease.release();
    const second = await waiting;
    await b.variables.set('lr', 0.04, { lease: second, score: 0.7 });
    await expect(a.variables.set('lr', 0.05, { lease })).rejects.toMatchObject({
      details: { reason: 'lease_not_held' },
    });
    await second.release();
    const history = await a.variables.history('lr');
    expect(history.map((h) => [h.value, h.score, h.by])).toEqual([
      [0.01, undefined, undefined],
      [0.02, 0.5, 'opt-1'],
      [0.04, 0.7, 'opt-2'],
    ]);
  });

  it('serves var.define, list, history and describe to any NATS client, and announces changes', async () => {
    const defined = await wire('var.define', { name: 'w1', spec: { type: 'list[str]' }, value: ['x'] });
    expect(defined.status).toBe('');
    const events: Array<{ subject: string; body: unknown; revision: string | undefined }> = [];
    const sub = nc.subscribe('dspex.events.var.w1', {
      callback: (_err, msg) => {
        const revision = msg.headers?.get('Nats-Sequence');
        events.push({ subject: msg.subject, body: decode(msg.data, Encoding.Msgpack), revision });
      },
    });
    await nc.flush();
    const set = await wire(
      'var.set',
      { name: 'w1', value: ['y', 'z'], by: 'client', score: 1 },
      Encoding.Msgpack,
    );
    await eventually(() => expect(events).toHaveLength(1));
    expect(events[0]).toMatchObject({
      subject: 'dspex.events.var.w1',
      body: { name: 'w1', value: ['y', 'z'], by: 'client', score: 1 },
      revision: String(VarRecordSchema.parse(set.body).revision),
    });
    sub.unsubscribe();

    const list = await wire('var.list', { prefix: 'w' });
    expect(VarListReplySchema.parse(list.body).variables.map((v) => v.name)).toEqual(['w1']);
    const history = await wire('var.history', { name: 'w1', limit: 1 });
    const entries = VarHistoryReplySchema.parse(history.body).entries;
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ value: ['y', 'z'], score: 1, by: 'client', operation: 'PUT' });
    const old = await wire('var.get', { name: 'w1', revision: VarRecordSchema.parse(defined.body).revision });
    expect(old.body.value).toEqual(['x']);

    // A Python nats-py client reads it the same way (msgpack).
    const { stdout } = await run(
      venvPython,
      [natspy, srv.url, 'dspex.rpc.var.get', 'msgpack', '{"name":"w1"}'],
      {
        timeout: 60_000,
      },
    );
    expect((JSON.parse(stdout) as { body: unknown }).body).toMatchObject({ name: 'w1', value: ['y', 'z'] });

    const stop = b.variables.watch('w1', () => undefined, { id: 'dashboard' });
    await eventually(async () => {
      const described = await wire('var.describe', { name: 'w1' });
      expect(VarDescribeReplySchema.parse(described.body).observers).toContainEqual(
        expect.objectContaining({ id: 'dashboard', node: 'node-b' }),
      );
    });
    stop();
  });
});
