import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { headers as natsHeaders } from '@nats-io/nats-core';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decode, encode, Encoding } from '../../src/protocol/codec.js';
import { OptimizeEventSchema, type OptimizeEvent } from '../../src/protocol/optimize.js';
import { createClient, type Client } from '../../src/runtime/client.js';
import { createRuntime, type Runtime } from '../../src/runtime/runtime.js';
import { pino } from 'pino';
import { main } from '../../src/cli/main.js';
import { startRuntime } from '../harness/runtime.js';
import { eventually } from '../harness/eventually.js';
import { collectViolations } from '../harness/permissions.js';
import {
  exited,
  PASSWORDS,
  passwordOf,
  shippedConfig,
  startShippedNats,
  type Role,
  type ShippedNats,
} from '../harness/shipped-nats.js';

/**
 * One rule of the shipped nats.conf: may `role` publish to / subscribe to `subject`? For a wildcard
 * subscription, `probe` is the concrete subject the observer sends to check it.
 */
interface Rule {
  role: Role;
  op: 'pub' | 'sub';
  subject: string;
  probe?: string;
  allowed: boolean;
  why: string;
}

const allow = (role: Role, op: 'pub' | 'sub', subject: string, why: string, probe?: string): Rule => ({
  role,
  op,
  subject,
  probe,
  allowed: true,
  why,
});
const deny = (role: Role, op: 'pub' | 'sub', subject: string, why: string, probe?: string): Rule => ({
  role,
  op,
  subject,
  probe,
  allowed: false,
  why,
});

const RULES: Rule[] = [
  // --- node: the public service, the workers' subjects, JetStream; its own inbox only.
  allow('node', 'pub', 'dspex.pool.general.w-1', 'calls a worker'),
  allow('node', 'pub', 'dspex.optimize.cancel.run-1', 'cancels an optimizer run'),
  allow('node', 'pub', 'dspex.hb.node.n-1', 'heartbeats'),
  allow('node', 'pub', 'dspex.events.optimize.run-1', 'telemetry'),
  allow('node', 'pub', '_INBOX_client.abc.1', 'answers clients'),
  allow('node', 'pub', '_INBOX_worker.abc.1', 'answers tool calls of workers'),
  allow('node', 'pub', '_INBOX_node.abc.1', 'answers other nodes'),
  deny('node', 'pub', '_INBOX.abc.1', 'the default inbox prefix is no role’s'),
  deny('node', 'pub', 'other.subject', 'outside dspex'),
  allow('node', 'sub', 'dspex.>', 'serves and watches dspex subjects', 'dspex.rpc.predict'),
  allow('node', 'sub', '_INBOX_node.>', 'its own replies', '_INBOX_node.abc.1'),
  deny('node', 'sub', '_INBOX_client.>', 'clients’ replies', '_INBOX_client.abc.1'),
  deny('node', 'sub', '_INBOX_worker.>', 'workers’ replies', '_INBOX_worker.abc.1'),
  deny('node', 'sub', '_INBOX.>', 'the default inbox prefix', '_INBOX.abc.1'),

  // --- worker: heartbeats, tools, telemetry; its pool and cancel subjects; its own inbox.
  allow('worker', 'pub', 'dspex.hb.worker.w-1', 'heartbeats'),
  allow('worker', 'pub', 'dspex.tool.search', 'calls tools'),
  allow('worker', 'pub', 'dspex.events.optimize.run-1', 'optimizer progress'),
  deny('worker', 'pub', 'dspex.rpc.predict', 'the public API is for clients'),
  deny('worker', 'pub', 'dspex.pool.general.w-2', 'calls to other workers'),
  deny('worker', 'pub', 'dspex.hb.node.n-1', 'node heartbeats'),
  deny('worker', 'pub', 'dspex.optimize.cancel.run-1', 'cancels are the nodes’'),
  deny('worker', 'pub', '_INBOX_node.abc.1', 'an inbox it got no request from'),
  deny('worker', 'pub', '_INBOX_client.abc.1', 'clients’ inboxes'),
  deny('worker', 'pub', '_INBOX.abc.1', 'the default inbox prefix'),
  deny('worker', 'pub', '$KV.dspex_vars.x', 'JetStream state'),
  allow('worker', 'sub', 'dspex.pool.general', 'its pool’s queue'),
  allow('worker', 'sub', 'dspex.pool.general.w-1', 'its own subject'),
  allow('worker', 'sub', 'dspex.optimize.cancel.run-1', 'cancel requests for its runs'),
  allow('worker', 'sub', '_INBOX_worker.>', 'replies to its tool calls', '_INBOX_worker.abc.1'),
  deny('worker', 'sub', '_INBOX.>', 'the default inbox prefix', '_INBOX.abc.1'),
  deny('worker', 'sub', '_INBOX_node.>', 'nodes’ replies (workers’ outputs)', '_INBOX_node.abc.1'),
  deny('worker', 'sub', '_INBOX_client.>', 'clients’ replies', '_INBOX_client.abc.1'),
  deny('worker', 'sub', 'dspex.rpc.>', 'clients’ requests', 'dspex.rpc.predict'),
  deny('worker', 'sub', 'dspex.hb.worker.>', 'other workers’ heartbeats', 'dspex.hb.worker.w-2'),
  deny('worker', 'sub', 'dspex.tool.>', 'tool requests of other workers', 'dspex.tool.search'),
  deny('worker', 'sub', 'dspex.events.>', 'telemetry', 'dspex.events.optimize.run-1'),
  deny('worker', 'sub', '$KV.>', 'JetStream state', '$KV.dspex_vars.x'),

  // --- client: the public API and discovery; its own inbox and optimizer progress.
  allow('client', 'pub', 'dspex.rpc.predict', 'the public API'),
  allow('client', 'pub', '$SRV.PING.dspex', 'service discovery'),
  deny('client', 'pub', 'dspex.pool.general', 'workers only through a node'),
  deny('client', 'pub', 'dspex.pool.general.w-1', 'workers only through a node'),
  deny('client', 'pub', 'dspex.hb.worker.w-1', 'worker heartbeats'),
  deny('client', 'pub', 'dspex.optimize.cancel.run-1', 'cancels go through dspex.rpc.optimize.cancel'),
  deny('client', 'pub', 'dspex.tool.search', 'tools are for workers'),
  deny('client', 'pub', '_INBOX_node.abc.1', 'nodes’ inboxes'),
  deny('client', 'pub', '_INBOX_worker.abc.1', 'workers’ inboxes'),
  deny('client', 'pub', '$JS.API.STREAM.LIST', 'JetStream'),
  allow('client', 'sub', '_INBOX_client.>', 'its replies', '_INBOX_client.abc.1'),
  allow('client', 'sub', 'dspex.events.optimize.*', 'optimizer progress', 'dspex.events.optimize.run-1'),
  deny('client', 'sub', '_INBOX.>', 'the default inbox prefix', '_INBOX.abc.1'),
  deny('client', 'sub', '_INBOX_node.>', 'nodes’ replies', '_INBOX_node.abc.1'),
  deny('client', 'sub', '_INBOX_worker.>', 'workers’ replies', '_INBOX_worker.abc.1'),
  deny('client', 'sub', 'dspex.pool.>', 'calls to workers', 'dspex.pool.general'),
  deny('client', 'sub', 'dspex.rpc.>', 'other clients’ requests', 'dspex.rpc.predict'),
  deny('client', 'sub', 'dspex.events.>', 'all telemetry', 'dspex.events.calls'),
  deny(
    'client',
    'sub',
    'dspex.pipeline.*.events',
    'pipeline events carry outputs',
    'dspex.pipeline.r-1.events',
  ),
  deny('client', 'sub', 'dspex.hb.>', 'heartbeats', 'dspex.hb.worker.w-1'),
  deny('client', 'sub', '$KV.>', 'JetStream state', '$KV.dspex_vars.x'),
];

/** A subject each role may publish to and the observer watches: sent after a denied one as a fence. */
const PUB_FENCE: Record<Role, string> = {
  node: 'dspex.fence',
  worker: 'dspex.events.fence',
  client: 'dspex.rpc.fence',
};

describe('the shipped nats.conf', () => {
  let srv: ShippedNats;

  beforeAll(async () => {
    srv = await startShippedNats({ observer: true });
  });
  afterAll(async () => {
    await srv?.stop();
  });

  it('parses, starts with JetStream and serves monitoring', async () => {
    const res = await fetch(`${srv.monitorUrl}/varz`);
    const varz = (await res.json()) as {
      max_payload: number;
      jetstream?: { config?: { store_dir?: string } };
    };
    expect(varz.max_payload).toBe(8 * 1024 * 1024);
    expect(varz.jetstream?.config?.store_dir).toContain(join(srv.dir, 'js'));
    expect(srv.stderr()).not.toMatch(/\[(ERR|FTL)\]/);
  });

  it('refuses a wrong password', async () => {
    await expect(
      connect({ servers: srv.url, user: 'client', pass: 'wrong', maxReconnectAttempts: 0 }),
    ).rejects.toThrow(/Authorization/i);
  });

  describe.each(RULES)('$role $op $subject', (rule) => {
    it(`is ${rule.allowed ? 'allowed' : 'denied'}: ${rule.why}`, async () => {
      if (rule.op === 'pub') await checkPublish(rule);
      else await checkSubscribe(rule);
    });
  });

  /** Publish: allowed iff the observer receives it; denied iff the server says so and nothing arrives. */
  async function checkPublish(rule: Rule): Promise<void> {
    const observer = await srv.connectAs('observer');
    const got: string[] = [];
    for (const s of [rule.subject, PUB_FENCE[rule.role]])
      observer.subscribe(s, { callback: (_e, m) => void got.push(m.subject) });
    await observer.flush();
    const tester = await srv.connectAs(rule.role);
    const violations = collectViolations(tester);
    tester.publish(rule.subject, 'probe');
    if (rule.allowed) {
      await eventually(() => expect(got).toContain(rule.subject));
      await tester.flush();
      expect(violations).toEqual([]);
    } else {
      await eventually(() =>
        expect(violations).toContainEqual({ operation: 'publish', subject: rule.subject }),
      );
      tester.publish(PUB_FENCE[rule.role], 'fence');
      await eventually(() => expect(got).toContain(PUB_FENCE[rule.role]));
      expect(got).not.toContain(rule.subject);
    }
    await Promise.all([tester.close(), observer.close()]);
  }

  /** Subscribe: allowed iff a message the observer sends arrives; denied iff the server says so and it does not. */
  async function checkSubscribe(rule: Rule): Promise<void> {
    const probe = rule.probe ?? rule.subject;
    const fence = `_INBOX_${rule.role}.fence`;
    const tester = await srv.connectAs(rule.role);
    const violations = collectViolations(tester);
    const got: string[] = [];
    tester.subscribe(rule.subject, { callback: (_e, m) => void got.push(m.subject) });
    tester.subscribe(fence, { callback: (_e, m) => void got.push(m.subject) });
    await tester.flush();
    const observer = await srv.connectAs('observer');
    observer.publish(probe, 'probe');
    observer.publish(fence, 'fence');
    await observer.flush();
    await eventually(() => expect(got).toContain(fence), { timeoutMs: 5000 });
    if (rule.allowed) {
      expect(got).toContain(probe);
      expect(violations).toEqual([]);
    } else {
      expect(violations).toContainEqual({ operation: 'subscription', subject: rule.subject });
      expect(got).not.toContain(probe);
    }
    await Promise.all([tester.close(), observer.close()]);
  }

  it.each(['node', 'worker', 'client'] as const)(
    'lets %s read generated inbox subjects under its own prefix only',
    async (role) => {
      // Random inbox subjects as nats.js, nats-py and other clients make them, under every prefix.
      const token = fc.stringMatching(/^[A-Za-z0-9_-]{1,22}$/);
      const subjectsOf = (prefix: string, seed: number): string[] =>
        fc
          .sample(fc.array(token, { minLength: 1, maxLength: 4 }), { numRuns: 15, seed })
          .map((tokens) => [prefix, ...tokens].join('.'));
      const own = subjectsOf(`_INBOX_${role}`, 1);
      const foreign = ['_INBOX', '_INBOX_node', '_INBOX_worker', '_INBOX_client', '_INBOX_other']
        .filter((p) => p !== `_INBOX_${role}`)
        .flatMap((p, i) => subjectsOf(p, 10 + i));
      const tester = await srv.connectAs(role);
      const violations = collectViolations(tester);
      const got = new Set<string>();
      for (const s of [...own, ...foreign])
        tester.subscribe(s, { callback: (_e, m) => void got.add(m.subject) });
      await tester.flush();
      const observer = await srv.connectAs('observer');
      for (const s of [...foreign, ...own]) observer.publish(s, 'probe');
      await observer.flush();
      await eventually(() => expect(own.every((s) => got.has(s))).toBe(true), { timeoutMs: 5000 });
      expect(foreign.filter((s) => got.has(s))).toEqual([]);
      await eventually(() => expect(new Set(violations.map((v) => v.subject))).toEqual(new Set(foreign)));
      await Promise.all([tester.close(), observer.close()]);
    },
  );

  it('lets a worker answer a request it received, once, and no other inbox', async () => {
    const worker = await srv.connectAs('worker');
    const violations = collectViolations(worker);
    let request: { reply?: string } | undefined;
    worker.subscribe('dspex.pool.general', {
      queue: 'general',
      callback: (_e, msg) => {
        request = msg;
        msg.respond('first');
      },
    });
    await worker.flush();
    const node = await srv.connectAs('node');
    const reply = await node.request('dspex.pool.general', 'ping', { timeout: 5000 });
    expect(reply.string()).toBe('first');
    // A second answer to the same request is refused (allow_responses max 1).
    worker.publish(request!.reply!, 'second');
    await eventually(() =>
      expect(violations).toContainEqual({ operation: 'publish', subject: request!.reply! }),
    );
  });

  it('refuses to start when a password variable is not set', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dspex-nats-conf-'));
    try {
      const env: NodeJS.ProcessEnv = { ...process.env, ...PASSWORDS };
      delete env.DSPEX_WORKER_PASSWORD;
      const child = spawn(
        process.env.DSPEX_NATS_SERVER_BIN ?? 'nats-server',
        ['-c', await shippedConfig(dir)],
        {
          env,
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let output = '';
      child.stdout.on('data', (c: Buffer) => (output += c.toString()));
      child.stderr.on('data', (c: Buffer) => (output += c.toString()));
      expect(await exited(child)).not.toBe(0);
      expect(output).toContain("variable reference for 'DSPEX_WORKER_PASSWORD'");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

const trainset = [
  { question: 'Capital of France? Paris', answer: 'Paris' },
  { question: 'What is 2+2?', answer: '4' },
  { question: 'Colour of the sky: blue', answer: 'blue' },
];

describe('a node, its workers and a client under the shipped nats.conf', () => {
  let srv: ShippedNats;
  let dir: string;
  let rt: Runtime;
  let client: Client;

  beforeAll(async () => {
    srv = await startShippedNats();
    dir = await mkdtemp(join(tmpdir(), 'dspex-conf-e2e-'));
    await writeFile(join(dir, 'secret'), 'conf-e2e-cluster-worker-secret-1234\n', { mode: 0o600 });
    rt = await startRuntime(srv.url, {
      nats: { servers: srv.url, user: 'node', pass: passwordOf('node') },
      nodeId: 'conf-test',
      worker: { nats: { user: 'worker', pass: passwordOf('worker') }, secretFile: join(dir, 'secret') },
      pools: { general: { size: 2 }, optimizer: { size: 1 } },
    });
    // As an application would: its own connection, with the defaults of createClient.
    client = await createClient({ servers: srv.url, user: 'client', pass: passwordOf('client') });
  }, 180_000);
  afterAll(async () => {
    await client?.close();
    await rt?.stop();
    await srv?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves predict, status and service discovery to the client', async () => {
    const reply = await client.predict({
      module: 'Predict',
      signature: 'question -> answer',
      inputs: { question: 'Who may call?' },
    });
    expect(reply.outputs).toEqual({ answer: 'answer for Who may call?' });
    const status = await client.status();
    expect(status.pools.find((p) => p.name === 'general')?.workers).toHaveLength(2);
    const info = await client.nc.request('$SRV.INFO.dspex', '', { timeout: 5000 });
    expect(info.json<{ name: string }>().name).toBe('dspex');
  });

  it('lets the client follow an optimizer run’s progress and cancel it through a node', async () => {
    const nc = client.nc;
    const events: OptimizeEvent[] = [];
    nc.subscribe('dspex.events.optimize.conf-run', {
      callback: (_e, msg) => {
        const parsed = OptimizeEventSchema.safeParse(decode(msg.data, Encoding.Msgpack));
        if (parsed.success) events.push(parsed.data);
      },
    });
    await nc.flush();
    const h = natsHeaders();
    h.set('Dspex-Deadline', String(Date.now() + 120_000));
    const run = nc.request(
      'dspex.rpc.optimize.compile',
      encode(
        {
          optimizer: 'BootstrapFewShotWithRandomSearch',
          signature: 'question -> answer',
          trainset: Array.from({ length: 30 }, () => trainset).flat(),
          metric: { name: 'contains', field: 'answer' },
          settings: { num_candidate_programs: 50 },
          run_id: 'conf-run',
        },
        Encoding.Msgpack,
      ),
      { timeout: 120_000, headers: h },
    );
    await eventually(() => expect(events.some((e) => e.done > 0)).toBe(true), { timeoutMs: 60_000 });
    const ack = await nc.request(
      'dspex.rpc.optimize.cancel',
      encode({ run_id: 'conf-run' }, Encoding.Msgpack),
      {
        timeout: 10_000,
      },
    );
    expect(decode(ack.data, Encoding.Msgpack)).toMatchObject({ run_id: 'conf-run', cancelled: true });
    expect(decode((await run).data, Encoding.Msgpack)).toMatchObject({
      run_id: 'conf-run',
      status: 'cancelled',
    });
    await eventually(() => expect(events.at(-1)?.status).toBe('cancelled'));
  });

  it('lets the CLI, as the client user, cancel through a node', async () => {
    const err: string[] = [];
    const io = {
      stdout: () => {},
      stderr: (l: string) => err.push(l),
      env: { DSPEX_NATS_USER: 'client', DSPEX_NATS_PASSWORD: passwordOf('client') },
      onSignal: () => () => {},
    };
    expect(await main(['optimize', 'cancel', 'no-such-run', '--nats', srv.url], io)).toBe(1);
    expect(err.at(-1)).toMatch(/not_found: run no-such-run is not running/);
    expect(srv.stderr()).not.toMatch(/Violation/);
  });

  it('warns at start when the server requires a login and no worker secret is set (open mode)', async () => {
    const lines: string[] = [];
    const open = await createRuntime({
      nats: { servers: srv.url, user: 'node', pass: passwordOf('node') },
      pools: { general: { size: 0 } },
      serve: false,
      logger: pino({ level: 'warn' }, { write: (l: string) => void lines.push(l) }),
    });
    await open.stop();
    expect(lines.join('')).toMatch(/no worker secret.*worker identity is not checked/);
    expect(lines.join('')).not.toContain(passwordOf('node'));
  });

  it('logged no permission violation and no dropped worker message', async () => {
    expect(srv.stderr()).not.toMatch(/Violation/);
    const rejected = await rt.metrics.workerIdentityRejected.get();
    expect(rejected.values.reduce((n, v) => n + v.value, 0)).toBe(0);
  });
});
