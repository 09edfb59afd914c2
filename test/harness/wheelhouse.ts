/**
 * A wheelhouse of the worker's runtime lock (plus its build backend), built once per machine and
 * kept in a cache dir keyed by the lock's content. The package test points pip at it with
 * `PIP_FIND_LINKS` + `PIP_NO_INDEX`, as a user with an offline mirror does, so `dspex worker install`
 * still creates the venv and installs every pinned wheel and the worker package, but no longer
 * downloads ~100 MB from the package index on every run.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { venvPython } from './runtime.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const COMPLETE = '.complete';

/** The `[build-system] requires` of python/pyproject.toml: pip needs them to build the worker package. */
function buildRequires(pyproject: string): string[] {
  const block = /\[build-system\][^[]*?requires\s*=\s*\[([^\]]*)\]/.exec(pyproject)?.[1];
  if (block === undefined) throw new Error('python/pyproject.toml has no [build-system] requires');
  return [...block.matchAll(/"([^"]+)"/g)].map((m) => m[1]!);
}

/**
 * The wheelhouse directory for the current lock: built with `pip wheel` (sdists become wheels) the
 * first time, reused afterwards. `DSPEX_TEST_WHEELHOUSE_DIR` moves the cache.
 */
export async function runtimeWheelhouse(): Promise<string> {
  const lock = join(ROOT, 'python', 'requirements-runtime.lock');
  const requires = buildRequires(readFileSync(join(ROOT, 'python', 'pyproject.toml'), 'utf8'));
  const key = createHash('sha256')
    .update(readFileSync(lock))
    .update(JSON.stringify(requires))
    .digest('hex')
    .slice(0, 16);
  const base =
    process.env.DSPEX_TEST_WHEELHOUSE_DIR ??
    join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'dspex-test');
  const dir = join(base, `wheelhouse-${key}`);
  if (existsSync(join(dir, COMPLETE))) return dir;

  await mkdir(base, { recursive: true });
  const staging = `${dir}.tmp-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  await new Promise<void>((resolve, reject) => {
    execFile(
      venvPython,
      ['-m', 'pip', 'wheel', '--no-deps', '--progress-bar', 'off', '-w', staging, '-r', lock, ...requires],
      { maxBuffer: 64 * 1024 * 1024 },
      (error, _stdout, stderr) =>
        error === null
          ? resolve()
          : reject(new Error(`building the wheelhouse failed: ${stderr.slice(-3000)}`)),
    );
  });
  await writeFile(join(staging, COMPLETE), new Date().toISOString() + '\n');
  try {
    await rename(staging, dir);
  } catch {
    // Another run finished the same wheelhouse first: keep its copy.
    await rm(staging, { recursive: true, force: true });
  }
  if (!existsSync(join(dir, COMPLETE))) throw new Error(`wheelhouse ${dir} is incomplete`);
  return dir;
}
