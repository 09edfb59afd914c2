import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { PermissionViolationError, type NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '../../src/runtime/client.js';
import { createRuntime } from '../../src/runtime/runtime.js';
import { pino } from 'pino';
import { eventually } from '../harness/eventually.js';

const CONF = fileURLToPath(new URL('../../nats.conf', import.meta.url));
const BIN = process.env.DSPEX_NATS_SERVER_BIN ?? 'nats-server';
const PASSWORDS = {
  DSPEX_NODE_PASSWORD: 'node-secret-1',
  DSPEX_WORKER_PASSWORD: 'worker-secret-2',
  DSPEX_CLIENT_PASSWORD: 'client-secret-3',
};

interface Running {
  child: ChildProcess;
  url: string;
  monitorUrl: string;
  stderr: () => string;
}

/**
 * The repository's nats.conf, unchanged except where it must be for a test: loopback and free ports
 * instead of 4222/8222, a temp JetStream store, and a ports file to learn the ports from. Each
 * rewrite must match, so an edit of nats.conf that moves these lines fails here loudly.
 */
async function testConfig(dir: string): Promise<string> {
  let text = await readFile(CONF, 'utf8');
  const rewrites: Array<[RegExp, string]> = [
    [/^listen: 0\.0\.0\.0:4222$/m, 'listen: 127.0.0.1:-1'],
    [/^http: 0\.0\.0\.0:8222$/m, 'http: 127.0.0.1:-1'],
    [/store_dir: "\/data\/jetstream"/, `store_dir: "${join(dir, 'js')}"`],
  ];
  for (const [pattern, replacement] of rewrites) {
    expect(text, `nats.conf has ${String(pattern)}`).toMatch(pattern);
    text = text.replace(pattern, replacement);
  }
  const path = join(dir, 'nats.conf');
  await writeFile(path, `${text}\nports_file_dir: "${dir}"\n`);
  return path;
}

async function startServer(dir: string, env: NodeJS.ProcessEnv): Promise<Running> {
  const path = await testConfig(dir);
  const child = spawn(BIN, ['-c', path], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const ports = await eventually(
    async () => {
      if (child.exitCode !== null) throw new Error(`nats-server exited: ${stderr}`);
      const file = (await readdir(dir)).find((f) => f.endsWith('.ports'));
      if (file === undefined) throw new Error('no ports file yet');
      return JSON.parse(await readFile(join(dir, file), 'utf8')) as { nats: string[]; monitoring: string[] };
    },
    { timeoutMs: 10_000, intervalMs: 20 },
  );
  return { child, url: ports.nats[0]!, monitorUrl: ports.monitoring[0]!, stderr: () => stderr };
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/** The first permission error the connection reports. */
async function permissionError(nc: NatsConnection): Promise<PermissionViolationError> {
  for await (const s of nc.status()) {
    if (s.type === 'error' && s.error instanceof PermissionViolationError) return s.error;
  }
  throw new Error('status stream ended without a permission error');
}

describe('nats.conf', () => {
  let dir: string;
  let server: Running;
  const open: NatsConnection[] = [];

  const as = async (user: 'node' | 'worker' | 'client'): Promise<NatsConnection> => {
    const pass = PASSWORDS[`DSPEX_${user.toUpperCase()}_PASSWORD` as keyof typeof PASSWORDS];
    const nc = await connect({ servers: server.url, user, pass, maxReconnectAttempts: 0 });
    open.push(nc);
    return nc;
  };

  /** Waits for the server to log `text`, so a later look at its log does not see it arrive late. */
  const serverLogged = (text: string): Promise<void> =>
    eventually(() => expect(server.stderr()).toContain(text));

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dspex-nats-conf-'));
    server = await startServer(dir, { ...process.env, ...PASSWORDS });
  });

  // Each test's connections (and so its subscriptions, e.g. a stand-in status responder) end with it.
  afterEach(async () => {
    await Promise.all(open.splice(0).map((nc) => nc.close().catch(() => undefined)));
  });

  afterAll(async () => {
    server?.child.kill('SIGTERM');
    if (server !== undefined) await exited(server.child);
    await rm(dir, { recursive: true, force: true });
  });

  it('parses, starts with JetStream and serves monitoring', async () => {
    const res = await fetch(`${server.monitorUrl}/varz`);
    const varz = (await res.json()) as {
      max_payload: number;
      jetstream?: { config?: { store_dir?: string } };
    };
    expect(varz.max_payload).toBe(8 * 1024 * 1024);
    expect(varz.jetstream?.config?.store_dir).toContain(join(dir, 'js'));
    expect(server.stderr()).not.toMatch(/\[(ERR|FTL)\]/);
  });

  it('refuses a wrong password', async () => {
    await expect(
      connect({ servers: server.url, user: 'client', pass: 'wrong', maxReconnectAttempts: 0 }),
    ).rejects.toThrow(/Authorization/i);
  });

  it('lets the client user call dspex.rpc.status', async () => {
    const node = await as('node');
    node.subscribe('dspex.rpc.status', {
      queue: 'dspex',
      callback: (_err, msg) => void msg.respond('{"nodes":[]}'),
    });
    await node.flush();
    const client = await as('client');
    const reply = await client.request('dspex.rpc.status', '{}', { timeout: 5000 });
    expect(reply.string()).toBe('{"nodes":[]}');
  });

  it('refuses the client user publishing to a pool subject', async () => {
    const node = await as('node');
    const received: string[] = [];
    node.subscribe('dspex.pool.>', { callback: (_err, msg) => void received.push(msg.subject) });
    await node.flush();
    const client = await as('client');
    const denied = permissionError(client);
    client.publish('dspex.pool.general', 'hello');
    const error = await denied;
    expect(error.operation).toBe('publish');
    expect(error.subject).toBe('dspex.pool.general');
    await serverLogged('Publish Violation - User "client", Subject "dspex.pool.general"');
    await client.flush();
    await node.flush();
    await sleep(100);
    expect(received).toEqual([]);
  });

  it('refuses the client user subscribing to a pool subject', async () => {
    const client = await as('client');
    const denied = permissionError(client);
    client.subscribe('dspex.pool.general');
    const error = await denied;
    expect(error.operation).toBe('subscription');
    expect(error.subject).toBe('dspex.pool.general');
    await serverLogged('Subscription Violation - User "client", Subject "dspex.pool.general"');
  });

  it('lets the worker user serve its pool, reply to calls and publish heartbeats', async () => {
    const worker = await as('worker');
    worker.subscribe('dspex.pool.general', {
      queue: 'general',
      callback: (_err, msg) => void msg.respond(`pong from ${msg.subject}`),
    });
    await worker.flush();

    const node = await as('node');
    const heartbeats: string[] = [];
    node.subscribe('dspex.hb.worker.*', { callback: (_err, msg) => void heartbeats.push(msg.string()) });
    await node.flush();

    const reply = await node.request('dspex.pool.general', 'ping', { timeout: 5000 });
    expect(reply.string()).toBe('pong from dspex.pool.general');

    worker.publish('dspex.hb.worker.general-1', 'beat');
    await worker.flush();
    await eventually(() => expect(heartbeats).toEqual(['beat']));
  });

  it('refuses the worker user publishing to the public API', async () => {
    const worker = await as('worker');
    const denied = permissionError(worker);
    worker.publish('dspex.rpc.predict', '{}');
    const error = await denied;
    expect(error.subject).toBe('dspex.rpc.predict');
    await serverLogged('Publish Violation - User "worker", Subject "dspex.rpc.predict"');
  });

  it('is enough for a real node, a real worker and a client to work together', async () => {
    const logBefore = server.stderr().length;
    const port = new URL(server.url).port;
    await using rt = await createRuntime({
      nats: { servers: server.url, user: 'node', pass: PASSWORDS.DSPEX_NODE_PASSWORD },
      nodeId: 'conf-test',
      pools: { general: { size: 1 } },
      worker: { natsUrl: `nats://worker:${PASSWORDS.DSPEX_WORKER_PASSWORD}@127.0.0.1:${port}` },
      logger: pino({ level: 'silent' }),
    });
    await rt.waitForWorkers('general', 1, 60_000);
    const nc = await as('client');
    await using client = await createClient({ nc });
    const reply = await client.predict({
      module: 'Predict',
      signature: 'question -> answer',
      inputs: { question: 'Who may call?' },
    });
    expect(reply.outputs).toEqual({ answer: 'answer for Who may call?' });
    const status = await client.status();
    expect(status.pools[0]?.workers[0]).toMatchObject({ state: 'ready', node: 'conf-test' });
    const info = await nc.request('$SRV.INFO.dspex', '', { timeout: 5000 });
    expect(info.json<{ name: string }>().name).toBe('dspex');
    expect(server.stderr().slice(logBefore)).not.toMatch(/Violation/);
  });

  it('refuses to start when a password variable is not set', async () => {
    const dir2 = await mkdtemp(join(tmpdir(), 'dspex-nats-conf-'));
    try {
      const env: NodeJS.ProcessEnv = { ...process.env, ...PASSWORDS };
      delete env.DSPEX_WORKER_PASSWORD;
      const child = spawn(BIN, ['-c', await testConfig(dir2)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (c: Buffer) => (output += c.toString()));
      child.stderr.on('data', (c: Buffer) => (output += c.toString()));
      expect(await exited(child)).not.toBe(0);
      expect(output).toContain("variable reference for 'DSPEX_WORKER_PASSWORD'");
    } finally {
      await rm(dir2, { recursive: true, force: true });
    }
  });
});
