/**
 * A node's worker pools: the supervision tree (a one_for_one pools supervisor over pool machines,
 * each with its workers supervisor), the launchers of the local pools, the dispatcher the workers'
 * states feed, and the pools other hosts run that this node adopts from their heartbeats.
 */
import type { Logger } from 'pino';
import { createActor, type Actor, type AnyActorRef } from 'xstate';
import { poolMachine, type PoolInput } from '../actors/pool-machine.js';
import { workerMachine, type WorkerContext, type WorkerUpdate } from '../actors/worker-machine.js';
import { DspexError, ErrorCode } from '../errors.js';
import type { WorkerHeartbeat } from '../protocol/schemas.js';
import { supervisorMachine } from '../supervisors/supervisor-machine.js';
import type { ChildSpec } from '../supervisors/types.js';
import type { RuntimeMetrics } from '../telemetry/metrics.js';
import type { WorkerLauncher } from '../workers/launcher.js';
import { WORKER_CRASH_FIX } from '../workers/preflight.js';
import { workerProcessLogic } from '../workers/process.js';
import { Dispatcher, type AttemptResult, type WorkerEntry } from './dispatcher.js';
import { PoolOptionsSchema, poolConcurrency, type ResolvedPoolOptions } from './options.js';
import type { WorkerSend } from './worker-call.js';

export interface NodePoolsOptions {
  nodeId: string;
  /** The configured pools (resolved options), by name. */
  pools: Record<string, ResolvedPoolOptions>;
  /** Sends one request to one worker. */
  send: WorkerSend;
  /** Attempts per call on distinct workers. */
  maxAttempts: number;
  logger: Logger;
  metrics: RuntimeMetrics;
  /** Called after every attempt that reached a worker (the orchestrator's pattern store). */
  onAttempt(result: AttemptResult): void;
  /** Called when a local worker is recycled after its call budget. */
  onRecycle?(pool: string, worker: string): void;
  /** Called after a worker of `pool` changed state (calls waiting for a pool's first worker). */
  onWorkerState?(pool: string): void;
  /** Called once if the pools supervisor gives up (pools kept crashing past its intensity). */
  onFailed(error: DspexError): void;
  /** True once the node is stopping: no pool is adopted and a supervisor's end is no failure. */
  stopping(): boolean;
}

/** What the orchestrator sees of a pool. */
export interface PoolSnapshot {
  /** Calls its live workers can run at once. */
  capacity: number;
  queued: number;
  inflight: number;
  /** Local workers it keeps now, the size it was configured with, and its growth limit. */
  size: number;
  baseSize: number;
  maxSize: number;
  concurrency: number;
}

/** The pools of one node under supervision; see the module comment. */
export class NodePools {
  readonly dispatcher: Dispatcher;
  private readonly pools = new Map<string, ResolvedPoolOptions>();
  /** Local sizes the orchestrator set, where they differ from the configured ones. */
  private readonly sizes = new Map<string, number>();
  private root: Actor<typeof supervisorMachine> | undefined;
  /** Launchers of the local pools (a pool without one only routes to workers elsewhere). */
  private launchers = new Map<string, WorkerLauncher>();
  /** Set when the pools supervisor gave up: waiting for workers ends at once. */
  private failure: DspexError | undefined;
  /** The last crash of a local worker, named in the node's failure. */
  private lastCrash: { pool: string; worker: string; reason: string } | undefined;

  constructor(private readonly o: NodePoolsOptions) {
    for (const [name, pool] of Object.entries(o.pools)) this.pools.set(name, pool);
    this.dispatcher = new Dispatcher({
      send: o.send,
      logger: o.logger,
      metrics: o.metrics,
      maxAttempts: o.maxAttempts,
      limits: (pool) => {
        const p = this.pools.get(pool);
        return {
          queueLimit: p?.queueLimit ?? 1000,
          recycleAfterCalls: p?.recycleAfterCalls,
          strategy: p?.routing ?? 'adaptive',
          hedging: p?.hedging ?? true,
          breaker: p?.breaker ?? {},
        };
      },
      onAttempt: (result) => o.onAttempt(result),
      onRecycle: (pool, worker) => {
        o.logger.info({ pool, worker }, 'recycling worker after its call budget');
        o.onRecycle?.(pool, worker);
        this.poolRef(pool)?.send({ type: 'recycle', id: worker, reason: 'call budget' });
      },
    });
  }

  /** Starts the pools supervisor and, under it, every pool and its local workers. */
  start(launchers: Map<string, WorkerLauncher>): void {
    this.launchers = launchers;
    const { metrics, logger, nodeId } = this.o;
    const root = createActor(supervisorMachine, {
      input: {
        id: `${nodeId}.pools`,
        strategy: 'one_for_one',
        intensity: { maxRestarts: 5, periodMs: 60_000 },
        children: [...this.pools.entries()].map(([name, pool]) => this.poolSpec(name, pool)),
      },
    });
    this.root = root;
    root.on('*', (event: { type: string; id?: string }) => {
      metrics.supervisorEvents.inc({ supervisor: 'pools', event: event.type });
      logger.info({ event }, 'pool supervisor event');
    });
    root.subscribe({
      complete: () => {
        const output = root.getSnapshot().output;
        if (output?.status !== 'crashed' || this.o.stopping()) return;
        const crash = this.lastCrash;
        const error = new DspexError(
          ErrorCode.Unavailable,
          `node ${nodeId}: its pools kept crashing (${output.reason})` +
            (crash === undefined
              ? ''
              : `; last worker failure, pool ${crash.pool}: ${crash.reason}. Fix: ${WORKER_CRASH_FIX}`),
          {
            retryable: false,
            details: { lastFailure: output.lastFailure, lastWorkerFailure: crash, fix: WORKER_CRASH_FIX },
          },
        );
        this.failure = error;
        logger.fatal({ err: error }, 'pools supervisor gave up');
        metrics.supervisorEvents.inc({ supervisor: 'pools', event: 'node.failed' });
        this.o.onFailed(error);
      },
    });
    root.start();
  }

  /** Pool names this node knows (configured, and adopted from other hosts' heartbeats). */
  names(): string[] {
    return [...this.pools.keys()];
  }

  has(pool: string): boolean {
    return this.pools.has(pool);
  }

  options(pool: string): ResolvedPoolOptions | undefined {
    return this.pools.get(pool);
  }

  /**
   * Hands a verified worker heartbeat to its pool. A pool this node does not host is created
   * remote-only (size 0) on its first heartbeat, so the node routes to the workers other hosts run.
   */
  heartbeat(hb: WorkerHeartbeat): void {
    if (!this.pools.has(hb.pool)) {
      if (hb.state === 'stopped' || this.o.stopping()) return;
      // A pool this node does not host: route to the workers other hosts run for it (their
      // concurrency comes with their heartbeats; this default only sizes the node's own view).
      const parsed = PoolOptionsSchema.parse({ size: 0 });
      const pool: ResolvedPoolOptions = { ...parsed, concurrency: poolConcurrency(parsed, undefined) };
      this.pools.set(hb.pool, pool);
      this.root?.send({ type: 'supervisor.start_child', spec: this.poolSpec(hb.pool, pool) });
    }
    this.poolRef(hb.pool)?.send({ type: 'heartbeat', heartbeat: hb });
  }

  /** The orchestrator's view of a pool: capacity, queue, sizes. */
  snapshot(name: string): PoolSnapshot | undefined {
    const pool = this.pools.get(name);
    if (pool === undefined) return undefined;
    const live = this.dispatcher.poolWorkers(name).filter((w) => w.state === 'ready' || w.state === 'busy');
    return {
      capacity: live.reduce((n, w) => n + w.concurrency, 0),
      queued: this.dispatcher.queueLength(name),
      inflight: live.reduce((n, w) => n + w.inflight, 0),
      size: this.sizes.get(name) ?? pool.size,
      baseSize: pool.size,
      maxSize: Math.max(pool.size, pool.maxSize ?? pool.size),
      concurrency: pool.concurrency,
    };
  }

  /** Grows or shrinks a pool's local workers within [0, maxSize] (pools with a launcher only). */
  resize(name: string, size: number): void {
    const pool = this.pools.get(name);
    if (pool === undefined || !this.launchers.has(name)) return;
    const target = Math.max(0, Math.min(size, Math.max(pool.size, pool.maxSize ?? pool.size)));
    if (target === (this.sizes.get(name) ?? pool.size)) return;
    this.sizes.set(name, target);
    this.o.logger.info({ pool: name, size: target }, 'resizing pool');
    this.poolRef(name)?.send({ type: 'resize', size: target });
  }

  /** Every pool with its current options, queue and workers (status). */
  status(): Array<{
    name: string;
    options: ResolvedPoolOptions;
    queueLength: number;
    workers: Array<Readonly<WorkerEntry>>;
  }> {
    return [...this.pools.entries()].map(([name, pool]) => ({
      name,
      options: { ...pool, size: this.sizes.get(name) ?? pool.size },
      queueLength: this.dispatcher.queueLength(name),
      workers: this.dispatcher.poolWorkers(name),
    }));
  }

  /**
   * Resolves once `count` workers of `pool` are ready (only this node's own with `local`); rejects
   * after `timeoutMs`, or at once when the pools supervisor gave up.
   */
  async waitForWorkers(
    pool: string,
    count: number | undefined,
    timeoutMs: number,
    options: { local?: boolean } = {},
  ): Promise<void> {
    const want = count ?? this.pools.get(pool)?.size ?? 1;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const ready = this.dispatcher
        .poolWorkers(pool)
        .filter(
          (w) => (w.state === 'ready' || w.state === 'busy') && (options.local !== true || w.managed),
        ).length;
      if (ready >= want) return;
      if (this.failure !== undefined) throw this.failure;
      if (Date.now() > deadline) {
        throw new DspexError(
          ErrorCode.Unavailable,
          `pool ${pool}: ${ready} of ${want} workers ready after ${timeoutMs} ms`,
        );
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Asks every local worker to finish its calls and stop, and waits for them (bounded). */
  async drain(): Promise<void> {
    for (const pool of this.pools.keys()) this.poolRef(pool)?.send({ type: 'drain' });
    const limit = Date.now() + Math.max(...[...this.pools.values()].map((p) => p.drainTimeoutMs), 1000);
    const localLeft = (): number =>
      [...this.pools.keys()].flatMap((p) => this.dispatcher.poolWorkers(p)).filter((w) => w.managed).length;
    while (localLeft() > 0 && Date.now() < limit) await new Promise((r) => setTimeout(r, 25));
  }

  /** Stops the supervision tree and the launchers (after {@link drain}). */
  async stop(): Promise<void> {
    this.root?.send({ type: 'supervisor.stop' });
    await Promise.all([...this.launchers.values()].map((l) => l.close()));
    this.root?.stop();
  }

  private readonly workerLogic = workerMachine.provide({
    actors: { process: workerProcessLogic((pool) => this.launchers.get(pool)) },
    actions: {
      notify: ({ context }: { context: WorkerContext }, params: { state: WorkerUpdate['state'] }) => {
        this.dispatcher.update({
          id: context.id,
          pool: context.pool,
          managed: context.managed,
          state: params.state,
          heartbeat: context.heartbeat,
          reason: context.reason,
        });
        this.o.onWorkerState?.(context.pool);
        if (params.state === 'crashed' || params.state === 'stopped') {
          this.o.metrics.workerExits.inc({ pool: context.pool, outcome: params.state });
        }
        if (params.state === 'crashed' && context.managed) {
          this.lastCrash = { pool: context.pool, worker: context.id, reason: context.reason ?? 'crashed' };
        }
        if (params.state !== 'ready' && params.state !== 'busy') {
          this.o.logger.info(
            { worker: context.id, pool: context.pool, state: params.state, reason: context.reason },
            'worker state',
          );
        }
      },
    },
  });

  private poolSpec(name: string, pool: ResolvedPoolOptions): ChildSpec {
    const input: PoolInput = {
      name,
      nodeId: this.o.nodeId,
      size: pool.size,
      intensity: pool.intensity,
      workerLogic: this.workerLogic,
      timings: {
        heartbeatTimeoutMs: pool.heartbeatMs * 3,
        startTimeoutMs: pool.startTimeoutMs,
        drainTimeoutMs: pool.drainTimeoutMs,
      },
      maxRssBytes: pool.maxRssMb === undefined ? undefined : pool.maxRssMb * 1024 * 1024,
    };
    return { id: name, logic: poolMachine, input, restart: 'permanent' };
  }

  private poolRef(pool: string): AnyActorRef | undefined {
    return (this.root?.getSnapshot().children as Record<string, AnyActorRef | undefined> | undefined)?.[pool];
  }
}
