import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { NatsConnection } from '@nats-io/nats-core';
import { Kvm } from '@nats-io/kv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Runtime, SessionRecord } from '../../src/index.js';
import { eventually } from '../harness/eventually.js';
import { client, startNats, type NatsServer } from '../harness/nats.js';
import { alive } from '../harness/process.js';
import { startRuntime } from '../harness/runtime.js';
import { callJson } from '../harness/wire.js';

describe('sessions persisted in KV', () => {
  let srv: NatsServer;
  let nc: NatsConnection & AsyncDisposable;
  let child: ChildProcess | undefined;
  let childPid = 0;
  let workers: Array<{ id: string; pid: number }> = [];
  let b: Runtime | undefined;

  beforeAll(async () => {
    srv = await startNats();
    nc = await client(srv.url);
    child = spawn(
      process.execPath,
      ['--import', 'tsx', new URL('./fixtures/durable-node-child.ts', import.meta.url).pathname],
      { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, DSPEX_NATS_URL: srv.url } },
    );
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child!.stdout! }).once('line', resolve);
      child!.once('exit', (code) => reject(new Error(`node child exited early (${code})`)));
    });
    ({ pid: childPid, workers } = JSON.parse(line) as {
      pid: number;
      workers: Array<{ id: string; pid: number }>;
    });
  });
  afterAll(async () => {
    if (childPid !== 0 && alive(childPid)) child?.kill('SIGKILL');
    await b?.stop();
    await nc?.close();
    await srv?.stop();
  });

  it('keeps state, history, metrics and worker affinity reachable from another node after the first dies', async () => {
    const opened = await callJson(nc, 'dspex.rpc.session.open', {
      id: 'chat-1',
      ttl_ms: 120_000,
      state: { user: 'ada' },
    });
    expect(opened.status).toBe(0);
    expect(opened.body).toMatchObject({
      id: 'chat-1',
      status: 'open',
      node: 'node-a',
      state: { user: 'ada' },
      ttl_ms: 120_000,
    });

    for (const question of ['one?', 'two?']) {
      const reply = await callJson(nc, 'dspex.rpc.predict', {
        module: 'Predict',
        signature: 'question -> answer',
        inputs: { question },
        session: 'chat-1',
      });
      expect(reply.body).toMatchObject({ outputs: { answer: `answer for ${question}` } });
    }
    // A failed call counts too (422: the input does not match the signature).
    const bad = await callJson(nc, 'dspex.rpc.predict', {
      module: 'Predict',
      signature: 'question -> answer',
      inputs: { question: 3 },
      session: 'chat-1',
    });
    expect(bad.status).toBe(422);
    await eventually(async () =>
      expect((await callJson(nc, 'dspex.rpc.session.get', { id: 'chat-1' })).body.metrics).toMatchObject({
        calls: 3,
      }),
    );

    child!.kill('SIGKILL');
    await eventually(() => expect(alive(childPid)).toBe(false));

    b = await startRuntime(srv.url, {
      nodeId: 'node-b',
      pools: { general: { size: 0 } },
      sessions: { sweepMs: 200 },
    });
    const record: SessionRecord = await b.sessions.get('chat-1');
    expect(record.state).toEqual({ user: 'ada' });
    expect(record.history.map((h) => [h.module, h.ok, h.code ?? null])).toEqual([
      ['Predict', true, null],
      ['Predict', true, null],
      ['Predict', false, 'validation_failed'],
    ]);
    expect(record.metrics).toMatchObject({ calls: 3, errors: 1 });
    expect(record.metrics.latency_ms_ewma).not.toBeNull();
    expect(record.affinity).toMatchObject({ pool: 'general', worker: workers[0]!.id, node: 'node-a' });

    // Node B continues the session: it updates it and closes it.
    const updated = await b.sessions.update('chat-1', {
      state: { turn: 3 },
      optimization: { demos: [{ q: 'x' }] },
    });
    expect(updated).toMatchObject({
      node: 'node-b',
      state: { user: 'ada', turn: 3 },
      optimization: { demos: [{ q: 'x' }] },
    });
    const viaWire = await callJson(nc, 'dspex.rpc.session.get', { id: 'chat-1' });
    expect(viaWire.body).toMatchObject({ node: 'node-b', state: { turn: 3 } });
    const closed = await callJson(nc, 'dspex.rpc.session.close', { id: 'chat-1' });
    expect(closed.body).toMatchObject({ id: 'chat-1', status: 'closed' });
    const gone = await callJson(nc, 'dspex.rpc.session.get', { id: 'chat-1' });
    expect(gone.status).toBe(404);
    expect(gone.body.error!.details).toEqual({ field: 'id' });
  });

  it('expires an idle session after its TTL and sweeps its record from KV', async () => {
    expect(b).toBeDefined();
    const opened = await b!.sessions.open({ id: 'short', ttlMs: 1000 });
    expect(opened.expires_at - opened.created_at).toBe(1000);
    expect((await b!.sessions.get('short')).id).toBe('short');
    await eventually(
      async () => expect((await callJson(nc, 'dspex.rpc.session.get', { id: 'short' })).status).toBe(404),
      {
        timeoutMs: 10_000,
      },
    );
    const kv = await new Kvm(nc).open('dspex_sessions');
    await eventually(async () => expect(await kv.get('short')).toMatchObject({ operation: 'DEL' }), {
      timeoutMs: 10_000,
    });
  });

  it('answers bad requests with a 4xx naming the field', async () => {
    const badId = await callJson(nc, 'dspex.rpc.session.open', { id: 'has space' });
    expect(badId.status).toBe(400);
    expect(badId.body.error?.details).toMatchObject({ field: 'id' });
    const shortTtl = await callJson(nc, 'dspex.rpc.session.open', { ttl_ms: 5 });
    expect(shortTtl.status).toBe(400);
    expect(shortTtl.body.error?.details).toMatchObject({ field: 'ttl_ms' });
    const unknown = await callJson(nc, 'dspex.rpc.session.get', { id: 'never-opened' });
    expect(unknown.status).toBe(404);
    const generated = await callJson(nc, 'dspex.rpc.session.open', {});
    expect(String(generated.body.id)).toMatch(/^s-[0-9a-f]{16}$/);
  });
});
