/**
 * Issue 9, classes 2 and 3, against a `dspex node` process as production runs it (a crash is a real
 * exit): one request must not kill a node, and one request must not cut a node off NATS. Each class
 * is driven with many generated variants (fast-check, fixed seeds).
 */
import { headers as natsHeaders, type NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decode, encode, Encoding } from '../../src/protocol/codec.js';
import { eventually } from '../harness/eventually.js';
import {
  controlChar,
  hugeToken,
  multiLineText,
  repeatToken,
  startHostileWorker,
  type HostileWorker,
} from '../harness/hostile.js';
import { freePort, startNats, type NatsServer } from '../harness/nats.js';
import { startNodeProcess, type NodeProcess } from '../harness/node-process.js';

interface Reply {
  status: number;
  /** The `Nats-Service-Error` header. */
  description: string | undefined;
  body: { error?: { code: string; message: string; details?: { field?: string } } } & Record<string, unknown>;
}

async function call(
  nc: NatsConnection,
  subject: string,
  body: unknown,
  encoding: Encoding = Encoding.Json,
  timeout = 10_000,
): Promise<Reply> {
  const h = natsHeaders();
  if (encoding === Encoding.Json) h.set('Content-Type', 'application/json');
  const data = encoding === Encoding.Json ? JSON.stringify(body) : encode(body, Encoding.Msgpack);
  const msg = await nc.request(subject, data, { timeout, headers: h });
  return {
    status: Number(msg.headers?.get('Nats-Service-Error-Code') || 0),
    description: msg.headers?.get('Nats-Service-Error'),
    body: decode(msg.data, encoding) as Reply['body'],
  };
}

/** Connections the server closed, by client name (monitoring endpoint `/connz?state=closed`). */
async function closedConnections(monitor: number, name: string): Promise<Array<{ reason: string }>> {
  const res = await fetch(`http://127.0.0.1:${monitor}/connz?state=closed&limit=1024`);
  const body = (await res.json()) as { connections?: Array<{ name?: string; reason?: string }> };
  return (body.connections ?? []).filter((c) => c.name === name).map((c) => ({ reason: c.reason ?? '' }));
}

/** A header value nats.js accepts and a well-behaved client can show: no control characters. */
// eslint-disable-next-line no-control-regex -- the property is about control characters
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const cleanHeader = (value: string | undefined): boolean =>
  value === undefined || (!CONTROL.test(value) && value.length <= 1024);

const PREDICT = { module: 'Predict', signature: 'question -> answer', inputs: { question: 'hi' } };

describe('hostile requests at a dspex node process', () => {
  let nats: NatsServer;
  let monitor: number;
  let nc: NatsConnection;

  beforeAll(async () => {
    monitor = await freePort();
    nats = await startNats({ extraConfig: `http: "127.0.0.1:${monitor}"` });
    nc = await connect({ servers: nats.url });
  });
  afterAll(async () => {
    await nc?.close();
    await nats?.stop();
  });

  /** Each class gets its own node process, so one class's crash does not hide the other's. */
  function nodeFor(nodeId: string): () => NodeProcess {
    let node: NodeProcess | undefined;
    beforeAll(async () => {
      node = await startNodeProcess({ nats: nats.url, nodeId, config: { pools: { general: { size: 1 } } } });
    });
    afterAll(async () => {
      await node?.stop();
    });
    return () => node!;
  }

  describe('one request kills a node', () => {
    const nodeOf = nodeFor('hostile-a');
    it('answers error texts with line breaks or control characters with a clean error reply', async () => {
      const vehicles = {
        // An unknown module is echoed in its 404.
        module: (text: string) => ({ ...PREDICT, module: text }),
        // An input the signature does not have is named in its 422.
        input: (text: string) => ({ ...PREDICT, inputs: { question: 'q', [text]: 'x' } }),
        // A key the pipeline schema does not know is named in its 400.
        key: (text: string) => ({
          pipeline: { name: 'p', stages: [{ id: 's', kind: 'transform', op: 'identity', [text]: 1 }] },
        }),
      };
      const subjects = { module: 'predict', input: 'predict', key: 'pipeline.run' } as const;
      let sent = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            multiLineText,
            fc.array(controlChar, { minLength: 1, maxLength: 5 }).map((a) => a.join('')),
          ),
          fc.constantFrom('module', 'input', 'key'),
          fc.constantFrom(Encoding.Json, Encoding.Msgpack),
          async (text, where, encoding) => {
            sent++;
            const reply = await call(nc, `dspex.rpc.${subjects[where]}`, vehicles[where](text), encoding);
            expect(reply.status).toBeGreaterThanOrEqual(400);
            expect(reply.status).toBeLessThan(500);
            expect(reply.body.error?.message).toBeTypeOf('string');
            expect(reply.description, JSON.stringify(reply.description)).toSatisfy(cleanHeader);
          },
        ),
        { numRuns: 60, seed: 902 },
      );
      expect(sent).toBeGreaterThanOrEqual(60);
      expect(nodeOf().alive()).toBe(true);
      expect((await call(nc, 'dspex.rpc.status', {})).status).toBe(0);
    });

    it('relays a worker error with line breaks, control characters or 100 KiB of text as a clean reply', async () => {
      // A worker (or anyone with worker credentials) answers calls with hostile error texts. Codes
      // that say nothing of the worker's health, so its circuit breaker stays closed throughout.
      let next = { status: 400, code: 'bad_request', message: '' };
      const evil: HostileWorker = startHostileWorker({ nc, pool: 'evil', id: 'evil-1', answer: () => next });
      try {
        await eventually(async () => {
          const status = await call(nc, 'dspex.rpc.status', {});
          const pools = (status.body.pools ?? []) as Array<{ name: string; workers: unknown[] }>;
          expect(pools.find((p) => p.name === 'evil')?.workers).toHaveLength(1);
        });
        await fc.assert(
          fc.asyncProperty(
            fc.oneof(
              multiLineText,
              fc.string({ unit: 'binary', minLength: 1, maxLength: 64 }),
              fc.integer({ min: 20_000, max: 100_000 }).map((n) => 'x\n'.repeat(n / 2)),
            ),
            fc.constantFrom(
              { status: 400, code: 'bad_request' },
              { status: 404, code: 'not_found' },
              { status: 422, code: 'validation_failed' },
            ),
            async (text, error) => {
              next = { ...error, message: text };
              const reply = await call(nc, 'dspex.rpc.predict', { ...PREDICT, pool: 'evil' });
              expect(reply.status).toBe(error.status);
              expect(reply.body.error?.code).toBe(error.code);
              expect(cleanHeader(reply.description)).toBe(true);
            },
          ),
          { numRuns: 30, seed: 903 },
        );
        expect(evil.calls).toBeGreaterThanOrEqual(30);
      } finally {
        await evil.stop();
      }
      expect(nodeOf().alive()).toBe(true);
    });
  });

  describe('one request cuts a node off NATS', () => {
    const nodeOf = nodeFor('hostile-b');
    it('rejects a name too long for a subject with 400 naming the field, and keeps its connection', async () => {
      const vehicles = {
        'optimize.compile': (name: string) => ({
          body: {
            optimizer: 'BootstrapFewShot',
            signature: 'question -> answer',
            trainset: [{ question: 'q', answer: 'a' }],
            metric: { name: 'exact_match' },
            pool: name,
          },
          field: 'pool',
        }),
        predict: (name: string) => ({ body: { ...PREDICT, pool: name }, field: 'pool' }),
        'pipeline.run': (name: string) => ({
          body: {
            pipeline: {
              name: 'p',
              stages: [{ id: 's', kind: 'predict', module: 'Predict', signature: 'q -> a', pool: name }],
            },
            inputs: { q: 'x' },
          },
          field: 'pipeline.stages.0.pool',
        }),
      };
      await fc.assert(
        fc.asyncProperty(
          hugeToken,
          fc.constantFrom('optimize.compile', 'predict', 'pipeline.run'),
          async (huge, endpoint) => {
            const { body, field } = vehicles[endpoint](repeatToken(huge));
            const reply = await call(nc, `dspex.rpc.${endpoint}`, body);
            expect(reply.status).toBe(400);
            expect(reply.body.error?.details?.field).toBe(field);
            // The reply echoes at most a short prefix of what was sent.
            expect(JSON.stringify(reply.body).length).toBeLessThan(2000);
          },
        ),
        { numRuns: 24, seed: 904 },
      );
      expect(await closedConnections(monitor, 'dspex-node-hostile-b')).toEqual([]);
      expect(nodeOf().alive()).toBe(true);
    });

    it('ignores worker heartbeats whose pool or id could not be a subject', async () => {
      const hb = (id: string, pool: string) =>
        encode(
          {
            id,
            pool,
            host: 'h',
            pid: 1,
            state: 'ready',
            inflight: 0,
            concurrency: 1,
            calls: 0,
            rss_bytes: 0,
            started_at: Date.now(),
            ts: Date.now(),
            heartbeat_ms: 1000,
            version: '0.1.0',
            lm: 'dummy',
          },
          Encoding.Msgpack,
        );
      await fc.assert(
        fc.asyncProperty(hugeToken, fc.boolean(), async (huge, inPool) => {
          const long = repeatToken(huge);
          const id = inPool ? 'w-long-pool' : long;
          const pool = inPool ? long : 'general';
          nc.publish(`dspex.hb.worker.w-${long.length}`, hb(id, pool));
          await nc.flush();
          // A predict naming that pool must not make the node publish on a subject built from it.
          const reply = await call(nc, 'dspex.rpc.predict', { ...PREDICT, pool });
          expect(reply.status === 0 || (reply.status >= 400 && reply.status < 500)).toBe(true);
        }),
        { numRuns: 12, seed: 905 },
      );
      const status = await call(nc, 'dspex.rpc.status', {});
      const pools = (status.body.pools ?? []) as Array<{ name: string; workers: Array<{ id: string }> }>;
      expect(pools.every((p) => p.name.length <= 64 && p.workers.every((w) => w.id.length <= 64))).toBe(true);
      expect(await closedConnections(monitor, 'dspex-node-hostile-b')).toEqual([]);
      expect(nodeOf().alive()).toBe(true);
    });
  });
});
