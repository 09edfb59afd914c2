/**
 * Issue 9, class 1, through the node: a signature or type string on any endpoint is parsed by the TS
 * engine when the body is decoded, so a type name outside the grammar is a 400 naming the field and
 * no worker ever sees it (its call counter does not move). The node and its workers hold canary
 * secrets in their environment; no reply may carry one.
 */
import { headers as natsHeaders, type NatsConnection } from '@nats-io/nats-core';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Runtime } from '../../src/index.js';
import { decode, encode, Encoding } from '../../src/protocol/codec.js';
import { eventually } from '../harness/eventually.js';
import { CANARIES, hostileSignature, hostileType, leaks } from '../harness/hostile-types.js';
import { client, startNats, type NatsServer } from '../harness/nats.js';
import { startRuntime } from '../harness/runtime.js';
import type { Reply } from '../harness/wire.js';

type Endpoint = 'predict' | 'optimize.compile' | 'pipeline.run' | 'pipeline.run.predict';

function body(endpoint: Endpoint, signature: string): { body: unknown; field: string } {
  switch (endpoint) {
    case 'predict':
      return { body: { module: 'Predict', signature, inputs: { q: 'x' } }, field: 'signature' };
    case 'optimize.compile':
      return {
        body: {
          optimizer: 'BootstrapFewShot',
          signature,
          trainset: [{ q: 'x', a: 'y' }],
          metric: { name: 'contains', field: 'a' },
        },
        field: 'signature',
      };
    case 'pipeline.run':
    case 'pipeline.run.predict':
      return {
        body: {
          pipeline: {
            name: 'p',
            stages: [
              endpoint === 'pipeline.run'
                ? { id: 's', kind: 'llm', signature, inputs: { q: { input: 'q' } } }
                : { id: 's', kind: 'predict', module: 'Predict', signature, inputs: { q: { input: 'q' } } },
            ],
          },
          inputs: { q: 'x' },
        },
        field: 'pipeline.stages.0.signature',
      };
  }
}

describe('signatures and types from the wire, through the node', () => {
  let srv: NatsServer;
  let rt: Runtime;
  let nc: NatsConnection & AsyncDisposable;
  const saved: Record<string, string | undefined> = {};

  beforeAll(async () => {
    for (const [k, v] of Object.entries(CANARIES)) {
      saved[k] = process.env[k];
      process.env[k] = v; // the node's own environment, as an operator following docs/operations.md has it
    }
    srv = await startNats();
    rt = await startRuntime(srv.url, {
      nodeId: 'hostile-node',
      pools: { general: { size: 1, env: { ...CANARIES } }, optimizer: { size: 1, env: { ...CANARIES } } },
    });
    nc = await client(srv.url);
  }, 180_000);
  afterAll(async () => {
    await nc?.close();
    await rt?.stop();
    await srv?.stop();
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  async function call(
    subject: string,
    payload: unknown,
    json: boolean,
  ): Promise<{ status: number; body: Reply }> {
    const h = natsHeaders();
    if (json) h.set('Content-Type', 'application/json');
    const msg = await nc.request(
      `dspex.rpc.${subject}`,
      encode(payload, json ? Encoding.Json : Encoding.Msgpack),
      {
        timeout: 30_000,
        headers: h,
      },
    );
    const headerText = [...(msg.headers?.keys() ?? [])].map((k) => `${k}: ${msg.headers?.get(k)}`).join('\n');
    expect(leaks(msg.data)).toEqual([]);
    expect(leaks(headerText)).toEqual([]);
    return {
      status: Number(msg.headers?.get('Nats-Service-Error-Code') || 0),
      body: decode(msg.data, json ? Encoding.Json : Encoding.Msgpack) as Reply,
    };
  }

  const workerCalls = (): number =>
    rt
      .status()
      .pools.flatMap((p) => p.workers)
      .reduce((n, w) => n + w.calls, 0);

  it('answers 400 naming the field on every endpoint, and no worker sees the request', async () => {
    const before = workerCalls();
    let sent = 0;
    await fc.assert(
      fc.asyncProperty(
        hostileSignature,
        fc.constantFrom<Endpoint>('predict', 'optimize.compile', 'pipeline.run', 'pipeline.run.predict'),
        fc.boolean(),
        async (signature, endpoint, json) => {
          const { body: payload, field } = body(endpoint, signature);
          const subject = endpoint.startsWith('pipeline') ? 'pipeline.run' : endpoint;
          const reply = await call(subject, payload, json);
          sent++;
          expect(reply.status, signature).toBe(400);
          expect(reply.body.error?.code).toBe('bad_request');
          expect(reply.body.error?.details?.field).toBe(field);
          expect(reply.body.error?.details?.column).toEqual(expect.any(Number));
        },
      ),
      { numRuns: 80, seed: 9 },
    );
    expect(sent).toBe(80);
    // Two heartbeats from every worker later, the workers still report the calls they had before.
    const lastSeen = () =>
      rt
        .status()
        .pools.flatMap((p) => p.workers)
        .map((w) => w.last_seen);
    for (let beat = 0; beat < 2; beat++) {
      const mark = lastSeen();
      await eventually(() => lastSeen().forEach((t, i) => expect(t).toBeGreaterThan(mark[i]!)));
    }
    expect(workerCalls()).toBe(before);
  }, 120_000);

  it('answers 400 naming spec.type for a variable type outside the grammar', async () => {
    await fc.assert(
      fc.asyncProperty(hostileType, fc.boolean(), async (type, json) => {
        const reply = await call('var.define', { name: 'hostile_var', value: 1, spec: { type } }, json);
        expect(reply.status, type).toBe(400);
        expect(reply.body.error?.details?.field).toBe('spec.type');
      }),
      { numRuns: 30, seed: 9 },
    );
  });

  it('refuses the issue’s own examples, and still serves good calls', async () => {
    for (const signature of ['q: os.environ -> a', 'q: sys.argv -> a', 'q -> a: pydantic.ImportString']) {
      for (const endpoint of ['predict', 'optimize.compile'] as const) {
        const reply = await call(endpoint, body(endpoint, signature).body, true);
        expect(reply.status).toBe(400);
        expect(reply.body.error?.details?.field).toBe('signature');
      }
    }
    const good = await call('predict', body('predict', 'q: str -> a: list[int]').body, true);
    expect(good.status).toBe(0);
    expect(good.body.outputs).toEqual({ a: [42] });
    await eventually(() => expect(workerCalls()).toBeGreaterThan(0));
  });
});
