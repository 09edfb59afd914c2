import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { RuntimeConfig } from '../../src/runtime/config.js';
import { alive } from './process.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin', 'dspex.js');

/** A `dspex node` child process, as production runs it: a crash is a real exit, not a test error. */
export interface NodeProcess extends AsyncDisposable {
  readonly pid: number;
  readonly nodeId: string;
  /** Resolves with the exit code (or signal name) when the process ends. */
  readonly exited: Promise<number | string | null>;
  /** True while the process runs (zombies count as dead). */
  alive(): boolean;
  /** The last 64 KiB of its stderr (JSON log lines). */
  stderr(): string;
  /** SIGTERM, then SIGKILL after 15 s; resolves once it exited. */
  stop(): Promise<void>;
}

export interface NodeProcessOptions {
  nats: string;
  nodeId: string;
  /** Written to a temp file and passed with `--config`. */
  config?: RuntimeConfig;
  /** Extra environment (DSPEX_* of the test process are removed first). */
  env?: Record<string, string>;
  /** @default 'info' */
  logLevel?: string;
}

/** Starts `node bin/dspex.js node` and resolves once it printed its ready line. */
export async function startNodeProcess(o: NodeProcessOptions): Promise<NodeProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'dspex-node-'));
  const configFile = join(dir, 'config.json');
  await writeFile(configFile, JSON.stringify(o.config ?? {}));
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('DSPEX_')));
  const proc: ChildProcess = spawn(
    process.execPath,
    [BIN, 'node', '--nats', o.nats, '--node-id', o.nodeId, '--config', configFile],
    {
      cwd: ROOT,
      env: { ...env, DSPEX_LOG_LEVEL: o.logLevel ?? 'info', ...o.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let err = '';
  proc.stderr!.on('data', (chunk: Buffer) => (err = (err + chunk.toString()).slice(-65_536)));
  const exited = new Promise<number | string | null>((resolve) =>
    proc.once('exit', (code, signal) => resolve(code ?? signal)),
  );
  void exited.then(() => rm(dir, { recursive: true, force: true }));
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      if (line.includes(' ready on ')) resolve();
    });
    void exited.then((code) => reject(new Error(`dspex node exited with ${code} before ready:\n${err}`)));
  });
  const pid = proc.pid!;
  const stop = async (): Promise<void> => {
    if (!alive(pid)) return;
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  };
  return {
    pid,
    nodeId: o.nodeId,
    exited,
    alive: () => alive(pid),
    stderr: () => err,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
