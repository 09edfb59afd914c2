import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Runtime } from '../../src/index.js';
import { createClient, type Client } from '../../src/runtime/client.js';
import { client, startNats, type NatsServer } from '../harness/nats.js';
import { startRuntime } from '../harness/runtime.js';
import { eventually } from '../harness/eventually.js';
import { decode, Encoding } from '../../src/protocol/codec.js';
import { CallBatchSchema, type CallBatch } from '../../src/protocol/events.js';

interface EndpointStats {
  name: string;
  num_requests: number;
  num_errors: number;
  processing_time: number;
  average_processing_time: number;
  last_error?: string;
}

describe('$SRV.STATS of the dspex service', () => {
  let srv: NatsServer;
  let rt: Runtime;
  let caller: Client;
  const DELAY_MS = 150;

  beforeAll(async () => {
    srv = await startNats();
    rt = await startRuntime(srv.url, {
      pools: { general: { size: 1, env: { DSPEX_DUMMY_DELAY_MS: String(DELAY_MS) } } },
      metrics: { callEvents: true },
    });
    caller = await createClient({ servers: srv.url });
  });

  afterAll(async () => {
    await caller?.close();
    await rt?.stop();
    await srv?.stop();
  });

  it('counts error replies (4xx too) and times each request to its reply', async () => {
    await using nc = await client(srv.url);
    const stats = async (): Promise<EndpointStats> => {
      const reply = await nc.request('$SRV.STATS.dspex', '', { timeout: 5000 });
      const endpoint = reply
        .json<{ endpoints: EndpointStats[] }>()
        .endpoints.find((e) => e.name === 'predict');
      if (endpoint === undefined) throw new Error('no predict endpoint in $SRV.STATS');
      return endpoint;
    };
    const before = await stats();

    for (let i = 0; i < 3; i++) {
      await caller.predict({
        module: 'Predict',
        signature: 'question -> answer',
        inputs: { question: `q${i}` },
      });
    }
    // Two 4xx replies: a signature that does not parse (400) and a pool that does not exist (404).
    await expect(
      caller.predict({ module: 'Predict', signature: 'question ->', inputs: { question: 'x' } }),
    ).rejects.toMatchObject({ code: 'bad_request' });
    await expect(
      caller.predict({ module: 'Predict', signature: 'q -> a', inputs: { q: 'x' }, pool: 'nope' }),
    ).rejects.toMatchObject({ code: 'not_found' });

    const after = await stats();
    expect(after.num_requests - before.num_requests).toBe(5);
    expect(after.num_errors - before.num_errors).toBe(2);
    expect(after.last_error).toMatch(/pool "nope"/);
    // Three calls each spent at least DELAY_MS in the worker: processing time (ns) covers them.
    expect(after.processing_time - before.processing_time).toBeGreaterThanOrEqual(3 * DELAY_MS * 1e6);
    expect(after.average_processing_time).toBe(Math.round(after.processing_time / after.num_requests));
  });

  it("publishes each call's measurements, batched, on dspex.events.call", async () => {
    await using nc = await client(srv.url);
    const batches: CallBatch[] = [];
    const sub = nc.subscribe('dspex.events.call', {
      callback: (err, msg) => {
        if (err === null) batches.push(CallBatchSchema.parse(decode(msg.data, Encoding.Msgpack)));
      },
    });
    await nc.flush();
    const signature = 'topic -> summary';
    for (let i = 0; i < 3; i++) {
      await caller.predict({ module: 'ChainOfThought', signature, inputs: { topic: `t${i}` } });
    }
    const records = await eventually(() => {
      const found = batches.flatMap((b) => b.calls).filter((c) => c.signature === signature);
      expect(found).toHaveLength(3);
      return found;
    });
    sub.unsubscribe();
    for (const r of records) {
      expect(r).toMatchObject({ pool: 'general', module: 'ChainOfThought', outcome: 'ok', hedged: false });
      expect(r.worker).toMatch(/^general-/);
      expect(r.latency_ms).toBeGreaterThanOrEqual(DELAY_MS);
    }
    expect(batches.every((b) => b.node === rt.nodeId && b.sample_rate === 1)).toBe(true);
  });
});
