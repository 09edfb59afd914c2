import { headers as natsHeaders, RequestError, type NatsConnection } from '@nats-io/nats-core';
import type { Logger } from 'pino';
import type { WorkerUpdate } from '../actors/worker-machine.js';
import { DspexError, ErrorCode, isDspexError } from '../errors.js';
import { decode, encode, Encoding } from '../protocol/codec.js';
import { Header } from '../protocol/headers.js';
import {
  ErrorReplySchema,
  PredictReplySchema,
  type PredictReply,
  type WorkerHeartbeat,
  type WorkerPredictRequest,
} from '../protocol/schemas.js';
import type { Subjects } from '../protocol/subjects.js';
import type { RuntimeMetrics } from '../telemetry/metrics.js';
import { isLive, route, type RoutableWorker } from './routing.js';

/** Per-pool limits the dispatcher enforces. */
export interface PoolLimits {
  /** Calls allowed to wait for a worker; beyond it callers get 429. */
  queueLimit: number;
  /** Ask the pool to recycle a local worker after this many calls through this node. */
  recycleAfterCalls: number | undefined;
}

export interface DispatcherOptions {
  nc: NatsConnection;
  subjects: Subjects;
  logger: Logger;
  metrics: RuntimeMetrics;
  /** Attempts per call, on distinct workers, for retryable failures. @default 3 */
  maxAttempts: number;
  limits(pool: string): PoolLimits;
  /** Called once when a local worker reaches its call budget. */
  onRecycle(pool: string, worker: string): void;
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
  /** Attempts in flight on this worker, failed at once if it dies. */
  attempts: Set<(error: DspexError) => void>;
  recycleRequested: boolean;
}

interface Waiter {
  pool: string;
  affinity: string | undefined;
  excluded: ReadonlySet<string>;
  wake: (id: string) => void;
  fail: (error: DspexError) => void;
}

const AFFINITY_LIMIT = 10_000;

/**
 * Sends calls to workers: routing, bounded waiting, session affinity, retries on another worker
 * when one fails or dies mid-call, and deadlines. Worker states arrive from the worker actors.
 */
export class Dispatcher {
  private readonly workers = new Map<string, WorkerEntry>();
  private readonly queues = new Map<string, Waiter[]>();
  private readonly affinity = new Map<string, string>();
  private closed = false;

  constructor(private readonly o: DispatcherOptions) {}

  /** Applies a worker actor's state change. */
  update(u: WorkerUpdate): void {
    let entry = this.workers.get(u.id);
    if (u.state === 'stopped' || u.state === 'crashed') {
      if (entry === undefined) return;
      this.workers.delete(u.id);
      const reason =
        u.state === 'crashed' ? `worker ${u.id} crashed: ${u.reason ?? 'unknown'}` : `worker ${u.id} stopped`;
      for (const fail of entry.attempts)
        fail(new DspexError(ErrorCode.Unavailable, reason, { details: { worker: u.id } }));
      entry.attempts.clear();
      this.pump(u.pool);
      return;
    }
    if (entry === undefined) {
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
        attempts: new Set(),
        recycleRequested: false,
      };
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

  /** Runs one predict on the pool, retrying retryable failures on other workers. */
  async call(pool: string, request: WorkerPredictRequest, options: CallOptions): Promise<PredictReply> {
    const started = performance.now();
    const excluded = new Set<string>();
    let lastError: DspexError | undefined;
    try {
      for (let attempt = 1; attempt <= this.o.maxAttempts; attempt++) {
        const worker = await this.acquire(pool, options, excluded);
        try {
          const reply = await this.send(worker, request, options);
          this.finish(worker);
          if (options.session !== undefined) this.bind(options.session, worker.id);
          this.o.metrics.calls.inc({ pool, outcome: 'ok' });
          return reply;
        } catch (error) {
          this.finish(worker);
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
      this.o.metrics.calls.inc({ pool, outcome: e.code });
      throw e;
    } finally {
      this.o.metrics.callDuration.observe({ pool }, (performance.now() - started) / 1000);
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

  /** A worker with room for the call, reserved (its in-flight count already raised). */
  private acquire(pool: string, options: CallOptions, excluded: ReadonlySet<string>): Promise<WorkerEntry> {
    if (this.closed) return Promise.reject(new DspexError(ErrorCode.Unavailable, 'node is shutting down'));
    const affinity = options.session === undefined ? undefined : this.affinity.get(options.session);
    const decision = route(this.members(pool), affinity, excluded);
    switch (decision.kind) {
      case 'worker':
        return Promise.resolve(this.reserve(decision.id));
      case 'none':
        return Promise.reject(
          new DspexError(ErrorCode.Unavailable, `pool ${pool} has no live worker`, { details: { pool } }),
        );
      case 'wait':
        return this.wait(pool, affinity, excluded, options.deadline);
      default: {
        const never: never = decision;
        throw new Error(`unknown decision ${String(never)}`);
      }
    }
  }

  private wait(
    pool: string,
    affinity: string | undefined,
    excluded: ReadonlySet<string>,
    deadline: number,
  ): Promise<WorkerEntry> {
    const queue = this.queues.get(pool) ?? [];
    this.queues.set(pool, queue);
    const limit = this.o.limits(pool).queueLimit;
    if (queue.length >= limit) {
      return Promise.reject(
        new DspexError(ErrorCode.Overloaded, `pool ${pool} queue is full (${limit})`, {
          details: { pool, limit },
        }),
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
    });
  }

  /** Hands free workers to waiting calls, first come first served. */
  private pump(pool: string): void {
    const queue = this.queues.get(pool);
    if (queue === undefined || queue.length === 0) return;
    for (const waiter of [...queue]) {
      const decision = route(this.members(pool), waiter.affinity, waiter.excluded);
      if (decision.kind === 'worker') waiter.wake(decision.id);
      else if (decision.kind === 'none') {
        waiter.fail(
          new DspexError(ErrorCode.Unavailable, `pool ${pool} has no live worker`, { details: { pool } }),
        );
      }
    }
  }

  private *members(pool: string): Iterable<WorkerEntry> {
    for (const w of this.workers.values()) if (w.pool === pool) yield w;
  }

  private reserve(id: string): WorkerEntry {
    const w = this.workers.get(id);
    if (w === undefined) throw new DspexError(ErrorCode.Internal, `routed to unknown worker ${id}`);
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

  /** One attempt on one worker; rejects at once if the worker dies meanwhile. */
  private send(w: WorkerEntry, request: WorkerPredictRequest, options: CallOptions): Promise<PredictReply> {
    const timeout = options.deadline - Date.now();
    if (timeout <= 0) return Promise.reject(new DspexError(ErrorCode.DeadlineExceeded, 'deadline passed'));
    const h = natsHeaders();
    h.set(Header.Deadline, String(options.deadline));
    if (options.trace !== undefined) h.set(Header.Trace, options.trace);
    return new Promise<PredictReply>((resolve, reject) => {
      const abort = (error: DspexError): void => {
        w.attempts.delete(abort);
        reject(error);
      };
      w.attempts.add(abort);
      this.o.nc
        .request(this.o.subjects.worker(w.pool, w.id), encode(request, Encoding.Msgpack), {
          timeout,
          headers: h,
        })
        .then(
          (msg) => {
            w.attempts.delete(abort);
            const status = msg.headers?.get(Header.ErrorCode);
            const body = decode(msg.data, Encoding.Msgpack);
            if (status !== undefined && status !== '') {
              const parsed = ErrorReplySchema.safeParse(body);
              const message = msg.headers?.get(Header.Error) ?? 'worker error';
              reject(
                parsed.success
                  ? DspexError.fromWire(parsed.data.error, Number(status))
                  : new DspexError(ErrorCode.Internal, `worker ${w.id}: ${message}`),
              );
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
