/**
 * Admission control under overload, as pure decisions (no I/O; time is passed in). A node that
 * takes every call of a burst far above its capacity spends its CPU decoding calls it will refuse
 * and its workers' time on calls whose callers gave up: goodput falls to almost nothing. Three
 * rules keep it up:
 *
 * 1. `InflightGate` (src/nats/inflight-gate.ts, at the service edge): a cheap per-endpoint count of
 *    requests in progress, checked before the body is decoded; past the endpoint's limit the answer
 *    is 429 at once, at the cost of a counter.
 * 2. {@link admitByDeadline}: a call that would wait in a pool's queue longer than its remaining
 *    deadline allows gets its 429 when it arrives, not a 408 seconds later.
 * 3. {@link worthSending}: a queued call whose deadline is too close to be met is dropped (408)
 *    instead of taking a worker slot that a call with time left could use.
 */

/** What the deadline rules know about a pool when a call would join its queue. */
export interface PoolLoad {
  /** Calls already queued ahead. */
  queued: number;
  /** Calls the pool's live workers run at once (the sum of their concurrency). */
  capacity: number;
  /** Typical time of one call on the pool, ms (the node's EWMA); undefined before any call. */
  serviceMs: number | undefined;
  /** Completions per ms the pool delivered while saturated ({@link ThroughputMeter}), if known. */
  saturatedRate?: number | undefined;
}

/**
 * The pool's rate of completions when busy, calls per ms: the better of `capacity / serviceMs` and
 * what it was seen to deliver while calls were waiting. Erring towards admitting: an estimate too
 * low leaves workers idle while callers get 429s (goodput lost for good), one too high admits calls
 * that are dropped with 408 at the front of the queue before they take a worker slot. Undefined
 * when there is nothing to go by or no live worker.
 */
export function poolRate(load: PoolLoad): number | undefined {
  if (load.capacity <= 0) return undefined;
  const fromLatency =
    load.serviceMs !== undefined && load.serviceMs > 0 ? load.capacity / load.serviceMs : undefined;
  const saturated =
    load.saturatedRate !== undefined && load.saturatedRate > 0 ? load.saturatedRate : undefined;
  if (fromLatency === undefined || saturated === undefined) return fromLatency ?? saturated;
  return Math.max(fromLatency, saturated);
}

/** Time one call takes on a busy pool, ms (`capacity / rate`, Little's law); undefined if unknown. */
export function effectiveServiceMs(load: PoolLoad): number | undefined {
  const rate = poolRate(load);
  return rate === undefined ? undefined : load.capacity / rate;
}

/**
 * Expected time, ms, until a call that joins the queue now has its answer: the `queued` calls ahead
 * and itself start as slots free up (one per `1 / rate` ms), then it runs for `capacity / rate`.
 * Undefined while the pool has no measurement or no live worker (nothing to go by).
 */
export function expectedCompletionMs(load: PoolLoad): number | undefined {
  const rate = poolRate(load);
  if (rate === undefined) return undefined;
  return (load.queued + 1 + load.capacity) / rate;
}

/**
 * The rate at which a pool completes calls while saturated, per ms of the caller's clock (passed
 * in): the number of gaps between consecutive completions that both happened while calls were
 * waiting, over their total length, for the last `size` such gaps, scaled from the capacity the
 * pool had then to the capacity it has now. Idle periods between bursts do not count, so the rate
 * of the last burst is kept for the next. A latency measured by the node overstates the service
 * time while the node is busy reading a burst; the rate a busy pool delivers does not. Undefined
 * with fewer than 16 gaps, or when the last busy completion is older than `maxAgeMs`.
 */
export class ThroughputMeter {
  private readonly gaps: number[] = [];
  private readonly capacities: number[] = [];
  private next = 0;
  private last: number | undefined;
  private lastBusy: number | undefined;

  constructor(
    private readonly size = 64,
    private readonly maxAgeMs = 30_000,
  ) {}

  /** One completion at `now`; `busy` when calls were waiting for the pool's `capacity` slots. */
  record(now: number, capacity: number, busy: boolean): void {
    if (busy && this.last !== undefined && this.last === this.lastBusy) {
      const gap = Math.max(0, now - this.last);
      if (this.gaps.length < this.size) {
        this.gaps.push(gap);
        this.capacities.push(capacity);
      } else {
        this.gaps[this.next] = gap;
        this.capacities[this.next] = capacity;
      }
      this.next = (this.next + 1) % this.size;
    }
    this.last = now;
    if (busy) this.lastBusy = now;
  }

  /** Completions per ms for a pool of `capacity` slots now; undefined when unknown or stale. */
  rate(now: number, capacity: number): number | undefined {
    const n = this.gaps.length;
    if (n < 16 || capacity <= 0 || this.lastBusy === undefined || now - this.lastBusy > this.maxAgeMs) {
      return undefined;
    }
    const total = this.gaps.reduce((a, b) => a + b, 0);
    const then = this.capacities.reduce((a, b) => a + b, 0) / n;
    return total > 0 && then > 0 ? (n / total) * (capacity / then) : undefined;
  }
}

/** What a call meets when it would join a pool's queue: admitted, or refused with the reason. */
export type QueueVerdict =
  | { admit: true }
  | {
      admit: false;
      reason: 'queue_full' | 'deadline';
      /** For the error reply: no request content, and the same for every call refused alike. */
      message: string;
      details: Record<string, unknown>;
    };

/**
 * Whether a call due at `deadline` may join `pool`'s queue at time `now`: refused when `limit`
 * calls already wait, or when it is expected to finish after its deadline ({@link admitByDeadline}).
 * The dispatcher applies it when a call has to wait; the service applies it before validating a
 * predict, so a hopeless call costs a decode and a few comparisons.
 */
export function admitToQueue(
  pool: string,
  load: PoolLoad & { limit: number },
  deadline: number,
  now: number,
): QueueVerdict {
  if (load.queued >= load.limit) {
    return {
      admit: false,
      reason: 'queue_full',
      message: `pool ${pool} queue is full (${load.limit})`,
      details: { pool, limit: load.limit, reason: 'queue_full' },
    };
  }
  if (admitByDeadline(load, deadline, now).admit) return { admit: true };
  // The same words for every such call (no estimate in them), so the reply can be built once.
  return {
    admit: false,
    reason: 'deadline',
    message: `pool ${pool}: a call queued now would finish after its deadline; retry later or with a later deadline`,
    details: { pool, reason: 'deadline' },
  };
}

/** A decision of {@link admitByDeadline}. */
export type DeadlineAdmission =
  | { admit: true }
  /** Refuse now: the call is expected to finish `expectedMs` from now, past its `remainingMs`. */
  | { admit: false; expectedMs: number; remainingMs: number };

/**
 * Whether a call due at `deadline` (unix ms) may join the queue at time `now`. Admitted when its
 * expected completion fits, or when there is nothing to estimate from (a new pool is never refused
 * on a guess).
 */
export function admitByDeadline(load: PoolLoad, deadline: number, now: number): DeadlineAdmission {
  const remainingMs = deadline - now;
  const expectedMs = expectedCompletionMs(load);
  if (expectedMs === undefined || expectedMs <= remainingMs) return { admit: true };
  return {
    admit: false,
    expectedMs: Math.round(expectedMs),
    remainingMs: Math.max(0, Math.round(remainingMs)),
  };
}

/**
 * Whether a queued call due at `deadline` should still be sent to a worker at time `now`: it has at
 * least half a typical call's time left (a call with less would most likely come back after its
 * caller gave up, and the slot is worth more to the next call). Without a measurement only an
 * expired call is dropped.
 */
export function worthSending(deadline: number, now: number, serviceMs: number | undefined): boolean {
  const remainingMs = deadline - now;
  if (remainingMs <= 0) return false;
  return serviceMs === undefined || remainingMs >= serviceMs / 2;
}
