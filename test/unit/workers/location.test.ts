import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { recentEnough } from '../../../src/cli/worker-install.js';
import { workerCommand } from '../../../src/cli/worker-command.js';
import { VERSION } from '../../../src/version.js';
import { INSTALL_STAMP, locateWorker, packageRoot, workerCacheDir } from '../../../src/workers/location.js';

function executable(path: string): string {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, '#!/bin/sh\n');
  chmodSync(path, 0o755);
  return path;
}

describe('locateWorker', () => {
  let dir: string;
  let root: string;
  let cache: string;
  let pathDir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'dspex-locate-'));
    root = join(dir, 'pkg');
    cache = join(dir, 'cache', 'dspex', `worker-${VERSION}`);
    pathDir = join(dir, 'path-bin');
    mkdirSync(root);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const locate = (env: NodeJS.ProcessEnv = {}) =>
    locateWorker({ env: { PATH: pathDir, ...env }, root, cacheDir: cache });

  it('looks in order: DSPEX_WORKER_BIN, the package venv, the installed cache venv, PATH', () => {
    expect(locate()).toMatchObject({ command: ['dspex-worker'], source: 'none' });
    expect(locate().checked).toEqual([
      'DSPEX_WORKER_BIN (unset)',
      `${join(root, 'python/.venv/bin/dspex-worker')} (absent)`,
      `${join(cache, 'bin/dspex-worker')} (absent)`,
      'dspex-worker on PATH (not found)',
    ]);

    const onPath = executable(join(pathDir, 'dspex-worker'));
    expect(locate()).toMatchObject({ command: [onPath], source: 'path' });

    const cached = executable(join(cache, 'bin', 'dspex-worker'));
    // Without the install stamp the venv is a half-made install: skipped.
    expect(locate()).toMatchObject({ source: 'path' });
    expect(locate().checked).toContain(`${cached} (incomplete install)`);
    writeFileSync(join(cache, INSTALL_STAMP), JSON.stringify({ version: VERSION, lockSha256: 'x' }));
    expect(locate()).toMatchObject({ command: [cached], source: 'cache' });

    const checkout = executable(join(root, 'python', '.venv', 'bin', 'dspex-worker'));
    expect(locate()).toMatchObject({ command: [checkout], source: 'checkout' });

    expect(locate({ DSPEX_WORKER_BIN: '/opt/w/dspex-worker' })).toMatchObject({
      command: ['/opt/w/dspex-worker'],
      source: 'env',
    });
  });

  it('ignores a file that is not executable', () => {
    mkdirSync(pathDir);
    writeFileSync(join(pathDir, 'dspex-worker'), '');
    expect(locate().source).toBe('none');
  });
});

describe('workerCacheDir', () => {
  it('uses XDG_CACHE_HOME when it is absolute, else ~/.cache', () => {
    expect(workerCacheDir({ XDG_CACHE_HOME: '/x/cache', HOME: '/home/u' }, '1.2.3')).toBe(
      '/x/cache/dspex/worker-1.2.3',
    );
    expect(workerCacheDir({ XDG_CACHE_HOME: 'rel/cache', HOME: '/home/u' }, '1.2.3')).toBe(
      '/home/u/.cache/dspex/worker-1.2.3',
    );
    expect(workerCacheDir({ HOME: '/home/u' })).toBe(`/home/u/.cache/dspex/worker-${VERSION}`);
  });
});

describe('packageRoot', () => {
  it('is the folder holding package.json, from sources and from dist alike', () => {
    expect(packageRoot()).toBe(join(import.meta.dirname, '..', '..', '..'));
  });
});

describe('recentEnough', () => {
  it('accepts Python 3.11 and newer only', () => {
    expect(recentEnough([3, 10])).toBe(false);
    expect(recentEnough([2, 7])).toBe(false);
    expect(recentEnough([3, 11])).toBe(true);
    expect(recentEnough([3, 13])).toBe(true);
    expect(recentEnough([4, 0])).toBe(true);
  });
});

describe('dspex worker (flags)', () => {
  it('parses install and path, and names a bad subcommand or flag', async () => {
    expect(await workerCommand.parse(['install', '--python', '/usr/bin/python3.11', '--force'], {})).toEqual({
      action: 'install',
      python: '/usr/bin/python3.11',
      force: true,
    });
    expect(await workerCommand.parse(['install'], {})).toEqual({
      action: 'install',
      python: undefined,
      force: false,
    });
    expect(await workerCommand.parse(['path'], {})).toEqual({ action: 'path' });
    expect(() => workerCommand.parse([], {})).toThrow('expected a subcommand: install, path or key');
    expect(() => workerCommand.parse(['uninstall'], {})).toThrow('unknown subcommand "uninstall"');
    expect(() => workerCommand.parse(['install', '--pyhton', 'x'], {})).toThrow("'--pyhton'");
  });
});

describe('versions', () => {
  it('agree between package.json, the runtime and the Python worker (the install checks the worker’s)', () => {
    const root = packageRoot();
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    const py = /^__version__ = "([^"]+)"$/m.exec(
      readFileSync(join(root, 'python', 'dspex_worker', '__init__.py'), 'utf8'),
    );
    expect([pkg.version, py?.[1]]).toEqual([VERSION, VERSION]);
  });
});
