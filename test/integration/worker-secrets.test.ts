import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Runtime } from '../../src/runtime/runtime.js';
import { deriveWorkerKey } from '../../src/workers/identity.js';
import { startRuntime } from '../harness/runtime.js';
import { PASSWORDS, passwordOf, startShippedNats, type ShippedNats } from '../harness/shipped-nats.js';

const SECRET = 'cluster-worker-secret-for-the-proc-test-42';
/** What an operator exports where the node runs (docs/operations.md), plus the node's own login. */
const NODE_ENV = {
  ...PASSWORDS,
  DSPEX_NATS_PASSWORD: PASSWORDS.DSPEX_NODE_PASSWORD,
  DSPEX_WORKER_SECRET: SECRET,
  SOME_APP_SECRET: 'app-secret-not-for-workers-77',
  OPENAI_API_KEY: 'sk-provider-key-for-workers',
};

/** The parent pid of `pid` (field 4 of /proc/<pid>/stat). */
const ppidOf = (pid: number): number => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
};
const proc = (pid: number, file: 'cmdline' | 'environ'): string =>
  readFileSync(`/proc/${pid}/${file}`).toString('utf8').replaceAll('\0', '\n');

/**
 * Each local worker process (and each zygote) is looked at from outside, as any process of the same
 * user could: its command line and its initial environment must hold no password, no secret and no
 * worker key. /proc/<pid>/environ shows the environment a process started with, whatever it removed
 * later, so secrets must never be put there at all.
 */
describe.each(['zygote', 'direct'] as const)('local workers started by the %s launcher', (launcher) => {
  let srv: ShippedNats;
  let dir: string;
  let rt: Runtime;
  const saved: Record<string, string | undefined> = {};

  beforeAll(async () => {
    for (const [k, v] of Object.entries(NODE_ENV)) {
      saved[k] = process.env[k];
      process.env[k] = v;
    }
    srv = await startShippedNats();
    dir = await mkdtemp(join(tmpdir(), 'dspex-proc-'));
    await writeFile(join(dir, 'secret'), SECRET, { mode: 0o600 });
    rt = await startRuntime(srv.url, {
      nats: { servers: srv.url, user: 'node', pass: passwordOf('node') },
      worker: {
        launcher,
        natsUrl: `nats://worker:${passwordOf('worker')}@127.0.0.1:${srv.port}`,
        secretFile: join(dir, 'secret'),
      },
      pools: { general: { size: 2 } },
    });
  }, 180_000);
  afterAll(async () => {
    await rt?.stop();
    await srv?.stop();
    await rm(dir, { recursive: true, force: true });
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  it('hold no password, secret or key in /proc/<pid>/cmdline or /proc/<pid>/environ', async () => {
    const workers = rt.status().pools[0]!.workers;
    expect(workers).toHaveLength(2);
    const pids = new Set(workers.map((w) => w.pid));
    // The zygote: the workers' parent, itself a child of this process.
    for (const w of workers) if (ppidOf(w.pid) !== process.pid) pids.add(ppidOf(w.pid));
    expect(pids.size).toBe(launcher === 'zygote' ? 3 : 2);
    const forbidden = [
      ...Object.values(PASSWORDS),
      SECRET,
      NODE_ENV.SOME_APP_SECRET,
      ...workers.map((w) => deriveWorkerKey(Buffer.from(SECRET), w.id).toString('hex')),
      'DSPEX_NODE_PASSWORD',
      'DSPEX_WORKER_SECRET',
    ];
    for (const pid of pids) {
      const cmdline = proc(pid, 'cmdline');
      const environ = proc(pid, 'environ');
      expect(cmdline).toContain('dspex-worker');
      expect(cmdline).toContain(`nats://127.0.0.1:${srv.port}`);
      for (const secret of forbidden) {
        expect(cmdline, `pid ${pid} cmdline`).not.toContain(secret);
        expect(environ, `pid ${pid} environ`).not.toContain(secret);
      }
      // What the workers do need is there.
      expect(environ).toContain('OPENAI_API_KEY=sk-provider-key-for-workers');
      expect(environ).toMatch(/^PATH=/m);
    }
    // And they work: the login and the keys reached them through the pipe.
    const reply = await rt.predict({
      module: 'Predict',
      signature: 'question -> answer',
      inputs: { question: 'hi' },
    });
    expect(reply.outputs.answer).toBe('answer for hi');
  });
});
