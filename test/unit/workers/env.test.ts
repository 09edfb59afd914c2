import fc from 'fast-check';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../../src/runtime/config.js';
import { handoffJson, resolveWorkerConnection } from '../../../src/workers/connection.js';
import { isForbiddenWorkerEnv, workerEnvironment } from '../../../src/workers/env.js';

const NODE_ENV = {
  PATH: '/usr/bin',
  HOME: '/home/dspex',
  LANG: 'C.UTF-8',
  LC_ALL: 'C.UTF-8',
  TZ: 'UTC',
  PYTHONPATH: '/opt/py',
  VIRTUAL_ENV: '/opt/venv',
  DSPEX_LM: 'openai/gpt-4o-mini',
  DSPEX_LM_API_BASE: 'http://lm:8000/v1',
  DSPEX_LM_API_KEY: 'sk-lm',
  LITELLM_LOG: 'ERROR',
  OPENAI_API_KEY: 'sk-openai',
  ANTHROPIC_API_KEY: 'sk-ant',
  MYPROVIDER_API_KEY: 'sk-other',
  // The node's own: none of these may reach a worker.
  DSPEX_NODE_PASSWORD: 'node-pw',
  DSPEX_WORKER_PASSWORD: 'worker-pw',
  DSPEX_CLIENT_PASSWORD: 'client-pw',
  DSPEX_NATS_URL: 'nats://node:node-pw@h:4222',
  DSPEX_NATS_PASSWORD: 'node-pw',
  DSPEX_WORKER_NATS_PASSWORD: 'worker-pw',
  DSPEX_WORKER_SECRET: 'the-cluster-secret',
  DSPEX_WORKER_SECRET_FILE: '/etc/dspex/secret',
  NATS_PASSWORD: 'x',
  AWS_SECRET_ACCESS_KEY: 'aws',
  DATABASE_URL: 'postgres://u:p@db/app',
  SECRET_SAUCE: 'never',
  NODE_OPTIONS: '--inspect',
};

describe('the environment of local workers', () => {
  it('passes what Python, DSPy, litellm and the LM providers need, and none of the node’s own secrets', () => {
    const env = workerEnvironment(NODE_ENV, [], {}, {});
    expect(env).toEqual({
      PATH: '/usr/bin',
      HOME: '/home/dspex',
      LANG: 'C.UTF-8',
      LC_ALL: 'C.UTF-8',
      TZ: 'UTC',
      PYTHONPATH: '/opt/py',
      VIRTUAL_ENV: '/opt/venv',
      DSPEX_LM: 'openai/gpt-4o-mini',
      DSPEX_LM_API_BASE: 'http://lm:8000/v1',
      DSPEX_LM_API_KEY: 'sk-lm',
      LITELLM_LOG: 'ERROR',
      LITELLM_LOCAL_MODEL_COST_MAP: 'True',
      OPENAI_API_KEY: 'sk-openai',
      ANTHROPIC_API_KEY: 'sk-ant',
      MYPROVIDER_API_KEY: 'sk-other',
      AWS_SECRET_ACCESS_KEY: 'aws',
    });
  });

  it('adds variables the config names and explicit values, the pool’s last', () => {
    const env = workerEnvironment(NODE_ENV, ['DATABASE_URL'], { A: '1', B: '1' }, { B: '2' });
    expect(env).toMatchObject({ DATABASE_URL: 'postgres://u:p@db/app', A: '1', B: '2' });
  });

  it('refuses to name dspex or NATS credentials in worker.passEnv', () => {
    for (const name of [
      'DSPEX_NODE_PASSWORD',
      'DSPEX_NATS_TOKEN',
      'DSPEX_WORKER_SECRET_FILE',
      'NATS_PASSWORD',
    ]) {
      expect(isForbiddenWorkerEnv(name)).toBe(true);
      expect(() => resolveConfig({ worker: { passEnv: [name] } })).toThrow(
        /worker.passEnv.0: NATS and dspex/,
      );
    }
  });

  it('never passes a variable whose name carries a dspex or NATS credential, whatever its value', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('DSPEX_NATS_', 'DSPEX_WORKER_', 'DSPEX_NODE_', 'DSPEX_CLIENT_', 'NATS_', 'NKEYS_'),
        fc.stringMatching(/^[A-Z0-9_]{0,20}$/),
        fc.string(),
        (prefix, rest, value) => {
          const name = prefix + rest;
          expect(workerEnvironment({ [name]: value }, [name], {}, {})).not.toHaveProperty(name);
        },
      ),
      { numRuns: 300, seed: 9 },
    );
  });
});

describe('the NATS connection of local workers', () => {
  const logs: string[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => void logs.push(line) });

  it('lifts credentials out of worker.natsUrl, so argv gets the bare URL', () => {
    const c = resolveWorkerConnection(
      ['nats://h:4222'],
      {},
      'nats://worker:w%40pw@h1:4222,nats://worker:w%40pw@h2:4222',
      undefined,
      logger,
    );
    expect(c).toEqual({
      servers: ['nats://h1:4222', 'nats://h2:4222'],
      auth: { user: 'worker', pass: 'w@pw', inboxPrefix: '_INBOX_worker' },
    });
    expect(JSON.parse(handoffJson(c.auth, Buffer.alloc(32, 1)))).toEqual({
      user: 'worker',
      password: 'w@pw',
      inbox_prefix: '_INBOX_worker',
      worker_key: '01'.repeat(32),
    });
  });

  it('falls back to the node’s login and client certificate with a warning', () => {
    logs.length = 0;
    const node = {
      user: 'node',
      pass: 'npw',
      tls: { caFile: '/ca.pem', certFile: '/n.pem', keyFile: '/n.key' },
    };
    const c = resolveWorkerConnection(['tls://h:4222'], node, undefined, undefined, logger);
    expect(c.auth).toMatchObject({ user: 'node', pass: 'npw', tls: node.tls, inboxPrefix: '_INBOX_worker' });
    expect(logs.join('')).toMatch(/node's own login and client certificate/);
  });

  it('keeps the workers’ own login and TLS, and takes only the CA from the node silently', () => {
    logs.length = 0;
    const c = resolveWorkerConnection(
      ['nats://h:4222'],
      { user: 'node', pass: 'npw', tls: { caFile: '/ca.pem' } },
      undefined,
      { nkeySeedFile: '/w.nk', inboxPrefix: '_INBOX_w2' },
      logger,
    );
    expect(c.auth).toEqual({ nkeySeedFile: '/w.nk', inboxPrefix: '_INBOX_w2', tls: { caFile: '/ca.pem' } });
    expect(logs).toEqual([]);
  });

  it('refuses credentials given twice', () => {
    expect(() => resolveWorkerConnection([], {}, 'nats://a:b@h:4222', { token: 't' }, logger)).toThrow(
      /both in worker.natsUrl and in worker.nats/,
    );
  });
});
