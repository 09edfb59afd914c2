/**
 * The docker-compose topology on this host (scripts/cluster.sh: three clustered nats-servers from
 * nats.conf with its users, two nodes with a worker each), then one server killed with SIGKILL
 * under load. Calls keep being answered; each call is counted as ok, a clear error (a DspexError
 * with its code), or lost (no answer and no error by its deadline); variables and sessions in R3
 * buckets are intact; workers on the dead server reconnect with their login to another one.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { headers as natsHeaders } from '@nats-io/nats-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isDspexError } from '../../src/errors.js';
import { createClient, type Client } from '../../src/runtime/client.js';
import { eventually } from '../harness/eventually.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SCRIPT = join(ROOT, 'scripts', 'cluster.sh');
// Nine ports from here: clients PORT..+2, routes +100.., monitoring +200...
const PORT = 30_000 + Math.floor(Math.random() * 150) * 100;

function cluster(action: 'up' | 'down', dir: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      'bash',
      [SCRIPT, action],
      {
        cwd: ROOT,
        timeout: 400_000,
        env: {
          ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('DSPEX_'))),
          DSPEX_CLUSTER_DIR: dir,
          DSPEX_CLUSTER_PORT: String(PORT),
        },
      },
      (error, stdout, stderr) =>
        resolve({
          code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1,
          out: stdout + stderr,
        }),
    );
  });
}

/** Names of the client connections of server `i` (0-2), from its monitoring endpoint. */
async function connectionNames(i: number): Promise<string[]> {
  const res = await fetch(`http://127.0.0.1:${PORT + 200 + i}/connz?limit=1000`);
  const body = (await res.json()) as { connections?: Array<{ name?: string }> };
  return (body.connections ?? []).map((c) => c.name ?? '');
}

interface Counts {
  sent: number;
  ok: number;
  clearError: number;
  lost: number;
  okAfterKill: number;
  errors: Record<string, number>;
}

describe('a cluster of three NATS servers losing one under load', () => {
  let dir: string;
  let env: Record<string, string>;
  let client: Client;

  /** One request to a dspex.rpc endpoint in JSON, as any NATS client would send it. */
  async function rpc(endpoint: string, body: unknown): Promise<Record<string, unknown>> {
    const h = natsHeaders();
    h.set('Content-Type', 'application/json');
    const msg = await client.nc.request(`dspex.rpc.${endpoint}`, JSON.stringify(body), {
      timeout: 10_000,
      headers: h,
    });
    const reply = JSON.parse(new TextDecoder().decode(msg.data)) as Record<string, unknown>;
    if ('error' in reply) throw new Error(`${endpoint}: ${JSON.stringify(reply.error)}`);
    return reply;
  }

  beforeAll(async () => {
    dir = join(await mkdtemp(join(tmpdir(), 'dspex-cluster-')), 'c');
    const up = await cluster('up', dir);
    if (up.code !== 0) throw new Error(`cluster.sh up failed:\n${up.out}`);
    env = Object.fromEntries(
      (await readFile(join(dir, 'env'), 'utf8'))
        .split('\n')
        .filter((l) => l.includes('='))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    client = await createClient({
      servers: env.DSPEX_CLUSTER_URLS!.split(','),
      user: 'client',
      pass: env.DSPEX_CLIENT_PASSWORD!,
      timeoutMs: 20_000,
    });
  }, 420_000);

  afterAll(async () => {
    await client?.close();
    if (dir !== undefined) {
      await cluster('down', dir);
      await rm(join(dir, '..'), { recursive: true, force: true });
    }
  }, 180_000);

  it('keeps answering calls, keeps variables and sessions, and its workers fail over with their login', async () => {
    // Durable state before the failure, in buckets created with 3 replicas (a cluster: auto).
    await rpc('var.define', { name: 'failover_temp', spec: { type: 'float' }, value: 0.25 });
    const set = await rpc('var.set', { name: 'failover_temp', value: 0.75, by: 'test' });
    await rpc('session.open', { id: 'failover-chat', state: { user: 'ada' } });

    // The server to kill: one that a worker is connected to, so that worker must fail over.
    const before = await Promise.all([0, 1, 2].map((i) => connectionNames(i)));
    const victim = Math.max(
      0,
      before.findIndex((names) => names.some((n) => n.startsWith('general-'))),
    );
    const movedWorkers = before[victim]!.filter((n) => /^general-node-\d-0$/.test(n));
    const victimPid = Number(await readFile(join(dir, `nats-${victim + 1}.pid`), 'utf8'));

    const counts: Counts = { sent: 0, ok: 0, clearError: 0, lost: 0, okAfterKill: 0, errors: {} };
    let killed = false;
    let stop = false;
    const worker = async (lane: number): Promise<void> => {
      for (let n = 0; !stop; n++) {
        counts.sent++;
        const deadline = Date.now() + 15_000;
        let timer: NodeJS.Timeout | undefined;
        const outcome = await Promise.race([
          client
            .predict(
              { module: 'Predict', signature: 'question -> answer', inputs: { question: `q${lane}-${n}` } },
              { deadline },
            )
            .then(
              (reply) => (reply.outputs.answer === `answer for q${lane}-${n}` ? 'ok' : 'wrong'),
              (error: unknown) => (isDspexError(error) ? error.code : 'unclear'),
            ),
          // Neither an answer nor an error well after its deadline: lost.
          new Promise<string>(
            (resolve) => (timer = setTimeout(() => resolve('lost'), deadline - Date.now() + 5000)),
          ),
        ]);
        clearTimeout(timer);
        if (outcome === 'ok') {
          counts.ok++;
          if (killed) counts.okAfterKill++;
        } else if (outcome === 'lost') counts.lost++;
        else {
          counts.errors[outcome] = (counts.errors[outcome] ?? 0) + 1;
          if (outcome !== 'wrong' && outcome !== 'unclear') counts.clearError++;
        }
      }
    };
    const lanes = [0, 1, 2, 3].map((lane) => worker(lane));
    await eventually(() => expect(counts.ok).toBeGreaterThanOrEqual(20), { timeoutMs: 120_000 });
    process.kill(victimPid, 'SIGKILL');
    killed = true;
    const killedAt = counts.sent;
    await eventually(() => expect(counts.okAfterKill).toBeGreaterThanOrEqual(60), { timeoutMs: 180_000 });
    stop = true;
    await Promise.all(lanes);
    console.log(
      `failover (nats-${victim + 1} killed after ${killedAt} calls, workers on it: ${movedWorkers.join(', ') || 'none'}): ` +
        JSON.stringify(counts),
    );

    expect(counts.lost).toBe(0);
    expect(counts.errors.unclear ?? 0).toBe(0);
    expect(counts.errors.wrong ?? 0).toBe(0);
    expect(counts.ok + counts.clearError).toBe(counts.sent);

    // Durable state survived the loss of a replica.
    const temp = await rpc('var.get', { name: 'failover_temp' });
    expect(temp).toMatchObject({ value: 0.75, revision: set.revision });
    const session = await rpc('session.get', { id: 'failover-chat' });
    expect(session).toMatchObject({ id: 'failover-chat', state: { user: 'ada' } });

    // Both workers serve again, the ones on the dead server reconnected elsewhere with their login.
    await eventually(
      async () => {
        const after = (
          await Promise.all([0, 1, 2].filter((i) => i !== victim).map((i) => connectionNames(i)))
        ).flat();
        for (const id of movedWorkers) expect(after).toContain(id);
      },
      { timeoutMs: 30_000 },
    );
    await eventually(
      async () => {
        const status = await client.status();
        const workers = status.pools.find((p) => p.name === 'general')?.workers ?? [];
        expect(
          workers
            .filter((w) => w.state === 'ready' || w.state === 'busy')
            .map((w) => w.id)
            .sort(),
        ).toEqual(['general-node-1-0', 'general-node-2-0']);
      },
      { timeoutMs: 30_000 },
    );
  }, 420_000);
});
