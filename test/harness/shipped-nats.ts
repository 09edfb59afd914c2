import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ConnectionOptions, NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { eventually } from './eventually.js';

export const SHIPPED_CONF = fileURLToPath(new URL('../../nats.conf', import.meta.url));
const BIN = process.env.DSPEX_NATS_SERVER_BIN ?? 'nats-server';

/** The passwords the tests give the three users of the shipped nats.conf. */
export const PASSWORDS = {
  DSPEX_NODE_PASSWORD: 'node-secret-1',
  DSPEX_WORKER_PASSWORD: 'worker-secret-2',
  DSPEX_CLIENT_PASSWORD: 'client-secret-3',
};
export type Role = 'node' | 'worker' | 'client';
export const passwordOf = (role: Role): string =>
  PASSWORDS[`DSPEX_${role.toUpperCase()}_PASSWORD` as keyof typeof PASSWORDS];
/** The inbox prefix our clients use for each role by default. */
export const inboxOf = (role: Role): string => `_INBOX_${role}`;

/** A user the tests add to the shipped config: no permissions, so it sees and may send anything. */
export const OBSERVER = { user: 'observer', pass: 'observer-secret-4' };

/**
 * The repository's nats.conf, unchanged except where it must be for a test: loopback and free ports
 * instead of 4222/8222, a temp JetStream store, a ports file to learn the ports from, and (when
 * asked) an unrestricted `observer` user that watches what the roles send. Each rewrite must match,
 * so an edit of nats.conf that moves these lines fails the tests loudly.
 */
export async function shippedConfig(dir: string, { observer = false } = {}): Promise<string> {
  let text = await readFile(SHIPPED_CONF, 'utf8');
  const rewrites: Array<[RegExp, string]> = [
    [/^listen: 0\.0\.0\.0:4222$/m, 'listen: 127.0.0.1:-1'],
    [/^http: 0\.0\.0\.0:8222$/m, 'http: 127.0.0.1:-1'],
    [/store_dir: "\/data\/jetstream"/, `store_dir: "${join(dir, 'js')}"`],
  ];
  if (observer) {
    rewrites.push([
      /^ {4}users: \[$/m,
      `    users: [\n      { user: ${OBSERVER.user}, password: ${OBSERVER.pass} }`,
    ]);
  }
  for (const [pattern, replacement] of rewrites) {
    if (!pattern.test(text)) throw new Error(`nats.conf no longer has ${String(pattern)}`);
    text = text.replace(pattern, replacement);
  }
  const path = join(dir, 'nats.conf');
  await writeFile(path, `${text}\nports_file_dir: "${dir}"\n`);
  return path;
}

/** A nats-server running the shipped nats.conf. */
export interface ShippedNats extends AsyncDisposable {
  readonly child: ChildProcess;
  readonly dir: string;
  readonly url: string;
  readonly port: number;
  readonly monitorUrl: string;
  stderr(): string;
  /** A connection as `role` with the role's default inbox prefix (or `options` overriding it). */
  connectAs(role: Role | 'observer', options?: Partial<ConnectionOptions>): Promise<NatsConnection>;
  stop(): Promise<void>;
}

export async function startShippedNats({
  observer = false,
  env = {},
}: { observer?: boolean; env?: NodeJS.ProcessEnv } = {}): Promise<ShippedNats> {
  const dir = await mkdtemp(join(tmpdir(), 'dspex-nats-conf-'));
  const path = await shippedConfig(dir, { observer });
  const child = spawn(BIN, ['-c', path], {
    env: { ...process.env, ...PASSWORDS, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const ports = await eventually(
    async () => {
      if (child.exitCode !== null) throw new Error(`nats-server exited: ${stderr}`);
      const file = (await readdir(dir)).find((f) => f.endsWith('.ports'));
      if (file === undefined) throw new Error('no ports file yet');
      return JSON.parse(await readFile(join(dir, file), 'utf8')) as { nats: string[]; monitoring: string[] };
    },
    { timeoutMs: 10_000, intervalMs: 20 },
  );
  const url = ports.nats[0]!;
  const open: NatsConnection[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(open.splice(0).map((nc) => nc.close().catch(() => undefined)));
    if (child.exitCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };
  return {
    child,
    dir,
    url,
    port: Number(new URL(url).port),
    monitorUrl: ports.monitoring[0]!,
    stderr: () => stderr,
    async connectAs(role, options = {}) {
      const auth =
        role === 'observer'
          ? { user: OBSERVER.user, pass: OBSERVER.pass }
          : { user: role, pass: passwordOf(role), inboxPrefix: inboxOf(role) };
      const nc = await connect({ servers: url, maxReconnectAttempts: 0, ...auth, ...options });
      open.push(nc);
      return nc;
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

export function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}
