import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { decode, encode, Encoding } from '../../src/protocol/codec.js';
import { createClient } from '../../src/runtime/client.js';
import { natsConnectionOptions } from '../../src/nats/nats-connect.js';
import { eventually } from '../harness/eventually.js';
import { makeOperator } from '../harness/jwt.js';
import { startNats, type NatsServer } from '../harness/nats.js';
import { workerBin } from '../harness/runtime.js';

/**
 * `.creds` files (a user JWT and its seed) work only against a server in operator (JWT) mode. The
 * test makes an operator, an account and users with nkeys and hand-signed JWTs, runs nats-server
 * with a memory resolver, and logs in with `.creds` files from the CLI, createClient and a Python
 * worker. (JetStream is off: the account JWT grants no JetStream, so no runtime node runs here.)
 */
describe('NATS login with .creds files (operator mode)', () => {
  let dir: string;
  let srv: NatsServer;
  let responder: NatsConnection;
  let worker: ChildProcess | undefined;

  beforeAll(async () => {
    const op = makeOperator();
    dir = await mkdtemp(join(tmpdir(), 'dspex-creds-'));
    for (const name of ['node', 'worker', 'client']) {
      await writeFile(join(dir, `${name}.creds`), op.userCreds(name), { mode: 0o600 });
    }
    srv = await startNats({ jetstream: false, extraConfig: op.serverConfig });
    // A stand-in node, itself logged in with a .creds file.
    responder = await connect({
      ...natsConnectionOptions([srv.url], { credsFile: join(dir, 'node.creds') }, 'node', 'stand-in'),
    });
    responder.subscribe('dspex.rpc.status', {
      callback: (_e, msg) => void msg.respond(encode({ nodes: [], pools: [] }, Encoding.Msgpack)),
    });
    await responder.flush();
  });
  afterAll(async () => {
    if (worker?.exitCode === null) worker.kill('SIGKILL');
    await responder?.close();
    await srv?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a connection without credentials', async () => {
    await expect(connect({ servers: srv.url, reconnect: false, maxReconnectAttempts: 0 })).rejects.toThrow(
      /Authorization/i,
    );
  });

  it('logs the CLI and createClient in with a .creds file', async () => {
    const out: string[] = [];
    const io = { stdout: (l: string) => out.push(l), stderr: () => {}, env: {}, onSignal: () => () => {} };
    const code = await main(
      ['status', '--json', '--nats', srv.url, '--nats-creds', join(dir, 'client.creds')],
      io,
    );
    expect(code).toBe(0);
    expect(JSON.parse(out.join('\n'))).toEqual({ nodes: [], pools: [] });
    await using client = await createClient({ servers: srv.url, credsFile: join(dir, 'client.creds') });
    expect(await client.status()).toEqual({ nodes: [], pools: [] });
  });

  it('logs a Python worker in with a .creds file', async () => {
    const beats: string[] = [];
    responder.subscribe('dspex.hb.worker.*', { callback: (_e, msg) => void beats.push(msg.subject) });
    await responder.flush();
    worker = spawn(
      workerBin,
      ['--nats', srv.url, '--creds', join(dir, 'worker.creds'), '--pool', 'general', '--id', 'creds-1'],
      {
        stdio: ['ignore', 'ignore', process.env.DSPEX_TEST_LOG ? 'inherit' : 'ignore'],
        env: { PATH: process.env.PATH, LITELLM_LOCAL_MODEL_COST_MAP: 'True' },
      },
    );
    await eventually(() => expect(beats).toContain('dspex.hb.worker.creds-1'), { timeoutMs: 90_000 });
    const pong = await responder.request(
      'dspex.pool.general.creds-1',
      encode({ op: 'ping' }, Encoding.Msgpack),
      {
        timeout: 5000,
      },
    );
    expect(decode(pong.data, Encoding.Msgpack)).toEqual({ pong: true, worker: 'creds-1' });
  });
});
