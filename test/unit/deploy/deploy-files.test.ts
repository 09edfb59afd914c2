/**
 * No Docker engine runs where this project is developed, so the Dockerfile and docker-compose.yml
 * are checked by reading them: stages, base images, commands, ports, health checks, environment,
 * volumes, and that no secret is written on a command line.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfigFile } from '../../../src/cli/node-config.js';
import { resolveConfig } from '../../../src/runtime/config.js';
import { execForm, parseDockerfile, splitOptions, type Stage } from './dockerfile.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

/** A password interpolated (`${…PASSWORD…}`) or written into a URL (`scheme://user:pass@`). */
const SECRET = /PASSWORD|TOKEN|SECRET|API_KEY|:\/\/[^/\s:@]+:[^@\s]+@/i;

const { stages, global } = parseDockerfile(read('Dockerfile'));
const stage = (name: string): Stage => {
  const found = stages.find((s) => s.name === name);
  if (found === undefined) throw new Error(`no stage ${name}`);
  return found;
};
const runs = (s: Stage) => s.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
const copies = (s: Stage) =>
  s.instructions.filter((i) => i.keyword === 'COPY').map((i) => splitOptions(i.args));

describe('Dockerfile', () => {
  it('has a build, a worker and a runtime stage on the same Node 20 bookworm base, the runtime last', () => {
    expect(stages.map((s) => [s.name, s.image])).toEqual([
      ['build', 'node:20-bookworm-slim'],
      ['worker', 'node:20-bookworm-slim'],
      ['runtime', 'node:20-bookworm-slim'],
    ]);
    // The worker venv is copied between stages: its interpreter must be at the same path in both.
    expect(stage('worker').image).toBe(stage('runtime').image);
    expect(global).toEqual([]);
  });

  it('compiles TypeScript in the build stage with the dev dependencies', () => {
    const build = stage('build');
    expect(runs(build)).toContain('npm ci --ignore-scripts --no-audit --no-fund');
    expect(runs(build)).toContain('npm run build');
    expect(copies(build).map((c) => c.rest)).toContain('src/ src/');
    // tsconfig.build.json compiles src/ to dist/, where bin/dspex.js looks in an installed copy.
    const config = JSON.parse(read('tsconfig.build.json')) as { compilerOptions: Record<string, unknown> };
    expect(config.compilerOptions).toMatchObject({ rootDir: 'src', outDir: 'dist' });
    expect(read('bin/dspex.js')).toContain("'../dist/cli/main.js'");
  });

  it('builds the worker venv from the runtime lock only, with a regular install of the package', () => {
    const worker = runs(stage('worker')).join('\n');
    expect(worker).toContain('python3 -m venv python/.venv');
    expect(worker).toContain('-r python/requirements-runtime.lock');
    expect(worker).toContain('--no-deps ./python');
    expect(worker).toContain('python/.venv/bin/dspex-worker --version');
    const instructions = stages
      .flatMap((s) => s.instructions.map((i) => `${i.keyword} ${i.args}`))
      .join('\n');
    expect(instructions).not.toContain('requirements-dev.lock');
    expect(instructions).not.toMatch(/\[dev\]|pip install[^\n]* -e |pytest|ruff|mypy|hypothesis/);
  });

  it('ships only the compiled JS, the production npm dependencies, bin/ and the worker venv', () => {
    const runtime = stage('runtime');
    expect(runs(runtime)).toContain(
      'npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force',
    );
    expect(copies(runtime)).toEqual([
      { options: {}, rest: 'package.json package-lock.json ./' },
      { options: { from: 'build' }, rest: '/app/dist/ dist/' },
      { options: { from: 'worker' }, rest: '/app/python/.venv/ python/.venv/' },
      { options: {}, rest: 'bin/dspex.js bin/' },
    ]);
    const env = runtime.instructions.filter((i) => i.keyword === 'ENV').map((i) => i.args);
    expect(env.join(' ')).toContain('PATH=/app/python/.venv/bin:$PATH');
    expect(env.join(' ')).toContain('NODE_ENV=production');
    expect(runtime.instructions.find((i) => i.keyword === 'USER')?.args).toBe('node');
  });

  it('runs the dspex CLI and checks its health with `dspex status --node self`', () => {
    const runtime = stage('runtime');
    const last = (keyword: string) => runtime.instructions.filter((i) => i.keyword === keyword).at(-1);
    expect(execForm(last('ENTRYPOINT')!.args)).toEqual(['dspex']);
    expect(execForm(last('CMD')!.args)).toEqual(['node']);
    expect(runs(runtime)).toContain('ln -s /app/bin/dspex.js /usr/local/bin/dspex');
    const health = splitOptions(last('HEALTHCHECK')!.args);
    expect(health.options).toEqual({ interval: '15s', timeout: '10s', 'start-period': '120s', retries: '3' });
    expect(health.rest.startsWith('CMD ')).toBe(true);
    expect(execForm(health.rest.slice(4))).toEqual([
      'dspex',
      'status',
      '--node',
      'self',
      '--timeout',
      '5000',
    ]);
  });

  it('copies only files that exist and that .dockerignore lets in, and bakes in no secret', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    for (const s of stages) {
      for (const { options, rest } of copies(s)) {
        if (options.from !== undefined) continue;
        const sources = rest.split(/\s+/).slice(0, -1);
        for (const source of sources) {
          expect(existsSync(join(ROOT, source)), `${s.name}: COPY ${source}`).toBe(true);
          const top = source.replace(/\/$/, '');
          expect(ignored, `${s.name}: COPY ${source} is in .dockerignore`).not.toContain(top);
        }
      }
      for (const i of s.instructions.filter((i) => ['ENV', 'ARG', 'RUN', 'CMD'].includes(i.keyword)))
        expect(i.args, `${s.name} line ${i.line}`).not.toMatch(SECRET);
    }
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'dist', '**/.venv', '**/__pycache__']));
  });
});

interface Service {
  image?: string;
  build?: string;
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test?: string[]; disable?: boolean; interval?: string; start_period?: string };
  stop_grace_period?: string;
  profiles?: string[];
}
const compose = parse(read('docker-compose.yml'), { merge: true }) as {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
};
const services = compose.services;
const NATS = ['nats-1', 'nats-2', 'nats-3'];
const NODES = ['node-general', 'node-optimizer'];

describe('docker-compose.yml', () => {
  it('runs a 3-server NATS cluster, two runtime nodes, a hand-started worker and a cli tool', () => {
    expect(Object.keys(services).sort()).toEqual(
      [...NATS, ...NODES, 'worker-key', 'remote-worker', 'cli'].sort(),
    );
    for (const name of [...NODES, 'worker-key', 'remote-worker', 'cli'])
      expect(services[name], name).toMatchObject({ build: '.', image: 'dspex:local' });
  });

  it('clusters the NATS servers with nats.conf, a JetStream volume each, and a /healthz check', () => {
    const storeDir = /store_dir:\s*"([^"]+)"/.exec(read('nats.conf'))?.[1];
    expect(storeDir).toBe('/data/jetstream');
    for (const name of NATS) {
      const s = services[name]!;
      expect(s.image).toBe('nats:2.10-alpine');
      const command = s.command!;
      const flag = (f: string) => command[command.indexOf(f) + 1];
      expect(flag('--config')).toBe('/etc/nats/dspex.conf');
      expect(flag('--name')).toBe(name);
      expect(flag('--cluster_name')).toBe('dspex');
      expect(flag('--routes')!.split(',')).toEqual(NATS.map((n) => `nats://${n}:6222`));
      expect(s.volumes).toEqual(['./nats.conf:/etc/nats/dspex.conf:ro', `${name}-data:${storeDir}`]);
      expect(compose.volumes).toHaveProperty(`${name}-data`);
      expect(s.healthcheck?.test).toEqual([
        'CMD',
        'wget',
        '-q',
        '-O',
        '/dev/null',
        'http://127.0.0.1:8222/healthz',
      ]);
    }
    // Only nats-1 publishes ports, and only on the host's loopback.
    expect(services['nats-1']!.ports).toEqual(['127.0.0.1:4222:4222', '127.0.0.1:8222:8222']);
    expect(services['nats-2']!.ports).toBeUndefined();
  });

  it('gives each node an id, all three servers, a health check and the 3-replica JetStream config', async () => {
    const ids = new Set<string>();
    for (const name of NODES) {
      const s = services[name]!;
      expect(s.command![0]).toBe('node');
      expect(s.command!.slice(1, 3)).toEqual(['--config', '/etc/dspex/node.json']);
      expect(s.volumes).toEqual(['./examples/node.cluster.json:/etc/dspex/node.json:ro']);
      const env = s.environment!;
      expect(env.DSPEX_NODE_ID).toBe(name);
      ids.add(env.DSPEX_NODE_ID!);
      expect(env.DSPEX_NATS_URL!.split(',')).toEqual(NATS.map((n) => `nats://${n}:4222`));
      expect([env.DSPEX_NATS_USER, env.DSPEX_NATS_PASSWORD]).toEqual(['node', '${DSPEX_NODE_PASSWORD}']);
      expect([env.DSPEX_WORKER_NATS_USER, env.DSPEX_WORKER_NATS_PASSWORD]).toEqual([
        'worker',
        '${DSPEX_WORKER_PASSWORD}',
      ]);
      expect(env.DSPEX_WORKER_SECRET).toBe('${DSPEX_WORKER_SECRET:?export DSPEX_WORKER_SECRET}');
      expect(s.healthcheck).toMatchObject({
        test: ['CMD', 'dspex', 'status', '--node', 'self', '--timeout', '5000'],
        start_period: '120s',
      });
      expect(Object.keys(s.depends_on!).sort()).toEqual(NATS);
      expect(Object.values(s.depends_on!).map((d) => d.condition)).toEqual(NATS.map(() => 'service_healthy'));
      expect(s.stop_grace_period).toBe('70s');
    }
    expect(ids.size).toBe(NODES.length);
    const config = resolveConfig(await loadConfigFile(join(ROOT, 'examples/node.cluster.json')));
    expect([config.variables.replicas, config.sessions.replicas, config.pipelines.replicas]).toEqual([
      3, 3, 3,
    ]);
  });

  it('checks the hand-started worker through a node, asking as the client user', () => {
    const s = services['remote-worker']!;
    expect(s.entrypoint).toEqual(['dspex-worker']);
    const id = s.command![s.command!.indexOf('--id') + 1];
    expect(id).toBe('remote-1');
    expect(s.environment!.DSPEX_NATS_URL).toBe('nats://nats-2:4222');
    expect(s.environment!.DSPEX_NATS_USER).toBe('worker');
    expect(s.environment!.DSPEX_NATS_PASSWORD).toBe('${DSPEX_WORKER_PASSWORD}');
    expect(s.environment!.DSPEX_HEALTH_NATS_PASSWORD).toBe('${DSPEX_CLIENT_PASSWORD}');
    expect(s.healthcheck!.test).toEqual([
      'CMD-SHELL',
      `DSPEX_NATS_USER=client DSPEX_NATS_PASSWORD="$$DSPEX_HEALTH_NATS_PASSWORD" exec dspex status --worker ${id} --timeout 5000`,
    ]);
  });

  it('runs the cli tool only on demand, after the nodes are healthy', () => {
    const s = services.cli!;
    expect(s.profiles).toEqual(['tools']);
    expect(s.healthcheck).toEqual({ disable: true });
    expect(s.depends_on).toEqual({
      'node-general': { condition: 'service_healthy' },
      'node-optimizer': { condition: 'service_healthy' },
    });
    expect(s.environment!.DSPEX_NATS_URL!.split(',')).toEqual(NATS.map((n) => `nats://${n}:4222`));
    expect([s.environment!.DSPEX_NATS_USER, s.environment!.DSPEX_NATS_PASSWORD]).toEqual([
      'client',
      '${DSPEX_CLIENT_PASSWORD}',
    ]);
  });

  it('keeps every secret out of command lines, and mounts only files that exist', () => {
    for (const [name, s] of Object.entries(services)) {
      // A `NAME="$$VAR"` prefix is the container's shell moving a value into the environment of the
      // command it execs, never onto its command line: only literal values count.
      for (const argv of [s.command, s.entrypoint, s.healthcheck?.test])
        expect(
          JSON.stringify(argv ?? []).replace(/\b[A-Z_]+=(\\"\$\$[A-Z_]+\\"|[a-z]+)/g, ''),
          `${name}`,
        ).not.toMatch(SECRET);
      for (const volume of s.volumes ?? []) {
        const source = volume.split(':')[0]!;
        if (source.startsWith('./')) expect(existsSync(join(ROOT, source)), `${name}: ${source}`).toBe(true);
      }
    }
    // The passwords are required, not defaulted to something guessable.
    const text = read('docker-compose.yml');
    for (const v of ['DSPEX_NODE_PASSWORD', 'DSPEX_WORKER_PASSWORD', 'DSPEX_CLIENT_PASSWORD'])
      expect(text).toContain(`\${${v}:?`);
    expect(text).not.toMatch(/PASSWORD:-/);
  });
});
