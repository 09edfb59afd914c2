import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isDspexError } from '../../../src/errors.js';
import {
  envLayer,
  finishConfig,
  flagsLayer,
  loadConfigFile,
  mergeLayers,
  parsePoolFlag,
  resolveLogLevel,
} from '../../../src/cli/node-config.js';
import { nodeCommand } from '../../../src/cli/node-command.js';

function fieldOf(error: unknown): unknown {
  return isDspexError(error) ? error.details?.field : undefined;
}

describe('node config layers', () => {
  it('lets flags win over the environment and the environment over the file', () => {
    const file = {
      nodeId: 'from-file',
      prefix: 'fileprefix',
      worker: { lm: 'file-lm', launcher: 'direct' as const },
    };
    const env = envLayer({ DSPEX_NODE_ID: 'from-env', DSPEX_LM: 'env-lm' });
    const flags = flagsLayer({ nodeId: 'from-flag' });
    const merged = mergeLayers(file, env, flags);
    expect(merged.nodeId).toBe('from-flag');
    expect(merged.worker).toEqual({ lm: 'env-lm', launcher: 'direct' });
    expect(merged.prefix).toBe('fileprefix');
  });

  it('merges a --pool flag into the file pool of the same name and keeps the other pools', () => {
    const file = { pools: { general: { size: 2, concurrency: 8 }, optimizer: { size: 1 } } };
    const merged = mergeLayers(file, flagsLayer({ pools: ['general=1', 'neural=0'] }));
    expect(merged.pools).toEqual({
      general: { size: 1, concurrency: 8 },
      optimizer: { size: 1 },
      neural: { size: 0 },
    });
  });

  it('replaces arrays instead of merging them', () => {
    const merged = mergeLayers(
      { nats: { servers: ['nats://a:4222', 'nats://b:4222'] } },
      flagsLayer({ nats: 'nats://c:4222' }),
    );
    expect(merged.nats).toEqual({ servers: ['nats://c:4222'] });
  });

  it('reads DSPEX_PREFIX, DSPEX_NATS_URL and DSPEX_WORKER_NATS_URL from the environment', () => {
    expect(
      envLayer({
        DSPEX_PREFIX: 'acme',
        DSPEX_NATS_URL: 'nats://node:pw@h1:4222, nats://node:pw@h2:4222',
        DSPEX_WORKER_NATS_URL: 'nats://worker:wpw@h1:4222',
      }),
    ).toEqual({
      prefix: 'acme',
      nats: { servers: ['nats://h1:4222', 'nats://h2:4222'], user: 'node', pass: 'pw' },
      worker: { natsUrl: 'nats://worker:wpw@h1:4222' },
    });
  });

  it('never writes the node credentials into a worker URL (the runtime hands workers their login)', () => {
    const config = finishConfig(
      flagsLayer({ nats: 'nats://node:s3cret@h1:4222,nats://node:s3cret@h2:4222' }),
    );
    expect(config.nats).toEqual({
      servers: ['nats://h1:4222', 'nats://h2:4222'],
      user: 'node',
      pass: 's3cret',
    });
    expect(config.worker).toBeUndefined();
  });

  it('layers login files, TLS, the inbox prefix and the worker secret from flags over the environment', () => {
    const env = {
      DSPEX_NATS_URL: 'tls://h1:4222',
      DSPEX_NATS_TLS_CA: '/env/ca.pem',
      DSPEX_NATS_TLS_CERT: '/env/node.pem',
      DSPEX_NATS_TLS_KEY: '/env/node.key',
      DSPEX_WORKER_NATS_USER: 'worker',
      DSPEX_WORKER_NATS_PASSWORD: 'wpw',
      DSPEX_WORKER_SECRET_FILE: '/env/secret',
    };
    const config = finishConfig(
      mergeLayers(
        envLayer(env),
        flagsLayer({
          natsNkey: '/flags/node.nk',
          tlsCa: '/flags/ca.pem',
          inboxPrefix: '_INBOX_app',
          workerSecretFile: '/flags/secret',
        }),
      ),
    );
    expect(config.nats).toEqual({
      servers: ['tls://h1:4222'],
      nkeySeedFile: '/flags/node.nk',
      inboxPrefix: '_INBOX_app',
      tls: { caFile: '/flags/ca.pem', certFile: '/env/node.pem', keyFile: '/env/node.key' },
    });
    expect(config.worker).toEqual({ nats: { user: 'worker', pass: 'wpw' }, secretFile: '/flags/secret' });
  });

  it('refuses two ways to log in, naming the field', () => {
    expect(() => finishConfig(flagsLayer({ nats: 'nats://u:p@h1:4222', natsNkey: '/n.nk' }))).toThrow(
      /nats: give one way to log in, not user\/pass and nkeySeedFile/,
    );
    expect(() => finishConfig(flagsLayer({ tlsCert: '/c.pem' }))).toThrow(
      /nats.tls.keyFile: certFile and keyFile go together/,
    );
  });

  it('keeps an explicit worker URL', () => {
    const config = finishConfig(
      flagsLayer({ nats: 'nats://node:pw@h1:4222', workerNats: 'nats://worker:wpw@h1:4222' }),
    );
    expect(config.worker?.natsUrl).toBe('nats://worker:wpw@h1:4222');
  });

  it('leaves the worker URL to the runtime when the node does not authenticate', () => {
    expect(finishConfig(flagsLayer({ nats: 'nats://h1:4222' })).worker).toBeUndefined();
    expect(finishConfig({})).toEqual({});
  });

  it('rejects a merged config that is invalid, naming the field', () => {
    expect(() =>
      finishConfig(mergeLayers({ pools: { general: { size: 1 } } }, envLayer({ DSPEX_NODE_ID: 'bad id' }))),
    ).toThrow(/nodeId: expected 1-64 letters, digits/);
  });
});

describe('metrics flags', () => {
  it('layers --metrics-port over DSPEX_METRICS_PORT over the file, and refuses a bad port naming the flag', () => {
    const file = { metrics: { port: 9000, host: '0.0.0.0' } };
    expect(finishConfig(mergeLayers(file, envLayer({ DSPEX_METRICS_PORT: '9100' }), {})).metrics).toEqual({
      port: 9100,
      host: '0.0.0.0',
    });
    expect(
      finishConfig(
        mergeLayers(file, envLayer({ DSPEX_METRICS_PORT: '9100' }), flagsLayer({ metricsPort: '9464' })),
      ).metrics,
    ).toEqual({ port: 9464, host: '0.0.0.0' });
    for (const bad of ['-1', '70000', 'abc', '']) {
      expect(() => flagsLayer({ metricsPort: bad })).toThrow(/--metrics-port: expected a TCP port/);
    }
    expect(() => finishConfig(envLayer({ DSPEX_METRICS_PORT: 'abc' }))).toThrow(/metrics\.port/);
  });
});

describe('parsePoolFlag', () => {
  it('parses NAME=SIZE', () => {
    expect(parsePoolFlag('general=2')).toEqual(['general', 2]);
    expect(parsePoolFlag('my_pool-1=0')).toEqual(['my_pool-1', 0]);
  });

  it.each(['general', 'general=', '=2', 'general=-1', 'gen.eral=1', 'general=two'])(
    'rejects "%s"',
    (entry) => {
      let caught: unknown;
      try {
        parsePoolFlag(entry);
      } catch (error) {
        caught = error;
      }
      expect(fieldOf(caught)).toBe('--pool');
    },
  );
});

describe('resolveLogLevel', () => {
  it('takes the flag, then DSPEX_LOG_LEVEL, then info', () => {
    expect(resolveLogLevel('debug', { DSPEX_LOG_LEVEL: 'warn' })).toBe('debug');
    expect(resolveLogLevel(undefined, { DSPEX_LOG_LEVEL: 'warn' })).toBe('warn');
    expect(resolveLogLevel(undefined, {})).toBe('info');
  });

  it('rejects an unknown level naming where it came from', () => {
    expect(() => resolveLogLevel(undefined, { DSPEX_LOG_LEVEL: 'loud' })).toThrow(
      /DSPEX_LOG_LEVEL: expected one of/,
    );
  });
});

describe('config files', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dspex-cli-unit-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function file(name: string, text: string): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, text);
    return path;
  }

  it('loads a valid file and lifts credentials out of its server URLs', async () => {
    const path = await file(
      'ok.json',
      JSON.stringify({ nats: { servers: 'nats://u:p@h:4222' }, pools: { general: { size: 1 } } }),
    );
    expect(await loadConfigFile(path)).toEqual({
      nats: { servers: ['nats://h:4222'], user: 'u', pass: 'p' },
      pools: { general: { size: 1 } },
    });
  });

  it('names the field of an invalid value', async () => {
    const path = await file('size.json', JSON.stringify({ pools: { general: { size: -1 } } }));
    await expect(loadConfigFile(path)).rejects.toThrow(
      new RegExp(`config file ${path}: pools\\.general\\.size: `),
    );
    await loadConfigFile(path).catch((error: unknown) => expect(fieldOf(error)).toBe('pools.general.size'));
  });

  it('names an unknown key', async () => {
    const path = await file('typo.json', JSON.stringify({ poolz: {} }));
    await expect(loadConfigFile(path)).rejects.toThrow(/poolz/);
  });

  it('reports JSON that does not parse and files that do not exist', async () => {
    await expect(loadConfigFile(await file('broken.json', '{"pools": '))).rejects.toThrow(/not valid JSON/);
    await expect(loadConfigFile(await file('array.json', '[]'))).rejects.toThrow(/expected a JSON object/);
    await expect(loadConfigFile(join(dir, 'missing.json'))).rejects.toThrow(/ENOENT/);
  });

  it('builds the node options from file, environment and flags together', async () => {
    const path = await file(
      'node.json',
      JSON.stringify({ nodeId: 'file-node', pools: { general: { size: 2 }, optimizer: { size: 1 } } }),
    );
    const options = await nodeCommand.parse(
      ['--config', path, '--pool', 'general=1', '--lm', 'openai/gpt-4o-mini'],
      { DSPEX_NODE_ID: 'env-node', DSPEX_LOG_LEVEL: 'warn' },
    );
    expect(options).toEqual({
      config: {
        nodeId: 'env-node',
        pools: { general: { size: 1 }, optimizer: { size: 1 } },
        worker: { lm: 'openai/gpt-4o-mini' },
      },
      logLevel: 'warn',
    });
  });

  it('rejects unknown flags', async () => {
    await expect(nodeCommand.parse(['--pools', 'general=1'], {})).rejects.toThrow(/--pools/);
  });
});
