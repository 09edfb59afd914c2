import { readFile } from 'node:fs/promises';
import type { z } from 'zod';
import { configFromEnv, RuntimeOptionsSchema, type RuntimeConfig } from '../runtime/config.js';
import { usageError } from './command.js';
import { parseNatsUrls, type NatsTarget } from '../nats/nats-url.js';

/**
 * The config of `dspex node`, from three layers: a JSON file (the {@link RuntimeConfig} shape), the
 * `DSPEX_*` environment, and flags. Flags win over the environment, the environment over the file.
 * Objects merge key by key (`--pool general=1` changes the size of the file's `general` pool and
 * keeps its other options and the other pools); arrays and plain values replace.
 */

/** The flags of `dspex node` that feed the runtime config. */
export interface NodeFlags {
  nats?: string;
  natsCreds?: string;
  natsNkey?: string;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  inboxPrefix?: string;
  workerSecretFile?: string;
  nodeId?: string;
  /** `NAME=SIZE` entries. */
  pools?: string[];
  lm?: string;
  workerNats?: string;
  metricsPort?: string;
  metricsHost?: string;
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Reads and validates a config file; a bad one is a usage error naming the file and the field. */
export async function loadConfigFile(path: string): Promise<RuntimeConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw usageError(
      `config file ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
      'config',
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw usageError(`config file ${path}: not valid JSON: ${(error as Error).message}`, 'config');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw usageError(`config file ${path}: expected a JSON object`, 'config');
  }
  const config = normalizeNats(value, `config file ${path}: nats.servers`);
  validate(config, `config file ${path}`);
  return config;
}

/** The environment layer: `configFromEnv` (`DSPEX_*`). */
export function envLayer(env: NodeJS.ProcessEnv): RuntimeConfig {
  return normalizeNats({ ...configFromEnv(env) }, 'DSPEX_NATS_URL');
}

/** The flags layer. */
export function flagsLayer(flags: NodeFlags): RuntimeConfig {
  const layer: RuntimeConfig = {};
  // A partial `nats` object merges key by key with the file's and the environment's.
  const nats: Record<string, unknown> =
    flags.nats === undefined ? {} : natsOption(parseNatsUrls(flags.nats, '--nats'));
  if (flags.natsCreds !== undefined) nats.credsFile = flags.natsCreds;
  if (flags.natsNkey !== undefined) nats.nkeySeedFile = flags.natsNkey;
  if (flags.inboxPrefix !== undefined) nats.inboxPrefix = flags.inboxPrefix;
  const tls: Record<string, string> = {};
  if (flags.tlsCa !== undefined) tls.caFile = flags.tlsCa;
  if (flags.tlsCert !== undefined) tls.certFile = flags.tlsCert;
  if (flags.tlsKey !== undefined) tls.keyFile = flags.tlsKey;
  if (Object.keys(tls).length > 0) nats.tls = tls;
  if (Object.keys(nats).length > 0) layer.nats = nats as RuntimeConfig['nats'];
  if (flags.nodeId !== undefined) layer.nodeId = flags.nodeId;
  const worker: NonNullable<RuntimeConfig['worker']> = {};
  if (flags.lm !== undefined) worker.lm = flags.lm;
  if (flags.workerNats !== undefined) worker.natsUrl = flags.workerNats;
  if (flags.workerSecretFile !== undefined) worker.secretFile = flags.workerSecretFile;
  if (Object.keys(worker).length > 0) layer.worker = worker;
  const metrics: NonNullable<RuntimeConfig['metrics']> = {};
  if (flags.metricsPort !== undefined) {
    if (!/^\d{1,5}$/.test(flags.metricsPort) || Number(flags.metricsPort) > 65_535) {
      throw usageError(
        `--metrics-port: expected a TCP port 0-65535, got "${flags.metricsPort}"`,
        '--metrics-port',
      );
    }
    metrics.port = Number(flags.metricsPort);
  }
  if (flags.metricsHost !== undefined) metrics.host = flags.metricsHost;
  if (Object.keys(metrics).length > 0) layer.metrics = metrics;
  for (const entry of flags.pools ?? []) {
    const [name, size] = parsePoolFlag(entry);
    layer.pools = { ...layer.pools, [name]: { size } };
  }
  return layer;
}

/** `NAME=SIZE` → `[NAME, SIZE]`. */
export function parsePoolFlag(entry: string): [string, number] {
  const m = /^([A-Za-z0-9_-]+)=(\d+)$/.exec(entry);
  if (m === null) throw usageError(`--pool: expected NAME=SIZE (e.g. general=2), got "${entry}"`, '--pool');
  return [m[1]!, Number(m[2])];
}

/** Merges layers left to right: later layers win, plain objects merge key by key. */
export function mergeLayers(...layers: RuntimeConfig[]): RuntimeConfig {
  let out: Record<string, unknown> = {};
  for (const layer of layers) out = mergeObjects(out, layer);
  return out;
}

/** Validates the merged config (a bad one is a usage error naming the field). */
export function finishConfig(merged: RuntimeConfig): RuntimeConfig {
  validate(merged, 'runtime config (file, DSPEX_* environment and flags merged)');
  return merged;
}

/** The log level: `--log-level`, else `DSPEX_LOG_LEVEL`, else `info`. */
export function resolveLogLevel(flag: string | undefined, env: NodeJS.ProcessEnv): LogLevel {
  const value = flag ?? env.DSPEX_LOG_LEVEL ?? 'info';
  const source = flag !== undefined ? '--log-level' : 'DSPEX_LOG_LEVEL';
  if (!(LOG_LEVELS as readonly string[]).includes(value)) {
    throw usageError(`${source}: expected one of ${LOG_LEVELS.join(', ')}, got "${value}"`, source);
  }
  return value as LogLevel;
}

function validate(config: RuntimeConfig, source: string): void {
  const result = RuntimeOptionsSchema.safeParse(config);
  if (result.success) return;
  throw usageError(`${source}: ${describeIssue(result.error.issues[0])}`, issuePath(result.error.issues[0]));
}

type Issue = z.core.$ZodIssue | undefined;

function issuePath(issue: Issue): string {
  const path = issue?.path.map(String).join('.') ?? '';
  if (path === '' && issue?.code === 'unrecognized_keys') return issue.keys.join(',');
  return path;
}

function describeIssue(issue: Issue): string {
  if (issue === undefined) return 'invalid';
  const path = issue.path.map(String).join('.');
  return path === '' ? issue.message : `${path}: ${issue.message}`;
}

function normalizeNats(config: RuntimeConfig, source: string): RuntimeConfig {
  const nats = config.nats;
  if (nats === undefined || typeof nats !== 'object' || nats === null) return config;
  const servers = [nats.servers].flat();
  if (!servers.every((s) => typeof s === 'string')) return config; // validation names it
  const target = parseNatsUrls(servers.join(','), source);
  return { ...config, nats: { ...nats, ...natsOption(target) } };
}

function natsOption(target: NatsTarget): NonNullable<RuntimeConfig['nats']> {
  const nats: NonNullable<RuntimeConfig['nats']> = { servers: target.servers };
  if (target.user !== undefined) nats.user = target.user;
  if (target.pass !== undefined) nats.pass = target.pass;
  if (target.token !== undefined) nats.token = target.token;
  return nats;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function mergeObjects(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [key, value] of Object.entries(b)) {
    if (value === undefined) continue;
    const prev = out[key];
    out[key] = isPlainObject(prev) && isPlainObject(value) ? mergeObjects(prev, value) : value;
  }
  return out;
}
