import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { headers as natsHeaders, type NatsConnection } from '@nats-io/nats-core';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import {
  ChainOfThought,
  createClient,
  DspexError,
  Predict,
  signature,
  type Client,
  type Runtime,
} from '../../src/index.js';
import { decode, encode, Encoding } from '../../src/protocol/codec.js';
import { client } from '../harness/nats.js';
import { venvPython } from '../harness/runtime.js';
import { sharedNode } from '../harness/shared-node.js';

const run = promisify(execFile);
const natspy = new URL('./clients/natspy_call.py', import.meta.url).pathname;

interface NatsPyReply {
  status: string | null;
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

async function natsPyCall(
  url: string,
  subject: string,
  encoding: 'json' | 'msgpack',
  body: unknown,
): Promise<NatsPyReply> {
  const { stdout } = await run(venvPython, [natspy, url, subject, encoding, JSON.stringify(body)], {
    timeout: 60_000,
  });
  return JSON.parse(stdout) as NatsPyReply;
}

describe('predict over the wire', () => {
  let url: string;
  let rt: Runtime;
  let nc: NatsConnection & AsyncDisposable;
  let remote: Client;

  beforeAll(async () => {
    // The run's shared node: the default pool, the default 1 MiB payload limit.
    ({ url, rt } = await sharedNode());
    nc = await client(url);
    remote = await createClient({ nc });
  });
  afterAll(async () => {
    await nc?.close();
  });

  /** A raw request as any NATS client would send it; returns status header and decoded body. */
  async function raw(body: Uint8Array, encoding: Encoding = Encoding.Msgpack, subject = 'dspex.rpc.predict') {
    const h = natsHeaders();
    if (encoding === Encoding.Json) h.set('Content-Type', 'application/json');
    const msg = await nc.request(subject, body, { timeout: 30_000, headers: h });
    return {
      status: msg.headers?.get('Nats-Service-Error-Code') ?? '',
      description: msg.headers?.get('Nats-Service-Error') ?? '',
      body: decode(msg.data, encoding) as {
        error?: { code: string; message: string; retryable: boolean; details?: { field?: string } };
      },
    };
  }

  it('runs a ChainOfThought from the TS API with typed outputs', async () => {
    const cot = new ChainOfThought(
      signature('question: str, context: list[str] -> answer: str, confidence: float'),
      {
        executor: rt,
      },
    );
    const out = await cot.call({ question: 'What is 2+2?', context: ['arithmetic'] });
    expectTypeOf(out).toEqualTypeOf<{ reasoning: string } & { answer: string; confidence: number }>();
    expect(typeof out.reasoning).toBe('string');
    expect(out.reasoning.length).toBeGreaterThan(0);
    expect(typeof out.answer).toBe('string');
    expect(typeof out.confidence).toBe('number');
  });

  it('answers the same ChainOfThought call identically from the TS API and from nats-py in JSON and msgpack', async () => {
    const request = {
      module: 'ChainOfThought',
      signature: 'question -> answer',
      inputs: { question: 'Name a prime number.' },
    };
    const fromTs = await rt.predict(request);
    const fromJson = await natsPyCall(url, 'dspex.rpc.predict', 'json', request);
    const fromMsgpack = await natsPyCall(url, 'dspex.rpc.predict', 'msgpack', request);
    expect(fromJson.status).toBeNull();
    expect(fromJson.headers['Content-Type']).toBe('application/json');
    expect(fromMsgpack.status).toBeNull();
    expect(Object.keys(fromTs.outputs)).toEqual(['reasoning', 'answer']);
    expect(fromJson.body.outputs).toEqual(fromTs.outputs);
    expect(fromMsgpack.body.outputs).toEqual(fromTs.outputs);
  });

  it('runs Predict through the remote client and reports the worker and latency', async () => {
    const qa = new Predict(signature('question -> answer'), { executor: remote });
    const result = await qa.run({ question: 'Hello?' });
    expect(result.outputs.answer).toEqual(expect.any(String));
    expect(result.worker).toMatch(/^general-/);
    expect(result.latencyMs).toBeGreaterThanOrEqual(0);
  });

  it('answers $SRV.PING and $SRV.INFO for the dspex service', async () => {
    const ping = await nc.request('$SRV.PING.dspex', '', { timeout: 5000 });
    expect(ping.json<{ name: string }>().name).toBe('dspex');
    const info = (await nc.request('$SRV.INFO.dspex', '', { timeout: 5000 })).json<{
      endpoints: Array<{ subject: string }>;
    }>();
    const subjects = info.endpoints.map((e) => e.subject);
    for (const subject of [
      'dspex.rpc.predict',
      'dspex.rpc.status',
      'dspex.rpc.var.get',
      'dspex.rpc.pipeline.run',
    ]) {
      expect(subjects).toContain(subject);
    }
    expect(subjects.every((s) => s.startsWith('dspex.rpc.'))).toBe(true);
  });

  it('rejects a body that is not msgpack with 400 and keeps serving', async () => {
    const r = await raw(new Uint8Array([0xc1, 0xc1, 0xc1]));
    expect(r.status).toBe('400');
    expect(r.body.error).toMatchObject({ code: 'bad_request', retryable: false, details: { field: 'body' } });
    const j = await raw(new TextEncoder().encode('{not json'), Encoding.Json);
    expect(j.status).toBe('400');
    expect(j.body.error?.message).toMatch(/json/);
  });

  it('names the missing field of a malformed request', async () => {
    const r = await raw(encode({ module: 'Predict', inputs: { question: 'x' } }, Encoding.Msgpack));
    expect(r.status).toBe('400');
    expect(r.body.error?.details?.field).toBe('signature');
  });

  it('rejects an unknown module with 404 naming it', async () => {
    const r = await raw(
      encode({ module: 'Telepathy', signature: 'q -> a', inputs: { q: 'x' } }, Encoding.Json),
      Encoding.Json,
    );
    expect(r.status).toBe('404');
    expect(r.body.error).toMatchObject({ code: 'not_found', details: { field: 'module' } });
    expect(r.body.error?.message).toContain('Telepathy');
  });

  it('rejects a missing input field with 422 naming it', async () => {
    const r = await raw(
      encode(
        { module: 'Predict', signature: 'question, context -> answer', inputs: { question: 'x' } },
        Encoding.Msgpack,
      ),
    );
    expect(r.status).toBe('422');
    expect(r.body.error).toMatchObject({ code: 'validation_failed', details: { field: 'inputs.context' } });
  });

  it('rejects a wrongly typed input with 422 saying what was expected', async () => {
    const r = await raw(
      encode(
        {
          module: 'Predict',
          signature: 'question: str, n: int -> answer',
          inputs: { question: 'x', n: 'three' },
        },
        Encoding.Msgpack,
      ),
    );
    expect(r.status).toBe('422');
    expect(r.body.error?.details?.field).toBe('inputs.n');
    expect(r.body.error?.message).toMatch(/int/);
  });

  it('rejects a malformed signature with 400 naming the column', async () => {
    const r = await raw(
      encode(
        { module: 'Predict', signature: 'question answer', inputs: { question: 'x' } },
        Encoding.Msgpack,
      ),
    );
    expect(r.status).toBe('400');
    expect(r.body.error?.details?.field).toBe('signature');
    expect(r.body.error?.message).toMatch(/column/);
  });

  it('rejects a payload over the limit with 400 and keeps serving', async () => {
    const big = {
      module: 'Predict',
      signature: 'question -> answer',
      inputs: { question: 'x'.repeat(1024 * 1024 + 1) },
    };
    const r = await raw(encode(big, Encoding.Msgpack));
    expect(r.status).toBe('400');
    expect(r.body.error).toMatchObject({ code: 'payload_too_large', details: { field: 'body' } });
    const ok = await rt.predict({
      module: 'Predict',
      signature: 'question -> answer',
      inputs: { question: 'still there?' },
    });
    expect(ok.outputs.answer).toEqual(expect.any(String));
  });

  it('answers 408 when the deadline has already passed', async () => {
    const h = natsHeaders();
    h.set('Dspex-Deadline', String(Date.now() - 1000));
    const msg = await nc.request(
      'dspex.rpc.predict',
      encode({ module: 'Predict', signature: 'q -> a', inputs: { q: 'x' } }, Encoding.Msgpack),
      {
        timeout: 5000,
        headers: h,
      },
    );
    expect(msg.headers?.get('Nats-Service-Error-Code')).toBe('408');
    expect((decode(msg.data, Encoding.Msgpack) as { error: { retryable: boolean } }).error.retryable).toBe(
      true,
    );
  });

  it('surfaces wire errors as DspexError with code and retryable from the client', async () => {
    const error = await remote
      .predict({ module: 'Nope', signature: 'q -> a', inputs: { q: 'x' } })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DspexError);
    expect(error).toMatchObject({ code: 'not_found', retryable: false, status: 404 });
  });

  it('reports nodes, pools and workers in status', async () => {
    const status = await remote.status();
    expect(status.nodes.map((n) => n.id)).toContain(rt.nodeId);
    const general = status.pools.find((p) => p.name === 'general');
    expect(general?.workers.filter((w) => w.state === 'ready' || w.state === 'busy')).toHaveLength(2);
    expect(general?.workers.every((w) => w.managed && w.node === rt.nodeId)).toBe(true);
  });
});
