/**
 * Joining a running cluster: a node learns of other hosts' workers from their heartbeats, and of its
 * own once they start. A call made right after createRuntime() waits for them within its deadline;
 * `dspex node` says "ready" only once its own workers are.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../../src/runtime/runtime.js';
import { client, startNats, type NatsServer } from '../harness/nats.js';
import { startRuntime, testLogger } from '../harness/runtime.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin', 'dspex.js');
const ask = (question: string, pool?: string) => ({
  module: 'Predict',
  signature: 'question -> answer',
  inputs: { question },
  ...(pool !== undefined && { pool }),
});

describe('joining a cluster', () => {
  let srv: NatsServer;
  let first: Runtime;

  beforeAll(async () => {
    srv = await startNats();
    // The cluster before anyone joins: one node with a worker in `general` and one in `extra`.
    first = await startRuntime(srv.url, {
      nodeId: 'first',
      pools: { general: { size: 1 }, extra: { size: 1 } },
    });
  });
  afterAll(async () => {
    await first?.stop();
    await srv?.stop();
  });

  it('answers a call made right after createRuntime with a worker another host runs', async () => {
    await using rt = await createRuntime({
      nats: { servers: srv.url },
      nodeId: 'joiner',
      pools: { general: { size: 0 } },
      logger: testLogger(),
    });
    // No heartbeat heard yet: the call waits for one instead of failing with "no live worker".
    const reply = await rt.predict(ask('right away'));
    expect(reply.worker).toBe('general-first-0');
    // A pool this node does not configure is learnt from heartbeats too, instead of a 404.
    const extra = await rt.predict(ask('other pool', 'extra'));
    expect(extra.worker).toBe('extra-first-0');
  });

  it('answers a call made right after createRuntime with its own worker once it started', async () => {
    await using rt = await createRuntime({
      nats: { servers: srv.url },
      nodeId: 'alone',
      pools: { solo: { size: 1 } },
      logger: testLogger(),
    });
    const reply = await rt.predict(ask('as soon as you can', 'solo'));
    expect(reply.worker).toBe('solo-alone-0');
  });

  it('answers 503 for a pool nobody serves once the join window has passed', async () => {
    await using rt = await createRuntime({
      nats: { servers: srv.url },
      nodeId: 'late',
      pools: { nobody: { size: 0 } },
      logger: testLogger(),
    });
    // Held for the join window (3 heartbeat periods) only, not until its 60 s deadline: a 503, not a 408.
    const error = await rt.predict(ask('anyone?', 'nobody')).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'unavailable', message: 'pool nobody has no live worker' });
  });

  it('dspex node prints ready only once its own worker is ready, not another host’s', async () => {
    await using nc = await client(srv.url);
    const announced: string[] = [];
    nc.subscribe('dspex.hb.worker.general-third-0', {
      callback: () => {
        announced.push('hb');
      },
    });
    await nc.flush();
    const node = spawn(
      process.execPath,
      [BIN, 'node', '--nats', srv.url, '--node-id', 'third', '--pool', 'general=1'],
      {
        cwd: ROOT,
        env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('DSPEX_'))),
        stdio: ['ignore', 'pipe', 'ignore'],
      },
    );
    try {
      const line = await new Promise<string>((resolve, reject) => {
        createInterface({ input: node.stdout }).once('line', resolve);
        node.once('exit', (code) => reject(new Error(`node exited with ${code}`)));
      });
      expect(line).toBe(`dspex node third ready on ${srv.url}`);
      // Every message the server sent us before this flush has been handled: the worker's first
      // heartbeat (its announcement) came before the ready line.
      await nc.flush();
      expect(announced.length).toBeGreaterThan(0);
    } finally {
      node.kill('SIGTERM');
      await new Promise((resolve) => (node.exitCode !== null ? resolve(null) : node.once('exit', resolve)));
    }
  });
});
