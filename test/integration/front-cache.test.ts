/**
 * The front cache in a runtime node with a real DSPy worker (DummyLM): encoded predict replies kept
 * by the exact request bytes and answered at the edge, and every case that must not be answered
 * from it. Requests are sent as raw bytes, as any NATS client sends them.
 */
import { headers as natsHeaders, type Msg, type NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { tool } from '../../src/index.js';
import { decode, encode, Encoding } from '../../src/protocol/codec.js';
import { Header } from '../../src/protocol/headers.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { startNats, type NatsServer } from '../harness/nats.js';
import { startRuntime } from '../harness/runtime.js';

const SUBJECT = 'dspex.rpc.predict';

async function counter(rt: Runtime, name: string, labels: Record<string, string>): Promise<number> {
  const metric = (await rt.metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
  const values = (metric?.values ?? []) as Array<{ labels: Record<string, string | number>; value: number }>;
  return values
    .filter((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want))
    .reduce((sum, v) => sum + v.value, 0);
}

interface Counts {
  front: number;
  memory: number;
  worker: number;
}

describe('the front cache of predict replies', () => {
  let srv: NatsServer;
  let rt: Runtime;
  let nc: NatsConnection;

  beforeAll(async () => {
    srv = await startNats();
    rt = await startRuntime(srv.url, { pools: { general: { size: 1 } } });
    nc = await connect({ servers: srv.url });
  });
  afterAll(async () => {
    await nc?.close();
    await rt?.stop();
    await srv?.stop();
  });

  const counts = async (): Promise<Counts> => ({
    front: await counter(rt, 'dspex_llm_cache_total', { cache: 'predict', tier: 'front', result: 'hit' }),
    memory: await counter(rt, 'dspex_llm_cache_total', { cache: 'predict', tier: 'memory', result: 'hit' }),
    worker: await counter(rt, 'dspex_calls_total', { pool: 'general', outcome: 'ok' }),
  });

  const send = (body: Uint8Array, headers: Record<string, string> = {}): Promise<Msg> => {
    const h = natsHeaders();
    for (const [k, v] of Object.entries(headers)) h.set(k, v);
    return nc.request(SUBJECT, body, {
      timeout: 30_000,
      ...(Object.keys(headers).length > 0 && { headers: h }),
    });
  };
  const packed = (value: unknown): Uint8Array => encode(value, Encoding.Msgpack);
  const reply = (msg: Msg, encoding: Encoding = Encoding.Msgpack) =>
    decode(msg.data, encoding) as { outputs?: Record<string, unknown>; usage?: { cached?: boolean } };
  const status = (msg: Msg): string => msg.headers?.get(Header.ErrorCode) ?? '';

  /** Sends `body` until a result cache hit has put it in the front cache (two calls: a miss, a hit). */
  const prime = async (body: Uint8Array, headers: Record<string, string> = {}): Promise<Msg> => {
    const encoding = headers[Header.ContentType] === undefined ? Encoding.Msgpack : Encoding.Json;
    const first = await send(body, headers);
    expect(status(first)).toBe('');
    expect(reply(first, encoding).usage?.cached).toBe(false);
    const second = await send(body, headers);
    expect(reply(second, encoding).usage?.cached).toBe(true);
    return second;
  };

  it('answers the same request bytes from the front cache, with the bytes the result cache gave', async () => {
    const body = packed({
      module: 'Predict',
      signature: 'question -> answer',
      inputs: { question: 'front 1' },
    });
    const sizeBefore = rt.llm.frontCacheSize();
    const cachedReply = await prime(body, { [Header.Deadline]: String(Date.now() + 60_000) });
    expect(rt.llm.frontCacheSize()).toBe(sizeBefore + 1);
    const before = await counts();
    // A deadline still ahead does not change the answer; a later one is a different header only.
    const third = await send(body, { [Header.Deadline]: String(Date.now() + 30_000) });
    const fourth = await send(body);
    expect(Buffer.from(third.data)).toEqual(Buffer.from(cachedReply.data));
    expect(Buffer.from(fourth.data)).toEqual(Buffer.from(cachedReply.data));
    expect(reply(fourth).outputs?.answer).toEqual(expect.any(String));
    expect(await counts()).toEqual({ ...before, front: before.front + 2 });
    // A msgpack reply without a trace carries no header block at all.
    expect(fourth.headers).toBeUndefined();
  });

  it('keeps JSON and msgpack requests apart and answers JSON with its content type', async () => {
    const request = {
      module: 'Predict',
      signature: 'question -> answer',
      inputs: { question: 'front json' },
    };
    const json = new TextEncoder().encode(JSON.stringify(request));
    const asJson = { [Header.ContentType]: 'application/json' };
    await prime(json, asJson);
    const before = await counts();
    const hit = await send(json, asJson);
    expect(hit.headers?.get(Header.ContentType)).toBe('application/json');
    expect(reply(hit, Encoding.Json).usage?.cached).toBe(true);
    expect((await counts()).front).toBe(before.front + 1);
    // The same request in msgpack is a first call for the front cache (a result cache hit).
    const msgpack = await send(packed(request));
    expect(reply(msgpack).usage?.cached).toBe(true);
    expect(await counts()).toEqual({ ...before, front: before.front + 1, memory: before.memory + 1 });
  });

  it('goes the whole way for a trace, a session, or a deadline that passed or does not parse', async () => {
    const body = packed({
      module: 'Predict',
      signature: 'question -> answer',
      inputs: { question: 'front 2' },
    });
    await prime(body);
    let before = await counts();

    const traced = await send(body, { [Header.Trace]: 'trace-front-2' });
    expect(traced.headers?.get(Header.Trace)).toBe('trace-front-2');
    expect(reply(traced).usage?.cached).toBe(true);
    expect(await counts()).toEqual({ ...before, memory: before.memory + 1 });

    before = await counts();
    const session = await send(body, { [Header.Session]: 'front-session' });
    expect(reply(session).usage?.cached).toBe(true);
    expect(await counts()).toEqual({ ...before, memory: before.memory + 1 });

    const late = await send(body, { [Header.Deadline]: String(Date.now() - 1000) });
    expect(status(late)).toBe('408');
    const garbled = await send(body, { [Header.Deadline]: 'Infinity' });
    expect(status(garbled)).toBe('400');
    // The bytes are still answered from the front once the headers allow it.
    before = await counts();
    await send(body);
    expect((await counts()).front).toBe(before.front + 1);
  });

  it('never keeps replies of sessions, uncached calls or calls that run node code', async () => {
    const echo = tool({
      name: 'front_echo',
      description: 'Echoes text',
      args: z.object({ text: z.string() }),
      run: ({ text }) => `echo: ${text}`,
    });
    rt.tools.register(echo);
    const cases = {
      session: packed({
        module: 'Predict',
        signature: 'question -> answer',
        inputs: { question: 'front 3' },
        session: 'front-body-session',
      }),
      uncached: packed({
        module: 'Predict',
        signature: 'question -> answer',
        inputs: { question: 'front 4' },
        config: { cache: false },
      }),
      tools: packed({
        module: 'ReAct',
        signature: 'question -> answer',
        inputs: { question: 'front 5' },
        tools: [echo.spec()],
        config: {
          dummy_script: [
            { next_thought: 'echo', next_tool_name: 'front_echo', next_tool_args: { text: 'hi' } },
            { next_thought: 'done', next_tool_name: 'finish', next_tool_args: {} },
            { reasoning: 'r', answer: 'hi' },
          ],
        },
      }),
    };
    const size = rt.llm.frontCacheSize();
    for (const [name, body] of Object.entries(cases)) {
      const before = await counts();
      for (let i = 0; i < 3; i++) expect(status(await send(body)), name).toBe('');
      const after = await counts();
      expect(after.front, name).toBe(before.front);
      // A session still uses the result cache; the others reach a worker every time.
      if (name === 'session') expect(after.memory, name).toBe(before.memory + 2);
      else expect(after.worker, name).toBe(before.worker + 3);
    }
    expect(rt.llm.frontCacheSize()).toBe(size);
  });

  it('is emptied with the result cache', async () => {
    const body = packed({
      module: 'Predict',
      signature: 'question -> answer',
      inputs: { question: 'front 6' },
    });
    await prime(body);
    expect(rt.llm.frontCacheSize()).toBeGreaterThan(0);
    rt.llm.clearCache();
    expect(rt.llm.frontCacheSize()).toBe(0);
    expect(rt.llm.cacheSize()).toBe(0);
    const before = await counts();
    const again = await send(body);
    expect(reply(again).usage?.cached).toBe(false);
    expect(await counts()).toEqual({ ...before, worker: before.worker + 1 });
  });
});
