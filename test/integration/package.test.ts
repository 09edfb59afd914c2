/**
 * The package as a user gets it: `npm pack` the repository, install the tarball into a fresh project
 * outside the repository, type-check a TypeScript consumer against the shipped `.d.ts` files with
 * `skipLibCheck: false`, make a worker with `npx dspex worker install` (a real venv from the shipped
 * `python/` and its runtime lock, in a temp cache dir), and run a typed ChainOfThought call that
 * finds that worker with no configuration. pip installs from a wheelhouse of the lock built once per
 * machine (test/harness/wheelhouse.ts, `PIP_FIND_LINKS` + `PIP_NO_INDEX`, as behind an offline
 * mirror) instead of downloading every wheel again.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { delimiter, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runtimeWheelhouse } from '../harness/wheelhouse.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const repoPackage = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  version: string;
  devDependencies: Record<string, string>;
};
const VERSION = repoPackage.version;

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The environment of a user's shell: none of the repository's DSPEX_* settings, none of the npm_*
 * variables `npx vitest` sets, and no `dspex-worker` on PATH.
 */
function userEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) => !/^(DSPEX_|npm_|VITEST|NODE_ENV$|NODE_OPTIONS$|INIT_CWD$)/.test(k),
    ),
  );
  env.PATH = (env.PATH ?? '')
    .split(delimiter)
    .filter((dir) => dir !== '' && !existsSync(join(dir, 'dspex-worker')))
    .join(delimiter);
  return { ...env, ...extra };
}

const timings: string[] = [];

/** Runs a command to completion and records how long it took. */
async function sh(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<Result> {
  const started = Date.now();
  const result = await new Promise<Result>((resolve) => {
    execFile(
      cmd,
      args,
      { cwd, env, timeout: 280_000, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
        resolve({ code, stdout, stderr });
      },
    );
  });
  timings.push(
    `${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s  ${cmd} ${args.join(' ')} → exit ${result.code}`,
  );
  return result;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)));
}

/** What the tarball must hold, exactly: computed from the sources, so a new file is covered too. */
function expectedFiles(): string[] {
  const compiled = filesUnder(join(ROOT, 'src'))
    .filter((f) => f.endsWith('.ts'))
    .flatMap((f) => [`dist/${f.replace(/\.ts$/, '.js')}`, `dist/${f.replace(/\.ts$/, '.d.ts')}`]);
  const worker = filesUnder(join(ROOT, 'python', 'dspex_worker'))
    .filter((f) => (f.endsWith('.py') && !f.includes('__pycache__')) || /^schemas\/[a-z_]+\.json$/.test(f))
    .map((f) => `python/dspex_worker/${f}`);
  return [
    'README.md',
    'package.json',
    'bin/dspex.js',
    'python/README.md',
    'python/pyproject.toml',
    'python/requirements-runtime.lock',
    ...compiled,
    ...worker,
  ].sort();
}

const CONSUMER_TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    lib: ['ES2023'],
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    types: ['node'],
    strict: true,
    skipLibCheck: false,
    outDir: 'out',
  },
  include: ['main.ts'],
};

// The README's example, as a package user writes it (Node 20: stop() in finally, not `await using`).
const CONSUMER = `import { ChainOfThought, createRuntime, signature, type Runtime } from 'dspex';

const rt: Runtime = await createRuntime({ pools: { general: { size: 1 } } });
try {
  await rt.waitForWorkers('general', 1);
  const qa = signature('question: str -> answer: str, confidence: float');
  const cot = new ChainOfThought(qa, { executor: rt });
  const out = await cot.call({ question: 'What is 2+2?' });
  const reasoning: string = out.reasoning;
  const answer: string = out.answer;
  const confidence: number = out.confidence;
  // @ts-expect-error the signature has no \`score\` output: the types come from the signature literal
  void out.score;
  console.log(JSON.stringify({ reasoning, answer, confidence }));
} finally {
  await rt.stop();
}
`;

describe('the npm package, installed outside the repository', () => {
  let dir: string;
  let project: string;
  let tarball: string;
  let packed: { size: number; unpackedSize: number; files: { path: string; size: number }[] };
  let env: NodeJS.ProcessEnv;
  let wheelhouse: string;
  const npx = (args: string[], extra: NodeJS.ProcessEnv = {}) =>
    sh('npx', ['--no-install', ...args], project, { ...env, ...extra });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dspex-package-'));
    project = join(dir, 'consumer');
    env = userEnv({
      // The worker venv goes to a temp cache dir; pip keeps using the user's own cache.
      XDG_CACHE_HOME: join(dir, 'cache'),
      PIP_CACHE_DIR:
        process.env.PIP_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'pip'),
    });
    // Built on the first run on a machine (a few minutes of downloads), then reused.
    const started = Date.now();
    wheelhouse = await runtimeWheelhouse();
    timings.push(`${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s  wheelhouse ${wheelhouse}`);
  }, 600_000);

  afterAll(async () => {
    console.log(`package test, commands and times:\n${timings.join('\n')}`);
    await rm(dir, { recursive: true, force: true });
  });

  it('packs the compiled JS, its types, the bin and the worker source, and nothing else', async () => {
    // prepack cleans dist/ and compiles src/ with tsconfig.build.json.
    const pack = await sh('npm', ['pack', '--json', '--pack-destination', dir], ROOT, userEnv({}));
    expect(pack.code, pack.stderr).toBe(0);
    packed = (JSON.parse(pack.stdout) as (typeof packed & { filename: string })[])[0]!;
    tarball = join(dir, `dspex-${VERSION}.tgz`);
    expect(existsSync(tarball)).toBe(true);
    const files = packed.files.map((f) => f.path).sort();
    console.log(
      `tarball: ${packed.size} bytes packed, ${packed.unpackedSize} unpacked, ${files.length} files:\n` +
        packed.files.map((f) => `${String(f.size).padStart(8)}  ${f.path}`).join('\n'),
    );
    expect(files).toEqual(expectedFiles());
    expect(packed.files.find((f) => f.path === 'python/requirements-runtime.lock')?.size).toBeGreaterThan(0);
  }, 180_000);

  it('installs into a fresh project and type-checks a consumer against its .d.ts with skipLibCheck false', async () => {
    await mkdir(project);
    await writeFile(
      join(project, 'package.json'),
      JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
    );
    const install = await sh(
      'npm',
      [
        'install',
        '--no-audit',
        '--no-fund',
        '--prefer-offline',
        tarball,
        `typescript@${repoPackage.devDependencies.typescript}`,
        `@types/node@${repoPackage.devDependencies['@types/node']}`,
      ],
      project,
      env,
    );
    expect(install.code, install.stderr).toBe(0);
    // Only the tarball's own dependencies came along, not the repository's devDependencies.
    expect(existsSync(join(project, 'node_modules', 'vitest'))).toBe(false);
    expect(existsSync(join(project, 'node_modules', 'tsx'))).toBe(false);

    await writeFile(join(project, 'tsconfig.json'), JSON.stringify(CONSUMER_TSCONFIG, null, 2));
    await writeFile(join(project, 'main.ts'), CONSUMER);
    const tsc = await npx(['tsc', '-p', '.']);
    expect(tsc.code, tsc.stdout + tsc.stderr).toBe(0);

    const version = await npx(['dspex', '--version']);
    expect([version.code, version.stdout.trim()]).toEqual([0, VERSION]);
  }, 180_000);

  it('finds no worker at first, names the fix, and installs one with `npx dspex worker install`', async () => {
    const none = await npx(['dspex', 'worker', 'path']);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('no worker found');
    expect(none.stderr).toContain('Fix: run `npx dspex worker install`');

    const install = await npx(['dspex', 'worker', 'install'], {
      PIP_FIND_LINKS: wheelhouse,
      PIP_NO_INDEX: '1',
    });
    expect(install.code, install.stderr.slice(-3000)).toBe(0);
    const bin = join(dir, 'cache', 'dspex', `worker-${VERSION}`, 'bin', 'dspex-worker');
    expect(install.stdout.trim()).toBe(bin);
    expect(install.stderr).toContain('installing the pinned dependencies from');

    const path = await npx(['dspex', 'worker', 'path']);
    expect([path.code, path.stdout.trim()]).toEqual([0, bin]);
    expect(path.stderr).toContain('installed by `dspex worker install`');
    // Runtime dependencies only: no dev tools in the user's venv.
    const pkgs = await sh(join(bin, '..', 'python'), ['-m', 'pip', 'list', '--format=freeze'], dir, env);
    expect(pkgs.stdout).toMatch(/^dspy==/m);
    expect(pkgs.stdout).not.toMatch(/^(pytest|ruff|mypy|hypothesis)==/im);

    // A second run keeps the complete install.
    const again = await npx(['dspex', 'worker', 'install']);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain('already installed');
  }, 300_000);

  it('answers a typed ChainOfThought call through the installed worker, with no configuration', async () => {
    const run = await sh(process.execPath, [join(project, 'out', 'main.js')], project, env);
    expect(run.code, run.stderr.slice(-3000)).toBe(0);
    // The worker's default LM is DSPy's DummyLM: answers derived from the signature and inputs.
    expect(JSON.parse(run.stdout)).toEqual({
      reasoning: 'reasoning for What is 2+2?',
      answer: 'answer for What is 2+2?',
      confidence: 0.5,
    });
  });

  it('names the fix when there is no usable Python or no package index', async () => {
    const noPython = await npx(['dspex', 'worker', 'install', '--python', join(dir, 'no-such-python')], {
      XDG_CACHE_HOME: join(dir, 'cache-2'),
    });
    expect(noPython.code).toBe(1);
    expect(noPython.stderr).toMatch(
      /^dspex worker install: no Python 3\.11 or newer \(tried .*no-such-python: ENOENT\)\. Fix: install Python 3\.11/m,
    );

    // An index nobody listens on (port 9, discard): pip cannot connect, as with no network.
    const offline = await npx(['dspex', 'worker', 'install'], {
      XDG_CACHE_HOME: join(dir, 'cache-3'),
      PIP_INDEX_URL: 'http://127.0.0.1:9/simple',
      PIP_FIND_LINKS: '',
      PIP_RETRIES: '1', // one "Retrying … NewConnectionError" line, without pip's full backoff
    });
    expect(offline.code).toBe(1);
    expect(offline.stderr).toMatch(
      /^dspex worker install: pip install -r requirements-runtime\.lock failed/m,
    );
    expect(offline.stderr).toContain('Fix: pip could not reach the package index');
    // Nothing half-made is left for the runtime to find.
    expect(existsSync(join(dir, 'cache-3', 'dspex', `worker-${VERSION}`))).toBe(false);
  }, 180_000);
});
