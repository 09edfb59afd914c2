import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Msg } from '@nats-io/nats-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { createClient, type Client } from '../../src/runtime/client.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { decode, encode, Encoding } from '../../src/protocol/codec.js';
import { eventually } from '../harness/eventually.js';
import { FORGED, startRogue, type Rogue } from '../harness/rogue-worker.js';
import { startRuntime, workerBin } from '../harness/runtime.js';
import { passwordOf, startShippedNats, type ShippedNats } from '../harness/shipped-nats.js';

const SECRET = 'cluster-worker-secret-for-tests-0123456789';
const trainset = [
  { question: 'Capital of France? Paris', answer: 'Paris' },
  { question: 'What is 2+2?', answer: '4' },
  { question: 'Colour of the sky: blue', answer: 'blue' },
];

/**
 * A process holding the `worker` password of the shipped nats.conf, but not a worker key, attacks a
 * node whose workers sign their heartbeats and replies: it answers every call first with forged
 * outputs, announces a fake worker, and sends heartbeats in the real workers' names (a `stopped`
 * to drop them, a different pool and capacity to mislead routing). None of it may be believed.
 */
describe('worker identity under the shipped nats.conf', () => {
  let srv: ShippedNats;
  let dir: string;
  let rt: Runtime;
  let client: Client;
  let rogue: Rogue;
  const handStarted: ChildProcess[] = [];

  beforeAll(async () => {
    srv = await startShippedNats();
    dir = await mkdtemp(join(tmpdir(), 'dspex-identity-'));
    await writeFile(join(dir, 'secret'), `${SECRET}\n`, { mode: 0o600 });
    rt = await startRuntime(srv.url, {
      nats: { servers: srv.url, user: 'node', pass: passwordOf('node') },
      nodeId: 'id-node',
      worker: {
        nats: { user: 'worker', pass: passwordOf('worker') },
        secretFile: join(dir, 'secret'),
      },
      pools: {
        general: { size: 2, concurrency: 4, heartbeatMs: 200, env: { DSPEX_DUMMY_DELAY_MS: '20' } },
        optimizer: { size: 1, heartbeatMs: 200 },
      },
    });
    client = await createClient({ nc: await srv.connectAs('client') });
    rogue = startRogue(await srv.connectAs('worker'));
  }, 180_000);
  afterAll(async () => {
    for (const p of handStarted) if (p.exitCode === null) p.kill('SIGKILL');
    rogue?.stop();
    await rt?.stop();
    await srv?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const rejected = async (kind: string): Promise<Record<string, number>> => {
    const metric = await rt.metrics.workerIdentityRejected.get();
    return Object.fromEntries(
      metric.values.filter((v) => v.labels.kind === kind).map((v) => [String(v.labels.reason), v.value]),
    );
  };
  const workersOf = (pool: string) =>
    rt
      .status()
      .pools.find((p) => p.name === pool)!
      .workers.map((w) => ({ id: w.id, pid: w.pid }));
  const statesOf = (pool: string) =>
    rt
      .status()
      .pools.find((p) => p.name === pool)!
      .workers.map((w) => w.state);

  it('answers every call with the genuine worker’s output although a rogue answers first', async () => {
    const sent = 40;
    const replies = await Promise.allSettled(
      Array.from({ length: sent }, (_, i) =>
        client.predict({ module: 'Predict', signature: 'question -> answer', inputs: { question: `q${i}` } }),
      ),
    );
    const ok = replies.filter((r) => r.status === 'fulfilled').map((r) => r.value);
    const forgedAccepted = ok.filter((r) => r.outputs.answer === FORGED).length;
    const genuine = ok.filter((r, i) => r.outputs.answer === `answer for q${i}`).length;
    const reasons = await rejected('reply');
    console.info(
      `identity: sent=${sent} ok=${ok.length} genuine=${genuine} forged-accepted=${forgedAccepted} ` +
        `rogue-answered=${rogue.answered.length} replies-rejected=${JSON.stringify(reasons)}`,
    );
    expect(rogue.answered.length).toBeGreaterThanOrEqual(sent);
    expect(forgedAccepted).toBe(0);
    expect(ok.length).toBe(sent);
    expect(genuine).toBe(sent);
    // Forged replies that arrive after the genuine one find the call settled and are not counted.
    expect(reasons.bad_signature).toBeGreaterThan(0);
  });

  it('ignores a fake worker and forged heartbeats in real workers’ names', async () => {
    const before = workersOf('general');
    expect(before).toHaveLength(2);
    const rejectedBefore = (await rejected('heartbeat')).bad_signature ?? 0;
    for (let i = 0; i < 5; i++) {
      rogue.heartbeat('fake-1');
      rogue.heartbeat('fake-2', {}, ''); // unsigned
      for (const w of before) {
        rogue.heartbeat(w.id, { state: 'stopped' });
        rogue.heartbeat(w.id, { pool: 'elsewhere', concurrency: 1000 });
      }
    }
    await eventually(async () =>
      expect((await rejected('heartbeat')).bad_signature).toBe(rejectedBefore + 25),
    );
    expect((await rejected('heartbeat')).unsigned).toBeGreaterThanOrEqual(5);
    const reply = await client.predict({
      module: 'Predict',
      signature: 'question -> answer',
      inputs: { question: 'still here?' },
    });
    expect(reply.outputs.answer).toBe('answer for still here?');
    const status = await client.status();
    expect(status.pools.map((p) => p.name).sort()).toEqual(['general', 'optimizer']);
    // Same workers, same processes; a forged 'stopped' moved none of them (a worker may still be
    // busy with the calls of the test before, so ready and busy both count as live).
    expect(workersOf('general')).toEqual(before);
    for (const state of statesOf('general')) expect(['ready', 'busy']).toContain(state);
    const ids = status.pools.find((p) => p.name === 'general')!.workers.map((w) => w.id);
    expect(ids.sort()).toEqual(before.map((w) => w.id).sort());
  });

  it('refuses a genuine heartbeat replayed', async () => {
    // Only a node may read heartbeats; one captures a real worker's heartbeat and sends it again.
    const node = await srv.connectAs('node');
    const captured = await new Promise<Msg>((resolve) => {
      const sub = node.subscribe('dspex.hb.worker.*', {
        callback: (_e, msg) => {
          sub.unsubscribe();
          resolve(msg);
        },
      });
    });
    const replaysBefore = (await rejected('heartbeat')).replay ?? 0;
    node.publish(captured.subject, captured.data, { headers: captured.headers });
    await eventually(async () => expect((await rejected('heartbeat')).replay).toBe(replaysBefore + 1));
  });

  it('runs a compile and a cancel with the genuine worker’s replies although a rogue answers first', async () => {
    const reply = await rt.optimizer.compile({
      optimizer: 'BootstrapFewShot',
      signature: 'question -> answer',
      trainset,
      metric: { name: 'contains', field: 'answer' },
      settings: { max_bootstrapped_demos: 1, max_labeled_demos: 0 },
      run_id: 'genuine-run',
    });
    expect(reply).toMatchObject({ run_id: 'genuine-run', status: 'completed' });
    expect(reply.worker).toBe(workersOf('optimizer')[0]!.id);
    expect(reply.state).not.toEqual({ forged: true });
    expect(rogue.answered).toContain('dspex.pool.optimizer');

    // No run by this id: the rogue's forged acknowledgement is dropped and the node waits it out.
    const cancel = await rt.optimizer.cancel('no-such-run').catch((e: unknown) => e);
    expect(cancel).toMatchObject({ code: 'deadline_exceeded' });
    expect(rogue.answered).toContain('dspex.optimize.cancel.no-such-run');
  });

  it('lets a hand-started worker with its key join, and not one without', async () => {
    const out: string[] = [];
    const io = { stdout: (l: string) => out.push(l), stderr: () => {}, env: {}, onSignal: () => () => {} };
    expect(await main(['worker', 'key', '--id', 'by-hand-k', '--secret-file', join(dir, 'secret')], io)).toBe(
      0,
    );
    await writeFile(join(dir, 'by-hand-k.key'), out.join('\n') + '\n', { mode: 0o600 });
    const env = {
      PATH: process.env.PATH,
      LITELLM_LOCAL_MODEL_COST_MAP: 'True',
      DSPEX_NATS_USER: 'worker',
      DSPEX_NATS_PASSWORD: passwordOf('worker'),
    };
    const start = (id: string, extra: string[]): ChildProcess => {
      const p = spawn(
        workerBin,
        ['--nats', srv.url, '--pool', 'general', '--id', id, '--heartbeat-ms', '200', ...extra],
        {
          stdio: ['ignore', 'ignore', process.env.DSPEX_TEST_LOG ? 'inherit' : 'ignore'],
          env,
        },
      );
      handStarted.push(p);
      return p;
    };
    start('by-hand-k', ['--worker-key-file', join(dir, 'by-hand-k.key')]);
    start('by-hand-nokey', []);
    await rt.waitForWorkers('general', 3, 90_000);
    const unsignedBefore = (await rejected('heartbeat')).unsigned ?? 0;
    await eventually(
      async () => expect((await rejected('heartbeat')).unsigned).toBeGreaterThan(unsignedBefore + 2),
      {
        timeoutMs: 60_000,
      },
    );
    const ids = workersOf('general').map((w) => w.id);
    expect(ids).toContain('by-hand-k');
    expect(ids).not.toContain('by-hand-nokey');
    // Calls reach the hand-started worker and its signed replies are accepted.
    const h = await srv.connectAs('node');
    const direct = await rt.predict({
      module: 'Predict',
      signature: 'question -> answer',
      inputs: { question: 'from afar' },
      pool: 'general',
    });
    expect(direct.outputs.answer).toBe('answer for from afar');
    // The rogue answers every worker subject too, so take every reply for a moment and find the
    // genuine one (the node does the same with signatures: WorkerRequests).
    const replies: Msg[] = [];
    for await (const m of await h.requestMany(
      'dspex.pool.general.by-hand-k',
      encode({ op: 'ping' }, Encoding.Msgpack),
      { maxWait: 3000 },
    )) {
      replies.push(m);
    }
    const ping = replies.find((m) => {
      try {
        const body = decode(m.data, Encoding.Msgpack) as { pong?: unknown; worker?: unknown };
        return body.pong === true && body.worker === 'by-hand-k';
      } catch {
        return false;
      }
    });
    expect(ping, `no genuine pong among ${replies.length} replies`).toBeDefined();
    if (ping === undefined) return;
    expect(ping.headers?.get('Dspex-Worker')).toBe('by-hand-k');
    expect(ping.headers?.get('Dspex-Sig')).toMatch(/^[0-9a-f]{64}$/);
  });
});
