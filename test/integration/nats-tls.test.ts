import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nkeys } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { createClient } from '../../src/runtime/client.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { startNats, type NatsServer } from '../harness/nats.js';
import { startRuntime } from '../harness/runtime.js';
import { makePki, type TestPki } from '../harness/tls.js';

/**
 * A nats-server that requires TLS with verified client certificates, with a user/password node, an
 * nkey worker and an nkey client: a node and its workers and a client (the API and the CLI) all work
 * over it, and a connection without a client certificate is refused.
 */
describe('NATS over TLS with client certificates and nkey logins', () => {
  let dir: string;
  let pki: TestPki;
  let srv: NatsServer;
  let url: string;
  let rt: Runtime;
  const worker = nkeys.createUser();
  const cliUser = nkeys.createUser();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dspex-tls-'));
    pki = makePki(dir);
    await writeFile(join(dir, 'worker.nk'), new TextDecoder().decode(worker.getSeed()) + '\n', {
      mode: 0o600,
    });
    await writeFile(join(dir, 'cli.nk'), new TextDecoder().decode(cliUser.getSeed()) + '\n', { mode: 0o600 });
    await writeFile(join(dir, 'secret'), 'tls-test-cluster-worker-secret-000\n', { mode: 0o600 });
    srv = await startNats({
      extraConfig: `
tls {
  cert_file: "${pki.server.cert}"
  key_file: "${pki.server.key}"
  ca_file: "${pki.ca}"
  verify: true
  timeout: 5
}
authorization {
  users: [
    { user: node, password: "node-tls-pw" }
    { nkey: ${worker.getPublicKey()} }
    { nkey: ${cliUser.getPublicKey()} }
    { user: client, password: "client-tls-pw" }
  ]
}
`,
    });
    url = `tls://127.0.0.1:${srv.port}`;
    const nodeCert = pki.client('node');
    const workerCert = pki.client('worker');
    rt = await startRuntime(url, {
      nats: {
        servers: url,
        user: 'node',
        pass: 'node-tls-pw',
        tls: { caFile: pki.ca, certFile: nodeCert.cert, keyFile: nodeCert.key },
      },
      worker: {
        nats: {
          nkeySeedFile: join(dir, 'worker.nk'),
          tls: { caFile: pki.ca, certFile: workerCert.cert, keyFile: workerCert.key },
        },
        secretFile: join(dir, 'secret'),
      },
      pools: { general: { size: 2 } },
    });
  }, 180_000);
  afterAll(async () => {
    await rt?.stop();
    await srv?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('runs workers that log in with an nkey over TLS, and serves a TLS client', async () => {
    expect(rt.status().pools[0]!.workers.filter((w) => w.state === 'ready')).toHaveLength(2);
    const cert = pki.client('app');
    await using client = await createClient({
      servers: url,
      user: 'client',
      pass: 'client-tls-pw',
      tls: { caFile: pki.ca, certFile: cert.cert, keyFile: cert.key },
    });
    const reply = await client.predict({
      module: 'Predict',
      signature: 'question -> answer',
      inputs: { question: 'over TLS?' },
    });
    expect(reply.outputs.answer).toBe('answer for over TLS?');
  });

  it('serves the CLI logging in with an nkey seed file over TLS', async () => {
    const cert = pki.client('cli');
    const out: string[] = [];
    const err: string[] = [];
    const io = {
      stdout: (l: string) => out.push(l),
      stderr: (l: string) => err.push(l),
      env: { DSPEX_NATS_TLS_CA: pki.ca, DSPEX_NATS_NKEY_SEED_FILE: join(dir, 'cli.nk') },
      onSignal: () => () => {},
    };
    const code = await main(
      ['status', '--json', '--nats', url, '--tls-cert', cert.cert, '--tls-key', cert.key],
      io,
    );
    expect(err).toEqual([]);
    expect(code).toBe(0);
    const status = JSON.parse(out.join('\n')) as { pools: Array<{ workers: unknown[] }> };
    expect(status.pools[0]!.workers).toHaveLength(2);
  });

  it('refuses a connection without a client certificate, and a wrong nkey', async () => {
    await expect(
      connect({
        servers: url,
        user: 'client',
        pass: 'client-tls-pw',
        tls: { caFile: pki.ca },
        maxReconnectAttempts: 0,
        reconnect: false,
      }),
    ).rejects.toThrow(/certificate|ECONNRESET/); // refused in the TLS handshake
    const io = { stdout: () => {}, stderr: (l: string) => err.push(l), env: {}, onSignal: () => () => {} };
    const err: string[] = [];
    await writeFile(join(dir, 'other.nk'), new TextDecoder().decode(nkeys.createUser().getSeed()));
    const cert = pki.client('cli2');
    const code = await main(
      [
        'status',
        '--nats',
        url,
        '--tls-ca',
        pki.ca,
        '--tls-cert',
        cert.cert,
        '--tls-key',
        cert.key,
        '--nats-nkey',
        join(dir, 'other.nk'),
      ],
      io,
    );
    expect(code).toBe(1);
    expect(err.join('\n')).toMatch(/NATS at .* refused the login \(nkeySeedFile\)/);
  });
});
