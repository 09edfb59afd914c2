/**
 * One launcher per local pool: a zygote (one DSPy import, workers forked from it) or direct
 * processes, with the pool's command, NATS login, environment and LM. Pools with no local workers
 * (size and maxSize 0: routing only to workers started elsewhere) get none.
 */
import type { Logger } from 'pino';
import type { NatsAuth } from '../nats/nats-connect.js';
import { resolveWorkerConnection } from './connection.js';
import { workerEnvironment } from './env.js';
import type { WorkerIdentity } from './identity.js';
import { DirectLauncher, ZygoteLauncher, type WorkerLauncher } from './launcher.js';
import type { ResolvedWorkerOptions } from './options.js';

/** What a launcher needs of a pool's options. */
export interface LaunchedPool {
  size: number;
  maxSize?: number | undefined;
  concurrency: number;
  heartbeatMs: number;
  lm?: string | undefined;
  env: Record<string, string>;
  /** Devices the pool owns; each worker gets its own in `CUDA_VISIBLE_DEVICES`. */
  devices?: string[] | undefined;
}

export interface PoolLaunchersOptions {
  worker: ResolvedWorkerOptions;
  pools: ReadonlyMap<string, LaunchedPool>;
  /** The node's NATS servers and login (workers use theirs unless `worker` names others). */
  servers: string[];
  auth: NatsAuth;
  identity: WorkerIdentity;
  prefix: string;
  nodeId: string;
  logger: Logger;
}

/** Creates the launchers of the local pools, keyed by pool name. */
export function createPoolLaunchers(o: PoolLaunchersOptions): Map<string, WorkerLauncher> {
  const { worker } = o;
  // Resolved (and checked to exist) by createRuntime before it connects: workers/preflight.ts.
  const command = worker.command ?? [];
  const connection = resolveWorkerConnection(o.servers, o.auth, worker.natsUrl, worker.nats, o.logger);
  const keyOf = o.identity.enforced ? (id: string) => o.identity.keyOf(id) : undefined;
  const launchers = new Map<string, WorkerLauncher>();
  for (const [name, pool] of o.pools) {
    if (pool.size === 0 && (pool.maxSize ?? 0) === 0) continue;
    const launchOptions = {
      command,
      servers: connection.servers,
      auth: connection.auth,
      keyOf,
      prefix: o.prefix,
      pool: name,
      nodeId: o.nodeId,
      concurrency: pool.concurrency,
      heartbeatMs: pool.heartbeatMs,
      lm: pool.lm ?? worker.lm,
      env: workerEnvironment(process.env, worker.passEnv, worker.env, pool.env),
      devices: pool.devices,
      logger: o.logger,
    };
    launchers.set(
      name,
      worker.launcher === 'zygote' ? new ZygoteLauncher(launchOptions) : new DirectLauncher(launchOptions),
    );
  }
  return launchers;
}
