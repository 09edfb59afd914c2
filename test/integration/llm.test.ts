/**
 * The LLM layer in a runtime node with real DSPy workers: the workers reach the local
 * OpenAI-compatible server through `dspy.LM('openai/…', api_base=…)` (the real litellm path), the
 * node reaches it through the direct adapter, and both parse to the same typed outputs.
 */
import { Kvm } from '@nats-io/kv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMockLm } from '../../src/llm/mock.js';
import { decode, encode, Encoding } from '../../src/protocol/codec.js';
import { createClient, type Client } from '../../src/runtime/client.js';
import { createRuntime, type Runtime } from '../../src/runtime/runtime.js';
import type { PredictRequest } from '../../src/protocol/schemas.js';
import { eventually } from '../harness/eventually.js';
import { client, startNats, type NatsServer } from '../harness/nats.js';
import { startOpenAiServer, type OpenAiServer } from '../harness/openai-server.js';
import { startRuntime, testLogger } from '../harness/runtime.js';

const MODEL = 'openai/test-model';

async function counter(rt: Runtime, name: string, labels: Record<string, string>): Promise<number> {
  const metric = (await rt.metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
  const values = (metric?.values ?? []) as Array<{ labels: Record<string, string | number>; value: number }>;
  return values
    .filter((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want))
    .reduce((sum, v) => sum + v.value, 0);
}

describe('LLM adapters in a runtime node', () => {
  let srv: NatsServer;
  let lm: OpenAiServer;
  let rt: Runtime;
  let remote: Client;

  beforeAll(async () => {
    srv = await startNats();
    lm = await startOpenAiServer();
    rt = await startRuntime(srv.url, {
      pools: {
        general: {
          size: 1,
          lm: MODEL,
          // DSPy's own memory cache off, so every Python call reaches the server and is counted.
          env: { DSPEX_LM_API_BASE: lm.baseUrl, DSPEX_LM_API_KEY: 'x', DSPEX_MEMORY_CACHE: '0' },
        },
      },
      llm: { model: MODEL, apiBase: lm.baseUrl, cache: { kv: { bucket: 'llm_test_cache', ttlMs: 60_000 } } },
    });
    remote = await createClient({ servers: srv.url });
  });
  afterAll(async () => {
    await remote?.close();
    await rt?.stop();
    await lm?.close();
    await srv?.stop();
  });

  const typed = 'question: str, n: int -> answer: str, count: int, score: float, ok: bool, tags: list[str]';

  it('runs a DSPy worker against the local server through litellm', async () => {
    const before = lm.count();
    const reply = await rt.predict({
      module: 'Predict',
      signature: 'question -> answer',
      inputs: { question: 'Where is the Louvre?' },
      config: { adapter: 'python', cache: false },
    });
    expect(reply.outputs).toEqual({ answer: 'answer for Where is the Louvre?' });
    expect(reply.usage).toMatchObject({ adapter: 'python', cached: false });
    expect(reply.usage?.total_tokens).toBeGreaterThan(0);
    expect(lm.count() - before).toBe(1);
    const req = lm.requests.at(-1)!;
    expect(req.body.model).toBe('test-model');
    expect(req.headers.authorization).toBe('Bearer x');
    // DSPy's ChatAdapter prompt, not ours.
    expect(req.body.messages![0]!.content).toContain('[[ ## completed ## ]]');
  });

  it('gives the same typed outputs through the direct adapter and the Python bridge', async () => {
    for (const module of ['Predict', 'ChainOfThought']) {
      const request: PredictRequest = {
        module,
        signature: typed,
        inputs: { question: 'How many legs has a spider?', n: 8 },
      };
      const direct = await rt.predict({ ...request, config: { adapter: 'direct', cache: false } });
      const python = await rt.predict({ ...request, config: { adapter: 'python', cache: false } });
      expect(direct.usage?.adapter).toBe('direct');
      expect(python.usage?.adapter).toBe('python');
      expect(direct.outputs).toEqual(python.outputs);
      expect(direct.outputs).toMatchObject({
        count: 42,
        score: 0.5,
        ok: true,
        tags: ['tags for How many legs has a spider?'],
      });
      if (module === 'ChainOfThought') expect(Object.keys(direct.outputs)[0]).toBe('reasoning');
    }
  });

  it('sends a plain Predict direct and a ChainOfThought with demos to Python, visible in the metrics', async () => {
    const plain = await rt.predict({
      module: 'Predict',
      signature: 'question -> answer',
      inputs: { question: 'plain call' },
      config: { cache: false },
    });
    expect(plain.usage?.adapter).toBe('direct');
    expect(plain.worker).toBe(`direct:${rt.nodeId}`);
    const withDemos = await rt.predict({
      module: 'ChainOfThought',
      signature: 'question -> answer',
      inputs: { question: 'demo call' },
      demos: [{ question: 'q', reasoning: 'r', answer: 'a' }],
      config: { cache: false },
    });
    expect(withDemos.usage?.adapter).toBe('python');
    expect(
      await counter(rt, 'dspex_llm_selections_total', { adapter: 'direct', reason: 'eligible' }),
    ).toBeGreaterThan(0);
    expect(
      await counter(rt, 'dspex_llm_selections_total', { adapter: 'python', reason: 'demos' }),
    ).toBeGreaterThan(0);
    expect(rt.llm.health().direct?.samples).toBeGreaterThan(0);
  });

  it('answers a repeated predict over the wire from the node cache, without a worker or an LM call', async () => {
    const request: PredictRequest = {
      module: 'ChainOfThought',
      signature: 'question -> answer',
      inputs: { question: 'cached over the wire' },
      config: { adapter: 'python' },
    };
    const first = await remote.predict(request);
    expect(first.usage).toMatchObject({ adapter: 'python', cached: false });
    const workerCalls = await counter(rt, 'dspex_calls_total', { pool: 'general' });
    const lmCalls = lm.count();
    const hitsBefore = await counter(rt, 'dspex_llm_cache_total', {
      cache: 'predict',
      tier: 'memory',
      result: 'hit',
    });
    // The same content with its keys in another order is the same request.
    const second = await remote.predict({
      config: { adapter: 'python' },
      inputs: { question: 'cached over the wire' },
      signature: 'question -> answer',
      module: 'ChainOfThought',
    });
    expect(second.outputs).toEqual(first.outputs);
    expect(second.usage).toMatchObject({ adapter: 'python', cached: true });
    expect(await counter(rt, 'dspex_calls_total', { pool: 'general' })).toBe(workerCalls);
    expect(lm.count()).toBe(lmCalls);
    expect(
      await counter(rt, 'dspex_llm_cache_total', { cache: 'predict', tier: 'memory', result: 'hit' }),
    ).toBe(hitsBefore + 1);

    // config.cache: false goes to a worker again.
    const bypass = await remote.predict({ ...request, config: { adapter: 'python', cache: false } });
    expect(bypass.usage?.cached).toBe(false);
    expect(await counter(rt, 'dspex_calls_total', { pool: 'general' })).toBe(workerCalls + 1);
  });

  it('keeps a cached reply out of the front cache while the adapter is chosen by health', async () => {
    const body = encode(
      { module: 'Predict', signature: 'question -> answer', inputs: { question: 'direct, not front' } },
      Encoding.Msgpack,
    );
    const hits = (tier: string) =>
      counter(rt, 'dspex_llm_cache_total', { cache: 'predict', tier, result: 'hit' });
    const [front, memory] = [await hits('front'), await hits('memory')];
    for (let i = 0; i < 3; i++) {
      const msg = await remote.nc.request('dspex.rpc.predict', body, { timeout: 30_000 });
      const reply = decode(msg.data, Encoding.Msgpack) as { usage?: { adapter?: string; cached?: boolean } };
      expect(reply.usage).toMatchObject({ adapter: 'direct', cached: i > 0 });
    }
    // Answered from the result cache twice, never from the front: another choice would key another entry.
    expect(await hits('memory')).toBe(memory + 2);
    expect(await hits('front')).toBe(front);
  });

  it('still rejects bad requests with the same 4xx, cached or not', async () => {
    await expect(
      remote.predict({ module: 'Predict', signature: 'question -> answer', inputs: { question: 3 } }),
    ).rejects.toMatchObject({ code: 'validation_failed', details: { field: 'inputs.question' } });
    await expect(
      remote.predict({
        module: 'Predict',
        signature: 'question -> answer',
        inputs: { question: 'q' },
        config: { adapter: 'carrier-pigeon' },
      }),
    ).rejects.toMatchObject({ code: 'bad_request', details: { field: 'config.adapter' } });
  });

  it('shares cached results with another node through the JetStream KV bucket', async () => {
    const request: PredictRequest = {
      module: 'Predict',
      signature: 'question -> answer',
      inputs: { question: 'shared between nodes' },
      config: { adapter: 'python' },
    };
    await using nc = await client(srv.url);
    const bucket = await new Kvm(nc).open('llm_test_cache');
    const keys = async (): Promise<string[]> => {
      const out: string[] = [];
      for await (const key of await bucket.keys()) out.push(key);
      return out;
    };
    const before = new Set(await keys());
    const first = await rt.predict(request);
    // A second node with no workers of its own and the same bucket.
    await using other = await createRuntime({
      nats: { servers: srv.url },
      logger: testLogger(),
      serve: false,
      pools: { general: { size: 0, lm: MODEL } },
      llm: { cache: { kv: { bucket: 'llm_test_cache', ttlMs: 60_000 } } },
    });
    // The first node's write to the bucket is asynchronous: wait until its entry is there, then ask
    // the other node once.
    await eventually(async () => expect((await keys()).filter((k) => !before.has(k))).not.toEqual([]));
    const reply = await other.predict(request);
    expect(reply.outputs).toEqual(first.outputs);
    expect(reply.usage?.cached).toBe(true);
    expect(
      await counter(other, 'dspex_llm_cache_total', { cache: 'predict', tier: 'kv', result: 'hit' }),
    ).toBe(1);
    expect(await counter(other, 'dspex_calls_total', {})).toBe(0);
  });
});

describe('mock adapter in a runtime node', () => {
  it('answers every call from the script, with no worker and no LM', async () => {
    await using srv = await startNats();
    const mock = createMockLm({ answers: { France: { answer: 'Paris' }, '*': { answer: 'unknown' } } });
    await using rt = await createRuntime({
      nats: { servers: srv.url },
      logger: testLogger(),
      pools: { general: { size: 0 } },
      mock,
    });
    const paris = await rt.predict({
      module: 'Predict',
      signature: 'question -> answer',
      inputs: { question: 'Capital of France?' },
    });
    const other = await rt.predict({
      module: 'Predict',
      signature: 'question -> answer',
      inputs: { question: 'Capital of Peru?' },
    });
    expect(paris.outputs).toEqual({ answer: 'Paris' });
    expect(other.outputs).toEqual({ answer: 'unknown' });
    expect(paris.usage?.adapter).toBe('mock');
    expect(mock.calls).toHaveLength(2);
  });
});
