/**
 * Admission control under overload, as pure decisions (no I/O; time is passed in). A node that
 * takes every call of a burst far above its capacity spends its CPU decoding calls it will refuse
 * and its workers' time on calls whose callers gave up: goodput falls to almost nothing. Three
 * rules keep it up:
 *
 * 1. {@link InflightGate}: a cheap per-endpoint count of requests in progress, checked before the
 *    body is decoded; past the endpoint's limit the answer is 429 at once, at the cost of a counter.
 * 2. {@link admitByDeadline}: a call that would wait in a pool's queue longer than its remaining
 *    deadline allows gets its 429 when it arrives, not a 408 seconds later.
 * 3. {@link worthSending}: a queued call whose deadline is too close to be met is dropped (408)
 *    instead of taking a worker slot that a call with time left could use.
 */

/**
 * Counts requests in progress per endpoint against a limit read on every check (the limit of
 * `predict` follows the pools' live capacity). `enter` and `leave` are O(1).
 */
export class InflightGate {
  private readonly counts = new Map<string, number>();

  /** @param limit most requests of an endpoint in progress at once */
  constructor(private readonly limit: (endpoint: string) => number) {}

  /** Admits one request of `endpoint` (the caller must `leave` once it answered), or returns false. */
  enter(endpoint: string): boolean {
    const n = this.counts.get(endpoint) ?? 0;
    if (n >= this.limit(endpoint)) return false;
    this.counts.set(endpoint, n + 1);
    return true;
  }

  leave(endpoint: string): void {
    const n = this.counts.get(endpoint) ?? 0;
    if (n <= 1) this.counts.delete(endpoint);
    else this.counts.set(endpoint, n - 1);
  }

  /** Requests of `endpoint` admitted and not yet answered. */
  inflight(endpoint: string): number {
    return this.counts.get(endpoint) ?? 0;
  }
}

/** What the deadline rules know about a pool when a call would join its queue. */
export interface PoolLoad {
  /** Calls already queued ahead. */
  queued: number;
  /** Calls the pool's live workers run at once (the sum of their concurrency). */
  capacity: number;
  /** Typical time of one call on the pool under its current load, ms; undefined before any call. */
  serviceMs: number | undefined;
  /** Completions per ms the pool was seen to deliver recently ({@link ThroughputMeter}), if known. */
  observedRate?: number | undefined;
}

/**
 * The pool's rate of completions, calls per ms: the better of `capacity / serviceMs` and the rate it
 * was seen to deliver. Taking the better one errs towards admitting: a latency inflated by the
 * node's own busy event loop (it reads replies late during a burst) must not refuse calls the pool
 * could serve. Undefined when there is nothing to go by.
 */
export function poolRate(load: PoolLoad): number | undefined {
  const fromLatency =
    load.serviceMs !== undefined && load.serviceMs > 0 && load.capacity > 0
      ? load.capacity / load.serviceMs
      : undefined;
  const observed = load.observedRate !== undefined && load.observedRate > 0 ? load.observedRate : undefined;
  if (fromLatency === undefined) return load.capacity > 0 ? observed : undefined;
  return observed === undefined ? fromLatency : Math.max(fromLatency, observed);
}

/** Time one call takes on a saturated pool, ms (`capacity / rate`, Little's law); undefined if unknown. */
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
 * Completions per ms over the last `size` completions of a pool, from their times (the caller's
 * clock, passed in). Undefined with fewer than 8 samples, or when the newest is older than
 * `maxAgeMs` (an idle pool's old rate says nothing about now).
 */
export class ThroughputMeter {
  private readonly times: number[] = [];
  private next = 0;

  constructor(
    private readonly size = 64,
    private readonly maxAgeMs = 2000,
  ) {}

  record(now: number): void {
    if (this.times.length < this.size) this.times.push(now);
    else this.times[this.next] = now;
    this.next = (this.next + 1) % this.size;
  }

  rate(now: number): number | undefined {
    const n = this.times.length;
    if (n < 8) return undefined;
    const newest = this.times[(this.next - 1 + n) % n]!;
    const oldest = n < this.size ? this.times[0]! : this.times[this.next]!;
    if (now - newest > this.maxAgeMs || newest <= oldest) return undefined;
    return (n - 1) / (newest - oldest);
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
