/**
 * Overload, as behaviour (the numbers are in `npm run bench -- overload`): a burst far above a
 * pool's capacity gets every call answered — OK, 429 with its reason, or 408 — and the pool keeps
 * serving; past `maxInflight` a node refuses before it even decodes a body.
 */
import { headers as natsHeaders, type NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Runtime } from '../../src/index.js';
import { decode, encode, Encoding } from '../../src/protocol/codec.js';
import { startNats, type NatsServer } from '../harness/nats.js';
import { startRuntime } from '../harness/runtime.js';

interface Outcome {
  status: number;
  reason?: unknown;
}

async function burst(nc: NatsConnection, bodies: Uint8Array[], deadlineMs: number): Promise<Outcome[]> {
  return Promise.all(
    bodies.map(async (data) => {
      const h = natsHeaders();
      h.set('Dspex-Deadline', String(Date.now() + deadlineMs));
      const msg = await nc.request('dspex.rpc.predict', data, { timeout: deadlineMs + 10_000, headers: h });
      const status = Number(msg.headers?.get('Nats-Service-Error-Code') || 0);
      const body = decode(msg.data, Encoding.Msgpack) as { error?: { details?: { reason?: unknown } } };
      return { status, reason: body.error?.details?.reason };
    }),
  );
}

const predict = (i: number): Uint8Array =>
  encode(
    { module: 'Predict', signature: 'question -> answer', inputs: { question: `burst ${i}` } },
    Encoding.Msgpack,
  );

const tally = (outcomes: Outcome[]): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const o of outcomes) {
    const key = o.status === 429 ? `429:${String(o.reason)}` : String(o.status);
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
};

describe('a burst far above capacity', () => {
  let srv: NatsServer;
  let rt: Runtime;
  let nc: NatsConnection;

  beforeAll(async () => {
    srv = await startNats();
    rt = await startRuntime(srv.url, {
      pools: { general: { size: 1, concurrency: 2, queueLimit: 40 } },
      maxInflight: 200,
    });
    nc = await connect({ servers: srv.url });
    // A few calls first, so the pool has a latency to estimate waits from.
    for (let i = 0; i < 10; i++)
      await rt.predict({ module: 'Predict', signature: 'q -> a', inputs: { q: `w${i}` } });
  });
  afterAll(async () => {
    await nc?.close();
    await rt?.stop();
    await srv?.stop();
  });

  it('answers every call: OK, 429 naming why, or 408; none is lost and the pool serves on', async () => {
    const outcomes = await burst(
      nc,
      Array.from({ length: 600 }, (_, i) => predict(i)),
      1500,
    );
    const counts = tally(outcomes);
    expect(outcomes).toHaveLength(600);
    for (const key of Object.keys(counts)) {
      expect(['0', '408', '429:queue_full', '429:deadline', '429:admission']).toContain(key);
    }
    expect(counts['0']).toBeGreaterThan(0);
    const refused = outcomes.filter((o) => o.status === 429).length;
    expect(refused).toBeGreaterThan(0);
    // The pool is not stuck behind the burst.
    const after = await rt.predict({ module: 'Predict', signature: 'q -> a', inputs: { q: 'after' } });
    expect(after.outputs.a).toBeTypeOf('string');
    expect(rt.status().pools[0]!.queue.length).toBe(0);
  });
});

describe('a node at maxInflight', () => {
  it('refuses requests past it before decoding them', async () => {
    // Its own server and node: one slot, a long queue and 20 requests in flight at most. Calls with a
    // long deadline queue up and hold their place; past 20, even a body that is not msgpack at all
    // gets 429 "admission", not 400.
    await using srv = await startNats();
    const rt = await startRuntime(srv.url, {
      pools: { general: { size: 1, concurrency: 1, queueLimit: 1000 } },
      maxInflight: 20,
    });
    const nc = await connect({ servers: srv.url });
    try {
      const garbage = new Uint8Array([0xc1, 0xc1, 0xc1]);
      const bodies = [...Array.from({ length: 60 }, (_, i) => predict(1000 + i)), garbage, garbage];
      const outcomes = await burst(nc, bodies, 60_000);
      const counts = tally(outcomes);
      expect(counts['429:admission']).toBeGreaterThan(0);
      expect(counts['0']).toBeGreaterThan(0);
      expect(outcomes.at(-1)).toEqual({ status: 429, reason: 'admission' });
      expect(Object.keys(counts).every((k) => ['0', '429:admission'].includes(k))).toBe(true);
      // Once the calls drained, the same garbage gets its 400.
      expect((await burst(nc, [garbage], 5000))[0]!.status).toBe(400);
    } finally {
      await nc.close();
      await rt.stop();
    }
  });
});
