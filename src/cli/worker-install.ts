import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { DspexError, ErrorCode } from '../errors.js';
import { INSTALL_STAMP, readInstallStamp, type InstallStamp } from '../workers/location.js';

/** Oldest Python the worker runs on (`requires-python` in python/pyproject.toml). */
export const MIN_PYTHON: readonly [number, number] = [3, 11];

/** Interpreters tried, in order, when `--python` is not given. */
const PYTHON_CANDIDATES = ['python3', 'python3.13', 'python3.12', 'python3.11', 'python'];

/** The runtime lock shipped in the package's `python/` folder. */
export const RUNTIME_LOCK = 'requirements-runtime.lock';

export interface InstallWorkerOptions {
  /** The package's `python/` folder: pyproject.toml, README.md, the runtime lock, dspex_worker/. */
  sourceDir: string;
  /** The venv to create (`workerCacheDir()`). */
  target: string;
  /** Interpreter to build the venv with; found on PATH when unset. */
  python?: string;
  /** Reinstall even when a complete install from the same lock is there. */
  force: boolean;
  /** The version `dspex-worker --version` must report (this package's). */
  version: string;
  env: NodeJS.ProcessEnv;
  /** Progress lines (the CLI writes them to stderr). */
  progress: (line: string) => void;
}

export interface InstallWorkerResult {
  /** The installed `dspex-worker`. */
  bin: string;
  python: string;
  /** True when a complete install was already there and nothing was done. */
  reused: boolean;
}

function unavailable(message: string, fix: string): DspexError {
  return new DspexError(ErrorCode.Unavailable, `${message}. Fix: ${fix}`, {
    retryable: false,
    details: { fix },
  });
}

interface RunResult {
  code: number | null;
  /** The last lines of stdout and stderr, interleaved. */
  tail: string[];
  spawnError?: Error;
}

/** Runs a command, streaming its output lines to `onLine` and keeping the last 25. */
function run(
  bin: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  onLine?: (l: string) => void,
): Promise<RunResult> {
  return new Promise((resolve) => {
    const tail: string[] = [];
    const child = spawn(bin, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (line: string): void => {
      tail.push(line);
      if (tail.length > 25) tail.shift();
      onLine?.(line);
    };
    createInterface({ input: child.stdout }).on('line', keep);
    createInterface({ input: child.stderr }).on('line', keep);
    child.once('error', (spawnError) => resolve({ code: null, tail, spawnError }));
    child.once('close', (code) => resolve({ code, tail }));
  });
}

/** `[major, minor]` of an interpreter, or a reason it cannot be used. */
async function pythonVersion(bin: string, env: NodeJS.ProcessEnv): Promise<[number, number] | string> {
  const out = await run(bin, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])'], env);
  if (out.spawnError !== undefined) return (out.spawnError as NodeJS.ErrnoException).code ?? 'cannot run';
  const match = /^(\d+)\.(\d+)$/.exec(out.tail.at(-1) ?? '');
  if (out.code !== 0 || match === null) return `not a Python interpreter (exit ${out.code})`;
  return [Number(match[1]), Number(match[2])];
}

/** True for a Python `[major, minor]` at least {@link MIN_PYTHON}. */
export const recentEnough = ([major, minor]: readonly [number, number]): boolean =>
  major > MIN_PYTHON[0] || (major === MIN_PYTHON[0] && minor >= MIN_PYTHON[1]);

/** The interpreter to use: `--python`, else the first candidate on PATH that is new enough. */
async function choosePython(explicit: string | undefined, env: NodeJS.ProcessEnv): Promise<string> {
  const wanted = `Python ${MIN_PYTHON.join('.')} or newer`;
  const fix = `install ${wanted} (Debian/Ubuntu: apt-get install python3 python3-venv) or pass --python /path/to/python3.11`;
  const tried: string[] = [];
  for (const bin of explicit === undefined ? PYTHON_CANDIDATES : [explicit]) {
    const version = await pythonVersion(bin, env);
    if (typeof version !== 'string' && recentEnough(version)) return bin;
    tried.push(`${bin}: ${typeof version === 'string' ? version : version.join('.')}`);
  }
  throw unavailable(`no ${wanted} (tried ${tried.join('; ')})`, fix);
}

/** pip's ways of saying it could not reach the index (it has no error codes to read). */
const NETWORK_TROUBLE =
  /NewConnectionError|Failed to establish a new connection|Temporary failure in name resolution|Name or service not known|Network is unreachable|Connection refused|ProxyError|ConnectTimeout|Read timed out|No route to host/;

function pipFailure(what: string, result: RunResult, python: string): DspexError {
  const errors = result.tail.filter((line) => line.startsWith('ERROR:'));
  const summary = errors[0] ?? result.tail.filter((l) => l.trim() !== '').at(-1) ?? '';
  const again = 'then run `npx dspex worker install` again';
  let fix: string;
  if (result.tail.some((line) => NETWORK_TROUBLE.test(line))) {
    fix = `pip could not reach the package index: check the network or proxy (HTTPS_PROXY), or set PIP_INDEX_URL to a reachable mirror, ${again}`;
  } else if (result.tail.some((line) => line.includes('(from versions: none)'))) {
    fix = `pip found no build of a pinned package: either the package index is unreachable (check the network, proxy or PIP_INDEX_URL) or there is none for ${python} (the lock was resolved on Python 3.11: pass --python /path/to/python3.11), ${again}`;
  } else {
    fix = `read pip's output above and fix its cause, ${again}`;
  }
  return unavailable(`${what} failed (exit ${result.code}${summary === '' ? '' : `: ${summary}`})`, fix);
}

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/**
 * Creates a venv at `target` from the shipped worker source and its runtime lock, then checks that
 * its `dspex-worker --version` answers. The stamp file is written last, so the runtime never picks
 * up a half-made venv; a failed install removes what it made.
 */
export async function installWorker(o: InstallWorkerOptions): Promise<InstallWorkerResult> {
  const lock = join(o.sourceDir, RUNTIME_LOCK);
  for (const needed of ['pyproject.toml', 'README.md', RUNTIME_LOCK, 'dspex_worker']) {
    if (!existsSync(join(o.sourceDir, needed)))
      throw unavailable(
        `the worker source is incomplete: ${join(o.sourceDir, needed)} is missing`,
        'reinstall the dspex package (npm install dspex)',
      );
  }
  const bin = join(o.target, 'bin', 'dspex-worker');
  const lockSha256 = sha256(lock);
  const stamp = readInstallStamp(o.target);
  if (!o.force && stamp?.lockSha256 === lockSha256 && stamp.version === o.version && existsSync(bin)) {
    o.progress(`a worker venv from this lock is already installed at ${o.target} (--force reinstalls)`);
    return { bin, python: stamp.python, reused: true };
  }

  const python = await choosePython(o.python, o.env);
  const env = { ...o.env, PIP_DISABLE_PIP_VERSION_CHECK: '1', PIP_NO_INPUT: '1' };
  const releaseLock = lockInstall(o.target);
  const staging = mkdtempSync(join(tmpdir(), 'dspex-worker-src-'));
  try {
    rmSync(o.target, { recursive: true, force: true });
    o.progress(`creating a venv with ${python} in ${o.target}`);
    const venv = await run(python, ['-m', 'venv', o.target], env, o.progress);
    if (venv.code !== 0) {
      throw unavailable(
        `${python} -m venv failed (exit ${venv.code}: ${venv.tail.slice(-2).join(' | ')})`,
        'install the venv module (Debian/Ubuntu: apt-get install python3-venv) or pass --python with one that has it',
      );
    }
    const venvPython = join(o.target, 'bin', 'python');
    const pip = ['-m', 'pip', 'install', '--progress-bar', 'off'];
    o.progress(`installing the pinned dependencies from ${lock} (pip; this takes a minute or two)`);
    const deps = await run(venvPython, [...pip, '-r', lock], env, (l) => o.progress(`  ${l}`));
    if (deps.code !== 0) throw pipFailure(`pip install -r ${RUNTIME_LOCK}`, deps, python);

    // Build from a copy: setuptools writes build/ and *.egg-info next to the sources, which may be
    // read-only inside node_modules.
    for (const name of ['pyproject.toml', 'README.md', 'dspex_worker'])
      cpSync(join(o.sourceDir, name), join(staging, name), {
        recursive: true,
        filter: (src) => !src.includes('__pycache__'),
      });
    o.progress('installing the dspex-worker package');
    const pkg = await run(venvPython, [...pip, '--no-deps', staging], env, (l) => o.progress(`  ${l}`));
    if (pkg.code !== 0) throw pipFailure('pip install dspex-worker', pkg, python);

    const check = await run(bin, ['--version'], env);
    const said = check.tail.at(-1) ?? '';
    if (check.code !== 0 || said !== `dspex-worker ${o.version}`) {
      throw unavailable(
        `the installed ${bin} --version said "${said}" (exit ${check.code}), expected "dspex-worker ${o.version}"`,
        'run `npx dspex worker install --force`; if it persists, report it with this output',
      );
    }
    const done: InstallStamp = {
      version: o.version,
      lockSha256,
      python,
      installedAt: new Date().toISOString(),
    };
    writeFileSync(join(o.target, INSTALL_STAMP), JSON.stringify(done, null, 2) + '\n');
    return { bin, python, reused: false };
  } catch (error) {
    rmSync(o.target, { recursive: true, force: true });
    throw error;
  } finally {
    rmSync(staging, { recursive: true, force: true });
    releaseLock();
  }
}

/**
 * One install per target at a time: `<target>.lock` holds the installer's pid. A lock whose process
 * is gone (an install that was killed) is taken over.
 */
function lockInstall(target: string): () => void {
  const lock = `${target}.lock`;
  mkdirSync(dirname(target), { recursive: true });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx' });
      return () => rmSync(lock, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const pid = Number(readFileSync(lock, 'utf8'));
      if (Number.isInteger(pid) && pid > 0 && processAlive(pid)) {
        throw unavailable(
          `another \`dspex worker install\` (pid ${pid}) is installing into ${target}`,
          'wait for it to finish',
        );
      }
      rmSync(lock, { force: true });
    }
  }
  throw unavailable(`cannot take the install lock ${lock}`, `remove ${lock} and try again`);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
