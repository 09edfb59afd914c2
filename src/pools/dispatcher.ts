import { RequestError } from '@nats-io/nats-core';
import type { Logger } from 'pino';
import { createActor } from 'xstate';
import {
  breakerAllows,
  breakerMachine,
  type BreakerActorRef,
  type BreakerInput,
} from '../actors/breaker-machine.js';
import type { WorkerUpdate } from '../actors/worker-machine.js';
import { DspexError, ErrorCode, isDspexError } from '../errors.js';
import { LatencyStats } from './latency-stats.js';
import { encode, Encoding } from '../protocol/codec.js';
import { Header, wireHeaders } from '../protocol/headers.js';
import { replyBody } from '../protocol/reply.js';
import {
  PredictReplySchema,
  type PredictReply,
  type WorkerHeartbeat,
  type WorkerPredictRequest,
} from '../protocol/schemas.js';
import type { Subjects } from '../protocol/subjects.js';
import type { RuntimeMetrics } from '../telemetry/metrics.js';
import {
  admitToQueue,
  effectiveServiceMs,
  ThroughputMeter,
  worthSending,
  type PoolLoad,
  type QueueVerdict,
} from './admission.js';
import { startAttemptSpan } from '../telemetry/call-trace.js';
import { isLive, route, RoutingStrategy, type RoutableWorker } from './routing.js';
import type { WorkerRequester } from '../workers/requests.js';

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

/** What the dispatcher reports after every attempt (pattern store, telemetry). */
export interface AttemptResult {
  pool: string;
  worker: string;
  module: string;
  signature: string;
  latencyMs: number;
  ok: boolean;
  hedge: boolean;
}

export interface DispatcherOptions {
  /** Sends to workers and waits for a reply that verifies (worker-requests.ts). */
  requests: WorkerRequester;
  subjects: Subjects;
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

interface WorkerEntry extends RoutableWorker {
  pool: string;
  managed: boolean;
  heartbeat: WorkerHeartbeat | undefined;
  lastSeen: number;
  stats: LatencyStats;
  breaker: BreakerActorRef;
  /** Attempts in flight on this worker, failed at once if it dies. */
  attempts: Set<(error: DspexError) => void>;
  recycleRequested: boolean;
}

interface Waiter {
  pool: string;
  deadline: number;
  affinity: string | undefined;
  excluded: ReadonlySet<string>;
  wake: (id: string) => void;
  fail: (error: DspexError) => void;
}

const AFFINITY_LIMIT = 10_000;
/** A hedge goes out once a call has run this many times the pool's median latency. */
const HEDGE_FACTOR = 3;
const HEDGE_MIN_MS = 20;

/**
 * Errors that say something about the worker's health: not the caller's request (4xx), not load
 * (429), not the caller's own deadline (a hung worker is caught by its missed heartbeats).
 */
const healthError = (e: DspexError): boolean =>
  e.code === ErrorCode.Unavailable || e.code === ErrorCode.LmError || e.code === ErrorCode.Internal;

/**
 * Sends calls to workers: routing (least loaded, round robin, or adaptive from observed latency,
 * errors and circuit breakers), bounded waiting, session affinity, hedging of stragglers, retries on
 * another worker when one fails or dies mid-call, and deadlines. Worker states come from the worker
 * actors; latency and error statistics from the calls themselves.
 */
export class Dispatcher {
  private readonly workers = new Map<string, WorkerEntry>();
  private readonly queues = new Map<string, Waiter[]>();
  private readonly affinity = new Map<string, string>();
  private readonly cursors = new Map<string, { value: number }>();
  private readonly poolStats = new Map<string, LatencyStats>();
  private readonly poolRates = new Map<string, ThroughputMeter>();
  private closed = false;

  constructor(private readonly o: DispatcherOptions) {}

  /** Applies a worker actor's state change. */
  update(u: WorkerUpdate): void {
    let entry = this.workers.get(u.id);
    if (u.state === 'stopped' || u.state === 'crashed') {
      if (entry === undefined) return;
      this.workers.delete(u.id);
      entry.breaker.stop();
      const reason =
        u.state === 'crashed' ? `worker ${u.id} crashed: ${u.reason ?? 'unknown'}` : `worker ${u.id} stopped`;
      for (const fail of entry.attempts)
        fail(new DspexError(ErrorCode.Unavailable, reason, { details: { worker: u.id } }));
      entry.attempts.clear();
      this.pump(u.pool);
      return;
    }
    if (entry === undefined) {
      const breaker = createActor(breakerMachine, { input: this.o.limits(u.pool).breaker }).start();
      entry = {
        id: u.id,
        pool: u.pool,
        managed: u.managed,
        state: u.state,
        inflight: 0,
        calls: 0,
        concurrency: u.heartbeat?.concurrency ?? 1,
        heartbeat: u.heartbeat,
        lastSeen: Date.now(),
        stats: new LatencyStats(),
        breaker,
        attempts: new Set(),
        recycleRequested: false,
      };
      const pool = u.pool;
      // A breaker that re-opens for probing lets queued calls through.
      breaker.subscribe((s) => {
        if (s.value === 'halfOpen') this.pump(pool);
      });
      this.workers.set(u.id, entry);
    }
    entry.state = u.state;
    entry.heartbeat = u.heartbeat ?? entry.heartbeat;
    entry.concurrency = entry.heartbeat?.concurrency ?? entry.concurrency;
    entry.lastSeen = Date.now();
    if (isLive(entry)) this.pump(u.pool);
  }

  /** Workers of a pool as this node sees them (status). */
  poolWorkers(pool: string): Array<Readonly<WorkerEntry>> {
    return [...this.workers.values()].filter((w) => w.pool === pool);
  }

  queueLength(pool: string): number {
    return this.queues.get(pool)?.length ?? 0;
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
          this.o.metrics.calls.inc({ pool, outcome: 'ok' });
          return reply;
        } catch (error) {
          const e = toDspexError(error);
          if (!e.retryable || Date.now() >= options.deadline) throw e;
          lastError = e;
          excluded.add(worker.id);
          this.o.metrics.retries.inc({ pool, code: e.code });
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
      this.o.metrics.calls.inc({ pool, outcome: e.code });
      throw e;
    } finally {
      const seconds = (performance.now() - started) / 1000;
      this.o.metrics.callDuration.observe({ pool }, seconds);
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
    for (const [pool, queue] of this.queues) {
      for (const w of queue)
        w.fail(new DspexError(ErrorCode.Unavailable, `pool ${pool}: node is shutting down`));
      queue.length = 0;
    }
    for (const w of this.workers.values()) w.breaker.stop();
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
    const median = this.poolStats.get(primary.pool)?.quantile(0.5);
    const hedgeAfter = median === undefined ? undefined : Math.max(HEDGE_MIN_MS, HEDGE_FACTOR * median);
    const first = this.runAttempt(primary, request, options, false);
    if (!limits.hedging || limits.strategy !== RoutingStrategy.Adaptive || hedgeAfter === undefined)
      return first;
    if (options.deadline - Date.now() < 2 * hedgeAfter) return first;
    return new Promise<PredictReply>((resolve, reject) => {
      let settled = false;
      let pending = 1;
      let lastError: DspexError | undefined;
      const onResult = (p: Promise<PredictReply>): void => {
        p.then(
          (reply) => {
            if (!settled) {
              settled = true;
              clearTimeout(timer);
              resolve(reply);
            }
          },
          (error: unknown) => {
            lastError = toDspexError(error);
            if (--pending === 0 && !settled) {
              settled = true;
              clearTimeout(timer);
              reject(lastError);
            }
          },
        );
      };
      const timer = setTimeout(() => {
        // Hedges use spare capacity only: never a slot a queued call is waiting for.
        if (settled || this.queueLength(primary.pool) > 0) return;
        const second = this.tryReserve(primary.pool, new Set([...excluded, primary.id]));
        if (second === undefined) return;
        pending++;
        this.o.metrics.hedges.inc({ pool: primary.pool });
        onResult(this.runAttempt(second, request, options, true));
      }, hedgeAfter);
      onResult(first);
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
      const reply = await this.send(w, request, options);
      const latencyMs = performance.now() - started;
      w.stats.recordSuccess(latencyMs, Date.now());
      this.poolStatsOf(w.pool).recordSuccess(latencyMs, Date.now());
      // Completions while calls wait measure what the pool delivers when busy (admission).
      this.poolRateOf(w.pool).record(Date.now(), this.capacity(w.pool), this.queueLength(w.pool) > 0);
      w.breaker.send({ type: 'success' });
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

  private decide(pool: string, affinity: string | undefined, excluded: ReadonlySet<string>, ahead: number) {
    let cursor = this.cursors.get(pool);
    if (cursor === undefined) this.cursors.set(pool, (cursor = { value: 0 }));
    return route(this.members(pool), {
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
        return Promise.resolve(this.reserve(decision.id));
      case 'none':
        return Promise.reject(
          new DspexError(ErrorCode.Unavailable, `pool ${pool} has no live worker`, { details: { pool } }),
        );
      case 'wait':
        // A newcomer sent straight to the queue was not routed: check the pool can serve it at all
        // (a rotation call was routed, and routing it again would skip a turn).
        if (queued > 0 && !rotation && this.decide(pool, affinity, excluded, queued).kind === 'none') {
          return Promise.reject(
            new DspexError(ErrorCode.Unavailable, `pool ${pool} has no live worker`, { details: { pool } }),
          );
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
    return decision.kind === 'worker' ? this.reserve(decision.id) : undefined;
  }

  private wait(
    pool: string,
    affinity: string | undefined,
    excluded: ReadonlySet<string>,
    deadline: number,
  ): Promise<WorkerEntry> {
    const queue = this.queues.get(pool) ?? [];
    this.queues.set(pool, queue);
    // A full queue, or a call that cannot be answered before its deadline, hears so now.
    const verdict = admitToQueue(pool, this.load(pool, queue.length), deadline, Date.now());
    if (!verdict.admit) {
      return Promise.reject(
        new DspexError(ErrorCode.Overloaded, verdict.message, { details: verdict.details }),
      );
    }
    return new Promise<WorkerEntry>((resolve, reject) => {
      const remove = (): void => {
        const i = queue.indexOf(waiter);
        if (i >= 0) queue.splice(i, 1);
        this.o.metrics.queued.set({ pool }, queue.length);
      };
      const timer = setTimeout(
        () => {
          remove();
          reject(
            new DspexError(
              ErrorCode.DeadlineExceeded,
              `deadline passed waiting for a worker of pool ${pool}`,
            ),
          );
        },
        Math.max(0, deadline - Date.now()),
      );
      const waiter: Waiter = {
        pool,
        deadline,
        affinity,
        excluded,
        wake: (id) => {
          clearTimeout(timer);
          remove();
          resolve(this.reserve(id));
        },
        fail: (error) => {
          clearTimeout(timer);
          remove();
          reject(error);
        },
      };
      queue.push(waiter);
      this.o.metrics.queued.set({ pool }, queue.length);
      // Calls ahead may be waiting for one particular worker; this one may fit elsewhere now.
      this.pump(pool);
    });
  }

  /**
   * Hands free workers to waiting calls, first come first served. Stops as soon as no worker has
   * room (O(1) per finished call, not O(queue)); a call at the front whose deadline is too close
   * to be met is dropped with 408 instead of taking the slot.
   */
  private pump(pool: string): void {
    const queue = this.queues.get(pool);
    if (queue === undefined || queue.length === 0) return;
    let free = this.freeSlots(pool);
    const serviceMs = effectiveServiceMs(this.load(pool, queue.length));
    let ahead = 0;
    let i = 0;
    while (i < queue.length) {
      const waiter = queue[i]!;
      if (!worthSending(waiter.deadline, Date.now(), serviceMs)) {
        waiter.fail(
          new DspexError(ErrorCode.DeadlineExceeded, `deadline too close to start the call on pool ${pool}`),
        );
        continue;
      }
      if (free <= 0 && this.hasCandidate(pool)) return;
      const decision = this.decide(pool, waiter.affinity, waiter.excluded, ahead);
      if (decision.kind === 'worker') {
        waiter.wake(decision.id);
        free--;
      } else if (decision.kind === 'none') {
        waiter.fail(
          new DspexError(ErrorCode.Unavailable, `pool ${pool} has no live worker`, { details: { pool } }),
        );
      } else {
        ahead++;
        i++;
      }
    }
  }

  /** Calls the pool's workers could take right now (live, breaker allowing, below their limit). */
  private freeSlots(pool: string): number {
    const blind = this.o.limits(pool).strategy === RoutingStrategy.RoundRobin;
    let free = 0;
    for (const w of this.members(pool)) {
      if (isLive(w) && (blind || w.allowed !== false)) free += Math.max(0, w.concurrency - w.inflight);
    }
    return free;
  }

  /** Whether the pool has a worker that is or will be able to take calls. */
  private hasCandidate(pool: string): boolean {
    for (const w of this.workers.values())
      if (w.pool === pool && (isLive(w) || w.state === 'starting')) return true;
    return false;
  }

  /** Calls the pool's live workers run at once. */
  private capacity(pool: string): number {
    let capacity = 0;
    for (const w of this.workers.values()) if (w.pool === pool && isLive(w)) capacity += w.concurrency;
    return capacity;
  }

  /** What admission needs: queue ahead and its limit, live capacity, typical call time and rate. */
  private load(pool: string, queued: number): PoolLoad & { limit: number } {
    const capacity = this.capacity(pool);
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

  private *members(pool: string): Iterable<RoutableWorker> {
    for (const w of this.workers.values()) {
      if (w.pool !== pool) continue;
      const breaker = w.breaker.getSnapshot();
      w.latencyMs = w.stats.ewmaMs;
      w.errorRate = w.stats.errorEwma;
      w.lastAt = w.stats.lastAt;
      w.allowed = breakerAllows(breaker.value, breaker.context.probing);
      yield w;
    }
  }

  private reserve(id: string): WorkerEntry {
    const w = this.workers.get(id);
    if (w === undefined) throw new DspexError(ErrorCode.Internal, `routed to unknown worker ${id}`);
    if (w.breaker.getSnapshot().value === 'halfOpen') w.breaker.send({ type: 'probe' });
    w.inflight++;
    return w;
  }

  private finish(w: WorkerEntry): void {
    w.inflight = Math.max(0, w.inflight - 1);
    w.calls++;
    const budget = this.o.limits(w.pool).recycleAfterCalls;
    if (w.managed && budget !== undefined && w.calls >= budget && !w.recycleRequested) {
      w.recycleRequested = true;
      this.o.onRecycle(w.pool, w.id);
    }
    this.pump(w.pool);
  }

  /** One request to one worker; rejects at once if the worker dies meanwhile. */
  private send(w: WorkerEntry, request: WorkerPredictRequest, options: CallOptions): Promise<PredictReply> {
    const timeout = options.deadline - Date.now();
    if (timeout <= 0) return Promise.reject(new DspexError(ErrorCode.DeadlineExceeded, 'deadline passed'));
    const span = startAttemptSpan({
      'dspex.pool': w.pool,
      'dspex.worker': w.id,
      'dspex.module': request.module,
    });
    const h = wireHeaders({
      [Header.Deadline]: options.deadline,
      [Header.Trace]: options.trace,
      [Header.Traceparent]: span.traceparent,
    });
    const attempt = new Promise<PredictReply>((resolve, reject) => {
      const abort = (error: DspexError): void => {
        w.attempts.delete(abort);
        reject(error);
      };
      w.attempts.add(abort);
      this.o.requests
        .request(this.o.subjects.worker(w.pool, w.id), encode(request, Encoding.Msgpack), {
          timeout,
          headers: h,
          worker: w.id,
        })
        .then(
          (msg) => {
            w.attempts.delete(abort);
            let body: unknown;
            try {
              body = replyBody(msg, Encoding.Msgpack, `worker ${w.id}`);
            } catch (error) {
              reject(toDspexError(error));
              return;
            }
            const reply = PredictReplySchema.safeParse(body);
            if (!reply.success) {
              reject(new DspexError(ErrorCode.Internal, `worker ${w.id} sent a malformed reply`));
              return;
            }
            resolve(reply.data);
          },
          (error: unknown) => {
            w.attempts.delete(abort);
            reject(transportError(error, w.id, options.deadline));
          },
        );
    });
    attempt.then(
      () => span.end(),
      (error: unknown) => span.end(toDspexError(error).message),
    );
    return attempt;
  }
}

function transportError(error: unknown, worker: string, deadline: number): DspexError {
  if (error instanceof RequestError && error.isNoResponders()) {
    return new DspexError(ErrorCode.Unavailable, `worker ${worker} is not listening`, { cause: error });
  }
  if (Date.now() >= deadline) {
    return new DspexError(ErrorCode.DeadlineExceeded, `deadline passed waiting for worker ${worker}`, {
      cause: error,
    });
  }
  return new DspexError(ErrorCode.Unavailable, `request to worker ${worker} failed: ${String(error)}`, {
    cause: error,
  });
}

function toDspexError(error: unknown): DspexError {
  if (isDspexError(error)) return error;
  return new DspexError(ErrorCode.Internal, error instanceof Error ? error.message : String(error), {
    cause: error,
  });
}
