import { createActor } from 'xstate';
import {
  breakerAllows,
  breakerMachine,
  type BreakerActorRef,
  type BreakerInput,
} from '../actors/breaker-machine.js';
import type { WorkerUpdate } from '../actors/worker-machine.js';
import { DspexError, ErrorCode } from '../errors.js';
import type { WorkerHeartbeat } from '../protocol/schemas.js';
import { LatencyStats } from './latency-stats.js';
import { isLive, type RoutableWorker } from './routing.js';

/** One worker as the dispatcher sees it: its state, load, statistics and circuit breaker. */
export interface WorkerEntry extends RoutableWorker {
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

export interface WorkerTableOptions {
  /** Circuit breaker settings for a pool's workers, read when a worker is first seen. */
  breaker(pool: string): BreakerInput;
  /** A worker's breaker went half-open: it may take a probe call, so waiting calls may move. */
  onHalfOpen(pool: string): void;
}

/** What applying a worker update changed, so the dispatcher knows whether to hand out slots. */
export type TableChange = 'removed' | 'live' | 'unchanged';

/**
 * The workers of every pool as this node sees them: kept from the worker actors' updates, with
 * per-worker latency statistics, a circuit breaker and the count of calls in flight. Also answers
 * the capacity questions the wait queue and admission ask (free slots, live capacity).
 */
export class WorkerTable {
  private readonly byId = new Map<string, WorkerEntry>();
  /** The same entries by pool, in the order they were first seen (routing iterates in it). */
  private readonly byPool = new Map<string, Map<string, WorkerEntry>>();

  constructor(private readonly o: WorkerTableOptions) {}

  /**
   * Applies a worker actor's state change. A worker that stopped or crashed is removed and every
   * attempt in flight on it fails at once with 503 (retryable: the call moves to another worker).
   */
  update(u: WorkerUpdate): TableChange {
    let entry = this.byId.get(u.id);
    if (u.state === 'stopped' || u.state === 'crashed') {
      if (entry === undefined) return 'unchanged';
      this.remove(entry);
      const reason =
        u.state === 'crashed' ? `worker ${u.id} crashed: ${u.reason ?? 'unknown'}` : `worker ${u.id} stopped`;
      for (const fail of entry.attempts)
        fail(new DspexError(ErrorCode.Unavailable, reason, { details: { worker: u.id } }));
      entry.attempts.clear();
      return 'removed';
    }
    if (entry === undefined) {
      entry = this.add(u);
    }
    entry.state = u.state;
    entry.heartbeat = u.heartbeat ?? entry.heartbeat;
    entry.concurrency = entry.heartbeat?.concurrency ?? entry.concurrency;
    entry.lastSeen = Date.now();
    return isLive(entry) ? 'live' : 'unchanged';
  }

  private add(u: WorkerUpdate): WorkerEntry {
    const breaker = createActor(breakerMachine, { input: this.o.breaker(u.pool) }).start();
    const entry: WorkerEntry = {
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
      if (s.value === 'halfOpen') this.o.onHalfOpen(pool);
    });
    this.byId.set(u.id, entry);
    let members = this.byPool.get(pool);
    if (members === undefined) this.byPool.set(pool, (members = new Map<string, WorkerEntry>()));
    members.set(u.id, entry);
    return entry;
  }

  private remove(entry: WorkerEntry): void {
    this.byId.delete(entry.id);
    this.byPool.get(entry.pool)?.delete(entry.id);
    entry.breaker.stop();
  }

  /** Workers of a pool as this node sees them (status). */
  poolWorkers(pool: string): Array<Readonly<WorkerEntry>> {
    return [...(this.byPool.get(pool)?.values() ?? [])];
  }

  /** A pool's workers with their routing fields (latency, error rate, breaker) brought up to date. */
  *members(pool: string): Iterable<RoutableWorker> {
    const members = this.byPool.get(pool);
    if (members === undefined) return;
    for (const w of members.values()) {
      const breaker = w.breaker.getSnapshot();
      w.latencyMs = w.stats.ewmaMs;
      w.errorRate = w.stats.errorEwma;
      w.lastAt = w.stats.lastAt;
      w.allowed = breakerAllows(breaker.value, breaker.context.probing);
      yield w;
    }
  }

  /** Takes a slot of the worker routing chose (its in-flight count raised; a half-open breaker probes). */
  reserve(id: string): WorkerEntry {
    const w = this.byId.get(id);
    if (w === undefined) throw new DspexError(ErrorCode.Internal, `routed to unknown worker ${id}`);
    if (w.breaker.getSnapshot().value === 'halfOpen') w.breaker.send({ type: 'probe' });
    w.inflight++;
    return w;
  }

  /**
   * Gives a slot back after an attempt and counts the call. Returns true once, when a managed
   * worker reaches `recycleAfterCalls` calls (the caller asks its pool to recycle it).
   */
  release(w: WorkerEntry, recycleAfterCalls: number | undefined): boolean {
    w.inflight = Math.max(0, w.inflight - 1);
    w.calls++;
    if (w.managed && recycleAfterCalls !== undefined && w.calls >= recycleAfterCalls && !w.recycleRequested) {
      w.recycleRequested = true;
      return true;
    }
    return false;
  }

  /**
   * Calls the pool's workers could take right now: live, below their limit, and (unless `blind`,
   * for plain rotation) with a breaker that lets calls through.
   */
  freeSlots(pool: string, blind: boolean): number {
    let free = 0;
    for (const w of this.members(pool)) {
      if (isLive(w) && (blind || w.allowed !== false)) free += Math.max(0, w.concurrency - w.inflight);
    }
    return free;
  }

  /** Whether the pool has a worker that is or will be able to take calls. */
  hasCandidate(pool: string): boolean {
    for (const w of this.byPool.get(pool)?.values() ?? [])
      if (isLive(w) || w.state === 'starting') return true;
    return false;
  }

  /** Calls the pool's live workers run at once. */
  capacity(pool: string): number {
    let capacity = 0;
    for (const w of this.byPool.get(pool)?.values() ?? []) if (isLive(w)) capacity += w.concurrency;
    return capacity;
  }

  /** Stops every breaker (node shutdown). */
  close(): void {
    for (const w of this.byId.values()) w.breaker.stop();
  }
}
