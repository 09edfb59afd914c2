import type { Logger } from 'pino';
import { successIsNoop, type BreakerInput } from '../actors/breaker-machine.js';
import type { WorkerUpdate } from '../actors/worker-machine.js';
import { DspexError, ErrorCode, toDspexError } from '../errors.js';
import type { PredictReply, WorkerPredictRequest } from '../protocol/schemas.js';
import { BoundChildren, type RuntimeMetrics } from '../telemetry/metrics.js';
import type { AttemptObservation } from '../telemetry/node-telemetry.js';
import {
  admitToQueue,
  effectiveServiceMs,
  ThroughputMeter,
  type PoolLoad,
  type QueueVerdict,
} from './admission.js';
import { hedgeDelay, raceWithHedge } from './hedging.js';
import { LatencyStats } from './latency-stats.js';
import { route, RoutingStrategy, type RouteDecision } from './routing.js';
import { WaitQueues } from './wait-queue.js';
import { callWorker, type WorkerSend } from './worker-call.js';
import { WorkerTable, type WorkerEntry } from './worker-table.js';

export type { WorkerEntry } from './worker-table.js';

/** Per-pool limits and policies the dispatcher applies. */
export interface PoolLimits {
  /** Calls allowed to wait for a worker; beyond it callers get 429. */
  queueLimit: number;
  /** Ask the pool to recycle a local worker after this many calls through this node. */
  recycleAfterCalls: number | undefined;
  /** How workers are chosen. */
  strategy: RoutingStrategy;
  /** Send a second copy of a straggling call to another worker (adaptive routing only). */
  hedging: boolean;
  /** Circuit breaker settings for each worker. */
  breaker: BreakerInput;
}

/** One attempt that reached a worker (the orchestrator's pattern store and telemetry read it). */
export type AttemptResult = AttemptObservation;

export interface DispatcherOptions {
  /** Sends one request to one worker ({@link natsWorkerSend} in a node). */
  send: WorkerSend;
  logger: Logger;
  metrics: RuntimeMetrics;
  /** Attempts per call, on distinct workers, for retryable failures. @default 3 */
  maxAttempts: number;
  limits(pool: string): PoolLimits;
  /** Called once when a local worker reaches its call budget. */
  onRecycle(pool: string, worker: string): void;
  /** Called after every attempt that reached a worker. */
  onAttempt?(result: AttemptResult): void;
}

export interface CallOptions {
  /** Absolute deadline, unix ms. */
  deadline: number;
  session: string | undefined;
  trace: string | undefined;
}

const AFFINITY_LIMIT = 10_000;

/**
 * Errors that say something about the worker's health: not the caller's request (4xx), not load
 * (429), not the caller's own deadline (a hung worker is caught by its missed heartbeats).
 */
const healthError = (e: DspexError): boolean =>
  e.code === ErrorCode.Unavailable || e.code === ErrorCode.LmError || e.code === ErrorCode.Internal;

const noLiveWorker = (pool: string): DspexError =>
  new DspexError(ErrorCode.Unavailable, `pool ${pool} has no live worker`, { details: { pool } });

/**
 * Sends calls to workers: routing (least loaded, round robin, or adaptive from observed latency,
 * errors and circuit breakers), bounded waiting, session affinity, hedging of stragglers, retries on
 * another worker when one fails or dies mid-call, and deadlines. Worker states come from the worker
 * actors ({@link WorkerTable}); waiting calls are in {@link WaitQueues}; the request itself goes
 * through the injected `send` ({@link callWorker}).
 */
export class Dispatcher {
  private readonly table: WorkerTable;
  private readonly queues: WaitQueues<WorkerEntry>;
  private readonly affinity = new Map<string, string>();
  private readonly cursors = new Map<string, { value: number }>();
  private readonly poolStats = new Map<string, LatencyStats>();
  private readonly poolRates = new Map<string, ThroughputMeter>();
  private closed = false;
  /** Metric children bound once per pool (and outcome): every call counts itself. */
  private readonly calls;
  private readonly retries;
  private readonly durations;

  constructor(private readonly o: DispatcherOptions) {
    this.table = new WorkerTable({
      breaker: (pool) => o.limits(pool).breaker,
      onHalfOpen: (pool) => this.pump(pool),
    });
    this.queues = new WaitQueues({ onLength: (pool, n) => o.metrics.queued.set({ pool }, n) });
    const m = o.metrics;
    this.calls = new BoundChildren((pool, outcome) => m.calls.labels({ pool, outcome }));
    this.retries = new BoundChildren((pool, code) => m.retries.labels({ pool, code }));
    this.durations = new BoundChildren((pool) => m.callDuration.labels({ pool }));
  }

  /** Applies a worker actor's state change. */
  update(u: WorkerUpdate): void {
    if (this.table.update(u) !== 'unchanged') this.pump(u.pool);
  }

  /** Workers of a pool as this node sees them (status). */
  poolWorkers(pool: string): Array<Readonly<WorkerEntry>> {
    return this.table.poolWorkers(pool);
  }

  queueLength(pool: string): number {
    return this.queues.length(pool);
  }

  /** Latency statistics of a pool's calls through this node. */
  poolLatency(pool: string): LatencyStats | undefined {
    return this.poolStats.get(pool);
  }

  /** Runs one predict on the pool, retrying retryable failures on other workers. */
  async call(pool: string, request: WorkerPredictRequest, options: CallOptions): Promise<PredictReply> {
    const started = performance.now();
    const excluded = new Set<string>();
    let lastError: DspexError | undefined;
    let replied: string | undefined;
    let outcome = 'ok';
    try {
      for (let attempt = 1; attempt <= this.o.maxAttempts; attempt++) {
        const worker = await this.acquire(pool, options, excluded);
        try {
          const reply = await this.attemptWithHedge(worker, request, options, excluded);
          replied = reply.worker;
          if (options.session !== undefined) this.bind(options.session, reply.worker);
          this.calls.of(pool, 'ok').inc();
          return reply;
        } catch (error) {
          const e = toDspexError(error);
          if (!e.retryable || Date.now() >= options.deadline) throw e;
          lastError = e;
          excluded.add(worker.id);
          this.retries.of(pool, e.code).inc();
          this.o.logger.warn(
            { pool, worker: worker.id, attempt, err: e.message, trace: options.trace },
            'retrying call',
          );
        }
      }
      throw lastError ?? new DspexError(ErrorCode.Unavailable, `pool ${pool}: no attempt left`);
    } catch (error) {
      const e = toDspexError(error);
      outcome = e.code;
      this.calls.of(pool, e.code).inc();
      throw e;
    } finally {
      const seconds = (performance.now() - started) / 1000;
      this.durations.of(pool).observe(seconds);
      // One structured line per call (docs/telemetry.md, "Logs").
      if (this.o.logger.isLevelEnabled('debug')) {
        this.o.logger.debug(
          {
            pool,
            module: request.module,
            worker: replied,
            latency_ms: Math.round(seconds * 1e6) / 1e3,
            outcome,
            trace: options.trace,
          },
          'call',
        );
      }
    }
  }

  /** Fails every waiting call; in-flight calls finish or fail on their own. */
  close(): void {
    this.closed = true;
    this.queues.close();
    this.table.close();
  }

  /**
   * One attempt on a reserved worker. With hedging on, a call still running after a few times the
   * pool's median latency is also sent to another worker that has room; the first reply wins.
   */
  private attemptWithHedge(
    primary: WorkerEntry,
    request: WorkerPredictRequest,
    options: CallOptions,
    excluded: Set<string>,
  ): Promise<PredictReply> {
    const limits = this.o.limits(primary.pool);
    const first = this.runAttempt(primary, request, options, false);
    if (!limits.hedging || limits.strategy !== RoutingStrategy.Adaptive) return first;
    const after = hedgeDelay(this.poolStats.get(primary.pool)?.quantile(0.5), options.deadline - Date.now());
    if (after === undefined) return first;
    return raceWithHedge(first, after, () => {
      // Hedges use spare capacity only: never a slot a queued call is waiting for.
      if (this.queueLength(primary.pool) > 0) return undefined;
      const second = this.tryReserve(primary.pool, new Set([...excluded, primary.id]));
      if (second === undefined) return undefined;
      this.o.metrics.hedges.inc({ pool: primary.pool });
      return this.runAttempt(second, request, options, true);
    });
  }

  /** Sends to one worker and keeps its statistics, breaker and in-flight count. */
  private async runAttempt(
    w: WorkerEntry,
    request: WorkerPredictRequest,
    options: CallOptions,
    hedge: boolean,
  ): Promise<PredictReply> {
    const started = performance.now();
    try {
      const reply = await callWorker(this.o.send, w, request, options);
      const latencyMs = performance.now() - started;
      w.stats.recordSuccess(latencyMs, Date.now());
      this.poolStatsOf(w.pool).recordSuccess(latencyMs, Date.now());
      // Completions while calls wait measure what the pool delivers when busy (admission).
      this.poolRateOf(w.pool).record(Date.now(), this.table.capacity(w.pool), this.queueLength(w.pool) > 0);
      // A healthy worker's breaker is already all successes: sending it one more changes nothing.
      if (!successIsNoop(w.breaker.getSnapshot())) w.breaker.send({ type: 'success' });
      this.report(w, request, latencyMs, true, hedge);
      return reply;
    } catch (error) {
      const e = toDspexError(error);
      if (healthError(e)) {
        w.stats.recordFailure(Date.now());
        w.breaker.send({ type: 'failure' });
        this.report(w, request, performance.now() - started, false, hedge);
      }
      throw e;
    } finally {
      this.finish(w);
    }
  }

  private report(
    w: WorkerEntry,
    request: WorkerPredictRequest,
    latencyMs: number,
    ok: boolean,
    hedge: boolean,
  ): void {
    this.o.onAttempt?.({
      pool: w.pool,
      worker: w.id,
      module: request.module,
      signature: request.signature,
      latencyMs,
      ok,
      hedge,
    });
  }

  private poolRateOf(pool: string): ThroughputMeter {
    let meter = this.poolRates.get(pool);
    if (meter === undefined) this.poolRates.set(pool, (meter = new ThroughputMeter()));
    return meter;
  }

  private poolStatsOf(pool: string): LatencyStats {
    let stats = this.poolStats.get(pool);
    if (stats === undefined) this.poolStats.set(pool, (stats = new LatencyStats()));
    return stats;
  }

  /** Whether this node already routes `session` to a worker. */
  hasAffinity(session: string): boolean {
    return this.affinity.has(session);
  }

  /**
   * Starts a session on a worker another node chose for it (from the session record), so its calls
   * keep going to that worker from here too; ignored when the node already routes the session.
   */
  seedAffinity(session: string, worker: string): void {
    if (!this.affinity.has(session)) this.bind(session, worker);
  }

  private bind(session: string, worker: string): void {
    if (this.affinity.get(session) === worker) return;
    this.affinity.delete(session);
    this.affinity.set(session, worker);
    if (this.affinity.size > AFFINITY_LIMIT) {
      const oldest = this.affinity.keys().next().value;
      if (oldest !== undefined) this.affinity.delete(oldest);
    }
  }

  private decide(
    pool: string,
    affinity: string | undefined,
    excluded: ReadonlySet<string>,
    ahead: number,
  ): RouteDecision {
    let cursor = this.cursors.get(pool);
    if (cursor === undefined) this.cursors.set(pool, (cursor = { value: 0 }));
    return route(this.table.members(pool), {
      strategy: this.o.limits(pool).strategy,
      affinity,
      excluded,
      ahead,
      cursor,
      now: Date.now(),
    });
  }

  /** A worker with room for the call, reserved (its in-flight count already raised). */
  private acquire(pool: string, options: CallOptions, excluded: ReadonlySet<string>): Promise<WorkerEntry> {
    if (this.closed) return Promise.reject(new DspexError(ErrorCode.Unavailable, 'node is shutting down'));
    const affinity = options.session === undefined ? undefined : this.affinity.get(options.session);
    // Calls already waiting go first: a newcomer does not overtake the queue. Round-robin gives
    // every call its turn's worker on arrival, whatever the queue.
    const queued = this.queueLength(pool);
    const rotation = this.o.limits(pool).strategy === RoutingStrategy.RoundRobin;
    const decision =
      queued > 0 && !rotation
        ? { kind: 'wait' as const, for: undefined }
        : this.decide(pool, affinity, excluded, 0);
    switch (decision.kind) {
      case 'worker':
        return Promise.resolve(this.table.reserve(decision.id));
      case 'none':
        return Promise.reject(noLiveWorker(pool));
      case 'wait':
        // A newcomer sent straight to the queue was not routed: check the pool can serve it at all
        // (a rotation call was routed, and routing it again would skip a turn).
        if (queued > 0 && !rotation && this.decide(pool, affinity, excluded, queued).kind === 'none') {
          return Promise.reject(noLiveWorker(pool));
        }
        return this.wait(pool, decision.for ?? affinity, excluded, options.deadline);
      default: {
        const never: never = decision;
        throw new Error(`unknown decision ${String(never)}`);
      }
    }
  }

  /** A worker with room right now, reserved, or undefined (hedges never wait). */
  private tryReserve(pool: string, excluded: ReadonlySet<string>): WorkerEntry | undefined {
    const decision = this.decide(pool, undefined, excluded, 0);
    return decision.kind === 'worker' ? this.table.reserve(decision.id) : undefined;
  }

  private wait(
    pool: string,
    affinity: string | undefined,
    excluded: ReadonlySet<string>,
    deadline: number,
  ): Promise<WorkerEntry> {
    // A full queue, or a call that cannot be answered before its deadline, hears so now.
    const verdict = admitToQueue(pool, this.load(pool, this.queueLength(pool)), deadline, Date.now());
    if (!verdict.admit) {
      return Promise.reject(
        new DspexError(ErrorCode.Overloaded, verdict.message, { details: verdict.details }),
      );
    }
    const waiting = this.queues.wait(pool, { deadline, affinity, excluded }, (id) => this.table.reserve(id));
    // Calls ahead may be waiting for one particular worker; this one may fit elsewhere now.
    this.pump(pool);
    return waiting;
  }

  /** Hands free workers to the pool's waiting calls (see {@link WaitQueues.pump}). */
  private pump(pool: string): void {
    const queued = this.queueLength(pool);
    if (queued === 0) return;
    this.queues.pump(pool, {
      freeSlots: this.freeSlots(pool),
      serviceMs: effectiveServiceMs(this.load(pool, queued)),
      hasCandidate: () => this.table.hasCandidate(pool),
      decide: (affinity, excluded, ahead) => this.decide(pool, affinity, excluded, ahead),
    });
  }

  /** Calls the pool's workers could take right now (live, breaker allowing, below their limit). */
  private freeSlots(pool: string): number {
    return this.table.freeSlots(pool, this.o.limits(pool).strategy === RoutingStrategy.RoundRobin);
  }

  /** What admission needs: queue ahead and its limit, live capacity, typical call time and rate. */
  private load(pool: string, queued: number): PoolLoad & { limit: number } {
    const capacity = this.table.capacity(pool);
    return {
      queued,
      capacity,
      serviceMs: this.poolStats.get(pool)?.ewmaMs,
      saturatedRate: this.poolRates.get(pool)?.rate(Date.now(), capacity),
      limit: this.o.limits(pool).queueLimit,
    };
  }

  /**
   * What a call to `pool` due at `deadline` would meet now: admitted when a worker has room and
   * nobody waits, else the queue's verdict (full, or expected past the deadline). Cheap and
   * synchronous, for admission before a request is validated.
   */
  admission(pool: string, deadline: number): QueueVerdict {
    const queued = this.queueLength(pool);
    if (this.closed || (queued === 0 && this.freeSlots(pool) > 0)) return { admit: true };
    return admitToQueue(pool, this.load(pool, queued), deadline, Date.now());
  }

  private finish(w: WorkerEntry): void {
    if (this.table.release(w, this.o.limits(w.pool).recycleAfterCalls)) this.o.onRecycle(w.pool, w.id);
    this.pump(w.pool);
  }
}
