/**
 * Fuzzing of every public endpoint (`dspex.rpc.*`, listed from the running service itself) against
 * a `dspex node` process with real DSPy workers: hostile bodies (fast-check, seed-fixed) in JSON and
 * msgpack, hostile `Dspex-*` headers, raw garbage and oversized bodies. Every request must get a
 * reply; no 5xx but the documented ones (docs/protocol.md, "Errors"); no canary secret from the
 * node's or the workers' environment in any reply; node and workers alive and the node's memory
 * bounded at the end. `DSPEX_FUZZ_RUNS=N` runs N bodies (default 2000, about 15 s), `DSPEX_FUZZ_SEED`
 * picks another sequence, `DSPEX_FUZZ_DEBUG=1` prints every error reply; a summary line
 * is printed either way.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { headers as natsHeaders, type Msg, type NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decode, encode, Encoding } from '../../src/protocol/codec.js';
import { preview } from '../../src/protocol/names.js';
import { ErrorReplySchema } from '../../src/protocol/schemas.js';
import { bodyFor, fuzzHeaders, validBodies } from '../harness/fuzz-bodies.js';
import { startNats, type NatsServer } from '../harness/nats.js';
import { startNodeProcess, type NodeProcess } from '../harness/node-process.js';
import { alive } from '../harness/process.js';

const RUNS = Number(process.env.DSPEX_FUZZ_RUNS ?? 2000);
const SEED = Number(process.env.DSPEX_FUZZ_SEED ?? 20261202);
const IN_FLIGHT = 6;
const MAX_PAYLOAD = 1024 * 1024;

/**
 * Server errors a hostile request may legitimately get (docs/protocol.md): 502 when the LM's answer
 * does not fit the signature (DSPy's DummyLM cannot answer typed or numerous outputs) and 503 when
 * a pool has no worker (bodies naming pools nobody serves). 500 never: it would be a bug.
 */
const DOCUMENTED_5XX = new Set([502, 503]);

/** Secrets planted in the node's and the workers' environment; none may appear in a reply. */
const canaries = {
  DSPEX_NODE_PASSWORD: `canary-node-${randomBytes(8).toString('hex')}`,
  DSPEX_WORKER_PASSWORD: `canary-worker-${randomBytes(8).toString('hex')}`,
  DSPEX_CLIENT_PASSWORD: `canary-client-${randomBytes(8).toString('hex')}`,
};
const workerCanary = `canary-pool-${randomBytes(8).toString('hex')}`;
const secrets = [...Object.values(canaries), workerCanary];

interface Case {
  subject: string;
  encoding: Encoding;
  body: unknown;
  /** Send these bytes instead of the encoded body (garbage). */
  raw?: Uint8Array;
  oversized: boolean;
  headers: { deadline?: string; session?: string; trace?: string };
}

const caseArb: fc.Arbitrary<Case> = fc.constantFrom(...Object.keys(validBodies)).chain((subject) =>
  fc.record({
    subject: fc.constant(subject),
    encoding: fc.constantFrom(Encoding.Json, Encoding.Msgpack),
    body: bodyFor(subject),
    // One body in 20 is random bytes (not valid JSON or msgpack), one in 40 over the size limit.
    raw: fc.oneof(
      { weight: 19, arbitrary: fc.constant(undefined) },
      { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 200 }) },
    ),
    oversized: fc.oneof(
      { weight: 39, arbitrary: fc.constant(false) },
      { weight: 1, arbitrary: fc.constant(true) },
    ),
    headers: fuzzHeaders,
  }),
);

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function rssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'));
  return Number(line?.split(/\s+/)[1] ?? 0) / 1024;
}

interface Tally {
  sent: number;
  json: number;
  msgpack: number;
  unsendable: number;
  byStatus: Record<string, number>;
  fiveXX: Array<{ subject: string; status: number; code: string; message: string; body: string }>;
  secretsFound: Array<{ subject: string; secret: string }>;
  malformed: Array<{ subject: string; status: number }>;
  noReply: Array<{ subject: string; error: string }>;
}

function headersOf(c: Case) {
  const h = natsHeaders();
  if (c.encoding === Encoding.Json) h.set('Content-Type', 'application/json');
  const now = Date.now();
  let deadline = c.headers.deadline;
  if (deadline === 'ok') deadline = String(now + 3000);
  if (deadline === 'past') deadline = String(now - 1000);
  // A valid optimizer run lasts until its deadline: keep fuzzed deadlines of compiles short.
  if (c.subject === 'optimize.compile' && (deadline === undefined || Number(deadline) > now + 3000))
    deadline = String(now + 3000);
  if (deadline !== undefined) h.set('Dspex-Deadline', deadline);
  if (c.headers.session !== undefined) h.set('Dspex-Session', c.headers.session);
  if (c.headers.trace !== undefined) h.set('Dspex-Trace', c.headers.trace);
  return h;
}

function bytesOf(c: Case): Uint8Array | undefined {
  if (c.raw !== undefined) return c.raw;
  const body =
    c.oversized && typeof c.body === 'object' && c.body !== null
      ? { ...c.body, pad: 'p'.repeat(MAX_PAYLOAD + 1) }
      : c.body;
  try {
    return c.encoding === Encoding.Json
      ? new TextEncoder().encode(JSON.stringify(body))
      : encode(body, Encoding.Msgpack);
  } catch {
    return undefined; // not representable in this encoding (a BigInt, a cycle): nothing to send
  }
}

function check(c: Case, msg: Msg, t: Tally): void {
  const status = Number(msg.headers?.get('Nats-Service-Error-Code') || 0);
  t.byStatus[status] = (t.byStatus[status] ?? 0) + 1;
  const text = Buffer.from(msg.data).toString('latin1') + [...(msg.headers ?? [])].flat(2).join('\n');
  for (const secret of secrets)
    if (text.includes(secret)) t.secretsFound.push({ subject: c.subject, secret });
  let body: unknown;
  try {
    body = decode(msg.data, c.encoding);
  } catch {
    t.malformed.push({ subject: c.subject, status });
    return;
  }
  if (status === 0) return;
  const parsed = ErrorReplySchema.safeParse(body);
  if (!parsed.success) {
    t.malformed.push({ subject: c.subject, status });
    return;
  }
  if (process.env.DSPEX_FUZZ_DEBUG) console.log(c.subject, status, parsed.data.error.message.slice(0, 100));
  if (status >= 500 && !DOCUMENTED_5XX.has(status)) {
    t.fiveXX.push({
      subject: c.subject,
      status,
      code: parsed.data.error.code,
      message: parsed.data.error.message.slice(0, 200),
      body: preview(safeJson(c.body), 300),
    });
  }
}

describe(`fuzzing every dspex.rpc endpoint (${RUNS} bodies, seed ${SEED})`, () => {
  let nats: NatsServer;
  let node: NodeProcess;
  let nc: NatsConnection;

  beforeAll(async () => {
    nats = await startNats();
    node = await startNodeProcess({
      nats: nats.url,
      nodeId: 'fuzz',
      logLevel: 'warn',
      env: canaries,
      config: {
        pools: {
          general: { size: 1, env: { DSPEX_FUZZ_CANARY: workerCanary } },
          optimizer: { size: 1, env: { DSPEX_FUZZ_CANARY: workerCanary } },
        },
      },
    });
    nc = await connect({ servers: nats.url });
  });
  afterAll(async () => {
    await nc?.close();
    await node?.stop();
    await nats?.stop();
  });

  it('answers every body with a reply, never a 500, never a secret, and keeps node and workers alive', async () => {
    // The endpoints come from the running service: a new endpoint without a valid body here fails.
    const info = await nc.request('$SRV.INFO.dspex', '', { timeout: 5000 });
    const endpoints = (info.json<{ endpoints: Array<{ subject: string }> }>().endpoints ?? []).map((e) =>
      e.subject.replace(/^dspex\.rpc\./, ''),
    );
    expect(endpoints.sort()).toEqual(Object.keys(validBodies).sort());

    const status = async () =>
      decode(
        (await nc.request('dspex.rpc.status', encode({}, Encoding.Msgpack), { timeout: 10_000 })).data,
        Encoding.Msgpack,
      ) as { pools: Array<{ name: string; workers: Array<{ pid: number; state: string }> }> };
    const workerPids = (await status()).pools.flatMap((p) => p.workers.map((w) => w.pid));
    expect(workerPids).toHaveLength(2);
    const rssBefore = rssMiB(node.pid);

    const cases = fc.sample(caseArb, { seed: SEED, numRuns: RUNS });
    const t: Tally = {
      sent: 0,
      json: 0,
      msgpack: 0,
      unsendable: 0,
      byStatus: {},
      fiveXX: [],
      secretsFound: [],
      malformed: [],
      noReply: [],
    };
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < cases.length) {
        const c = cases[next++]!;
        const data = bytesOf(c);
        if (data === undefined) {
          t.unsendable++;
          continue;
        }
        t.sent++;
        t[c.encoding]++;
        try {
          const msg = await nc.request(`dspex.rpc.${c.subject}`, data, {
            timeout: 20_000,
            headers: headersOf(c),
          });
          check(c, msg, t);
        } catch (error) {
          t.noReply.push({ subject: c.subject, error: String(error).slice(0, 120) });
        }
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, lane));

    const nodeAlive = node.alive();
    const after = nodeAlive ? await status() : undefined;
    const workersAlive = workerPids.filter((pid) => alive(pid)).length;
    const rssAfter = nodeAlive ? rssMiB(node.pid) : Number.NaN;
    const fiveXX = Object.entries(t.byStatus)
      .filter(([s]) => Number(s) >= 500)
      .reduce((n, [, v]) => n + v, 0);
    console.log(
      `fuzz summary: ${t.sent} bodies sent (json ${t.json}, msgpack ${t.msgpack}; ${t.unsendable} not encodable), ` +
        `replies by status ${JSON.stringify(t.byStatus)}, 5xx ${fiveXX} (undocumented ${t.fiveXX.length}), ` +
        `no reply ${t.noReply.length}, malformed ${t.malformed.length}, secrets found ${t.secretsFound.length}, ` +
        `node deaths ${nodeAlive ? 0 : 1}, workers alive ${workersAlive}/${workerPids.length}, ` +
        `node RSS ${rssBefore.toFixed(0)} -> ${rssAfter.toFixed(0)} MiB`,
    );

    // The node's own account of any 500 (its log has the cause; the reply never does).
    if (t.fiveXX.length > 0) {
      const failures = node
        .stderr()
        .split('\n')
        .filter((l) => l.includes('endpoint failed'))
        .slice(0, 3);
      console.log(`node log of the failures:\n${failures.join('\n').slice(0, 4000)}`);
    }
    expect(t.secretsFound).toEqual([]);
    expect(t.fiveXX).toEqual([]);
    expect(t.noReply).toEqual([]);
    expect(t.malformed).toEqual([]);
    expect(nodeAlive).toBe(true);
    expect(workersAlive).toBe(workerPids.length);
    expect(
      after!.pools.flatMap((p) => p.workers).every((w) => w.state === 'ready' || w.state === 'busy'),
    ).toBe(true);
    // Bounded memory: a few hundred fuzzed requests must not grow the node by more than 256 MiB.
    expect(rssAfter - rssBefore).toBeLessThan(256);
  });
});
