/**
 * What a new user meets first: each mistake is one line naming the fix and an exit code, from
 * `dspex node` and from `createRuntime`, instead of a stack trace or a wait for a timeout.
 */
import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isDspexError } from '../../src/errors.js';
import { createRuntime } from '../../src/runtime/runtime.js';
import { startNats, type NatsServer } from '../harness/nats.js';
import { testLogger } from '../harness/runtime.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin', 'dspex.js');

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('DSPEX_')));
}

/** Runs `node bin/dspex.js …`; a generous limit only so a hang fails the test instead of the run. */
function dspex(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Result> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { cwd: ROOT, env: { ...cleanEnv(), DSPEX_LOG_LEVEL: 'warn', ...env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** The human lines of stderr (JSON log lines left out). */
const human = (stderr: string): string[] =>
  stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('{'));

const errorLines = (stderr: string): string[] => stderr.split('\n').filter((l) => /"level":(50|60)/.test(l));

describe('first-run errors name their fix', () => {
  let noJs: NatsServer;
  let secured: NatsServer;
  let plain: NatsServer;

  beforeAll(async () => {
    [noJs, secured, plain] = await Promise.all([
      startNats({ jetstream: false }),
      startNats({ extraConfig: 'authorization { user: app, password: right }' }),
      startNats(),
    ]);
  });
  afterAll(async () => {
    await Promise.all([noJs?.stop(), secured?.stop(), plain?.stop()]);
  });

  it('dspex node on a server without JetStream: one line, exit 1, no worker started', async () => {
    const result = await dspex(['node', '--nats', noJs.url, '--pool', 'general=1']);
    expect(result.code).toBe(1);
    expect(human(result.stderr)).toEqual([
      expect.stringMatching(
        new RegExp(
          `^dspex node: NATS at ${noJs.url} has no JetStream, which variables, sessions, pipelines need\\. ` +
            'Fix: start nats-server with JetStream \\(`nats-server -js`',
        ),
      ),
    ]);
    // Checked before any pool starts: no worker ever logged a line.
    expect(result.stderr).not.toContain('"source":"python"');
    expect(errorLines(result.stderr)).toEqual([]);
  });

  it('createRuntime on a server without JetStream rejects with the same error', async () => {
    const error: unknown = await createRuntime({
      nats: { servers: noJs.url },
      pools: { general: { size: 1 } },
      logger: testLogger(),
    }).then(
      async (rt) => {
        await rt.stop();
        return undefined;
      },
      (e: unknown) => e,
    );
    expect(isDspexError(error) && error.code).toBe('unavailable');
    expect((error as Error).message).toMatch(/has no JetStream.*Fix: .*variables\.enabled: false/);
  });

  it('a node without variables, sessions and pipelines needs no JetStream', async () => {
    const rt = await createRuntime({
      nats: { servers: noJs.url },
      pools: { general: { size: 0 } },
      variables: { enabled: false },
      sessions: { enabled: false },
      pipelines: { enabled: false },
      logger: testLogger(),
    });
    await rt.stop();
  });

  it('dspex node with a wrong password: one line naming the user and the fix, exit 1', async () => {
    const result = await dspex(['node', '--nats', secured.url, '--pool', 'general=0'], {
      DSPEX_NATS_USER: 'app',
      DSPEX_NATS_PASSWORD: 'wrong',
    });
    expect(result.code).toBe(1);
    expect(human(result.stderr)).toEqual([
      `dspex node: NATS at ${secured.url} refused the login (user/pass (user "app")): authorization violation. ` +
        'Fix: check the user/pass (user "app") against the server\'s accounts (nats.conf), or log in with ' +
        'DSPEX_NATS_USER and DSPEX_NATS_PASSWORD, DSPEX_NATS_TOKEN, --nats-creds FILE or --nats-nkey FILE',
    ]);
    expect(result.stderr).not.toContain('wrong');
  });

  it('dspex status without a login on a server that needs one says to set one, and hides URL passwords', async () => {
    const none = await dspex(['status', '--nats', secured.url]);
    expect(none.code).toBe(1);
    expect(human(none.stderr)).toEqual([
      expect.stringContaining(
        'refused the login (no login): authorization violation. Fix: the server requires a login: set DSPEX_NATS_USER',
      ),
    ]);
    const inUrl = await dspex(['status', '--nats', secured.url.replace('//', '//app:bad@')]);
    expect(inUrl.code).toBe(1);
    expect(inUrl.stderr).toContain(`NATS at ${secured.url} refused the login`);
    expect(inUrl.stderr).not.toContain('bad@');
  });

  it('an unreachable URL: one line naming the URL and the fix, exit 1, for the node and createRuntime', async () => {
    const result = await dspex(['node', '--nats', 'nats://127.0.0.1:1', '--pool', 'general=0']);
    expect(result.code).toBe(1);
    expect(human(result.stderr)).toEqual([
      expect.stringMatching(
        /^dspex node: cannot reach NATS at nats:\/\/127\.0\.0\.1:1: connection refused\. Fix: start a server there \(`nats-server -js`\)/,
      ),
    ]);
    const error: unknown = await createRuntime({
      nats: { servers: 'nats://127.0.0.1:1' },
      pools: { general: { size: 0 } },
      logger: testLogger(),
    }).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/^cannot reach NATS at nats:\/\/127\.0\.0\.1:1: .*Fix: /);
  });

  it('a missing Python worker: one line with the install command, exit 1, before connecting', async () => {
    const result = await dspex(['node', '--nats', plain.url, '--pool', 'general=1'], {
      DSPEX_WORKER_BIN: '/nonexistent/dspex-worker',
    });
    expect(result.code).toBe(1);
    expect(human(result.stderr)).toEqual([
      'dspex node: DSPEX_WORKER_BIN=/nonexistent/dspex-worker is not an executable file. ' +
        'Fix: point it at a dspex-worker, or unset it and run `npx dspex worker install`',
    ]);
    const error: unknown = await createRuntime({
      nats: { servers: plain.url },
      pools: { general: { size: 1 } },
      worker: { command: ['no-such-dspex-worker'] },
      logger: testLogger(),
    }).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(
      /^the worker command no-such-dspex-worker \(worker\.command\) is not an executable file\. Fix: /,
    );
  });

  it('workers that crash at start end waitForWorkers with the node failure, not its timeout', async () => {
    const rt = await createRuntime({
      nats: { servers: plain.url },
      pools: { general: { size: 1, intensity: { maxRestarts: 1, periodMs: 60_000 } } },
      worker: { command: ['/bin/false'] },
      logger: testLogger(),
    });
    try {
      const error: unknown = await rt.waitForWorkers('general', 1, 10 * 60_000).catch((e: unknown) => e);
      expect(error).toBe(await rt.failed);
      expect((error as Error).message).toMatch(
        /pools kept crashing .*; last worker failure, pool general: .*Fix: read the workers' log lines/,
      );
    } finally {
      await rt.stop();
    }
  });

  it('dspex node with workers that crash at start exits 1 with the failure instead of waiting', async () => {
    const result = await dspex(['node', '--nats', plain.url, '--pool', 'general=1'], {
      DSPEX_WORKER_BIN: '/bin/false',
    });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(human(result.stderr)).toEqual([
      expect.stringMatching(/^dspex node: node n-\w+: its pools kept crashing .*Fix: /),
    ]);
  });

  it('dspex predict --json prints errors as JSON, usage errors included', async () => {
    const args = ['predict', '--module', 'Predict', '--signature', 'q -> a', '--json'];
    const down = await dspex([...args, '--inputs', '{"q": "x"}', '--nats', 'nats://127.0.0.1:1']);
    expect(down.code).toBe(1);
    const body = JSON.parse(down.stdout) as {
      error: { code: string; message: string; details: { fix: string } };
    };
    expect(body.error.code).toBe('unavailable');
    expect(body.error.message).toMatch(/^cannot reach NATS at nats:\/\/127\.0\.0\.1:1/);
    expect(body.error.details.fix).toMatch(/dspex node/);
    const bad = await dspex([...args, '--inputs', '[1]']);
    expect(bad.code).toBe(2);
    expect(JSON.parse(bad.stdout)).toEqual({
      error: {
        code: 'bad_request',
        message: '--inputs: expected a JSON object, e.g. {"question": "What is 2+2?"}',
        retryable: false,
        details: { field: '--inputs' },
      },
    });
  });

  it('dspex optimize watch of a run that does not exist says so at once', async () => {
    const result = await dspex([
      'optimize',
      'watch',
      'no-such-run',
      '--nats',
      plain.url,
      '--timeout',
      '600000',
    ]);
    expect(result.code).toBe(1);
    expect(human(result.stderr)).toEqual([
      'dspex optimize: not_found: run no-such-run does not exist or is not running ' +
        '(no progress event within 2000 ms; runs that ended are not kept)',
    ]);
  });

  it('exits 0 without a stack trace when its reader goes away (dspex … | head)', async () => {
    const child = spawn(process.execPath, [BIN, '--help'], { cwd: ROOT, env: cleanEnv() });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });
});
