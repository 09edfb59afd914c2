import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VERSION } from '../version.js';

/**
 * Where a worker command came from, in the order the runtime looks:
 * `env` (`DSPEX_WORKER_BIN`), `checkout` (the package's own `python/.venv`, as in a source checkout or
 * the Docker image), `cache` (the venv `dspex worker install` made in the user cache dir), `path`
 * (`dspex-worker` on `PATH`), `none` (nothing found; the runtime still tries `dspex-worker`).
 */
export const WorkerSource = {
  Env: 'env',
  Checkout: 'checkout',
  Cache: 'cache',
  Path: 'path',
  None: 'none',
} as const;
export type WorkerSource = (typeof WorkerSource)[keyof typeof WorkerSource];

/** The worker command the runtime would start, and where it was found. */
export interface WorkerLocation {
  command: string[];
  source: WorkerSource;
  /** Every place looked at, in order, with what was there: for "no worker found" messages. */
  checked: string[];
}

/** Written last by `dspex worker install`: a cache venv without it is incomplete and ignored. */
export const INSTALL_STAMP = '.dspex-installed';

/** The contents of {@link INSTALL_STAMP}. */
export interface InstallStamp {
  version: string;
  /** sha256 of the runtime lock the venv was installed from. */
  lockSha256: string;
  python: string;
  installedAt: string;
}

/** The root of this package (the folder with its package.json): a checkout or `node_modules/dspex`. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  throw new Error(`no package.json above ${fileURLToPath(import.meta.url)}`);
}

/**
 * The user cache venv of this dspex version: `$XDG_CACHE_HOME/dspex/worker-<version>`, or
 * `~/.cache/dspex/worker-<version>` when `XDG_CACHE_HOME` is unset or not absolute (as the XDG spec
 * says to treat it).
 */
export function workerCacheDir(env: NodeJS.ProcessEnv = process.env, version = VERSION): string {
  const xdg = env.XDG_CACHE_HOME;
  const base = xdg !== undefined && isAbsolute(xdg) ? xdg : join(env.HOME || homedir(), '.cache');
  return join(base, 'dspex', `worker-${version}`);
}

/** The stamp of a completed install in `dir`, or undefined (absent, unreadable, or not ours). */
export function readInstallStamp(dir: string): InstallStamp | undefined {
  try {
    const value = JSON.parse(readFileSync(join(dir, INSTALL_STAMP), 'utf8')) as Partial<InstallStamp>;
    return typeof value.version === 'string' && typeof value.lockSha256 === 'string'
      ? (value as InstallStamp)
      : undefined;
  } catch {
    return undefined;
  }
}

/** True when `path` is a file this process may execute. */
export function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** What {@link locateWorker} reads; injectable for tests. */
export interface LocateOptions {
  env?: NodeJS.ProcessEnv;
  /** @default {@link packageRoot} */
  root?: string;
  /** @default {@link workerCacheDir} of `env` */
  cacheDir?: string;
}

/**
 * Finds the worker command: `DSPEX_WORKER_BIN`, else the package's `python/.venv/bin/dspex-worker`,
 * else the installed cache venv's `bin/dspex-worker` (only with its install stamp), else
 * `dspex-worker` on `PATH`. With none of them it returns `['dspex-worker']` with source `none`.
 */
export function locateWorker(options: LocateOptions = {}): WorkerLocation {
  const env = options.env ?? process.env;
  const checked: string[] = [];
  const fromEnv = env.DSPEX_WORKER_BIN;
  if (fromEnv !== undefined && fromEnv !== '') return { command: [fromEnv], source: 'env', checked };
  checked.push('DSPEX_WORKER_BIN (unset)');

  const checkout = join(options.root ?? packageRoot(), 'python', '.venv', 'bin', 'dspex-worker');
  if (executable(checkout)) return { command: [checkout], source: 'checkout', checked };
  checked.push(`${checkout} (absent)`);

  const cacheDir = options.cacheDir ?? workerCacheDir(env);
  const cached = join(cacheDir, 'bin', 'dspex-worker');
  if (executable(cached) && readInstallStamp(cacheDir) !== undefined)
    return { command: [cached], source: 'cache', checked };
  checked.push(`${cached} (${existsSync(cacheDir) ? 'incomplete install' : 'absent'})`);

  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, 'dspex-worker');
    if (executable(candidate)) return { command: [candidate], source: 'path', checked };
  }
  checked.push('dspex-worker on PATH (not found)');
  return { command: ['dspex-worker'], source: 'none', checked };
}
