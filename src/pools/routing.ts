/**
 * Pure routing decisions for a pool: which worker takes a call. Three strategies:
 * - `least_loaded`: the live worker with the lowest in-flight / concurrency;
 * - `round_robin`: plain rotation over the live workers, blind to load and latency: the call waits
 *   for its turn's worker when that one is full (the baseline the adaptive strategy is measured by);
 * - `adaptive`: the worker with the lowest expected completion time from its observed latency,
 *   load and error rate, skipping workers whose circuit breaker is open; when only slow workers
 *   have room, waiting for a fast one is chosen if it is expected to finish sooner.
 * Session affinity and per-call exclusions apply to all three.
 */

export const RoutingStrategy = {
  LeastLoaded: 'least_loaded',
  RoundRobin: 'round_robin',
  Adaptive: 'adaptive',
} as const;
export type RoutingStrategy = (typeof RoutingStrategy)[keyof typeof RoutingStrategy];

/** What routing needs to know about one worker. */
export interface RoutableWorker {
  id: string;
  /** Only `ready` and `busy` workers take calls. */
  state: 'starting' | 'ready' | 'busy' | 'draining' | 'stopped' | 'crashed';
  /** Calls this node has in flight on the worker. */
  inflight: number;
  /** The worker's own limit of concurrent calls. */
  concurrency: number;
  /** Calls this node has sent it, for tie-breaking towards the less used. */
  calls: number;
  /** Observed latency (EWMA, ms); undefined before the first call. */
  latencyMs?: number | undefined;
  /** Observed failure rate (EWMA, 0..1). */
  errorRate?: number;
  /** False while the worker's circuit breaker keeps calls away. */
  allowed?: boolean;
  /** Time of the last finished call, ms. */
  lastAt?: number;
}

export type RouteDecision =
  /** Send the call to this worker now. */
  | { kind: 'worker'; id: string }
  /** Every suitable worker is at its limit (or still starting): wait for one. */
  | { kind: 'wait'; for: string | undefined }
  /** No worker could ever take it: the pool has none alive or starting. */
  | { kind: 'none' };

export interface RouteOptions {
  strategy: RoutingStrategy;
  /** The worker the call's session is bound to, if any. */
  affinity: string | undefined;
  /** Workers that already failed this call. */
  excluded: ReadonlySet<string>;
  /** Calls queued ahead of this one (adaptive: the cost of waiting). */
  ahead: number;
  /** Round-robin position, advanced on every pick. */
  cursor: { value: number };
  now: number;
}

/** A worker slower than this many times the fastest is avoided when waiting is cheaper. */
const SLOW_FACTOR = 3;
/** A worker left alone this long is given one call to re-measure it. */
const EXPLORE_AFTER_MS = 3000;

export const isLive = (w: RoutableWorker): boolean => w.state === 'ready' || w.state === 'busy';
const isAllowed = (w: RoutableWorker): boolean => isLive(w) && w.allowed !== false;
const hasRoom = (w: RoutableWorker): boolean => isAllowed(w) && w.inflight < w.concurrency;
const load = (w: RoutableWorker): number => w.inflight / w.concurrency;

/** Chooses a worker for a call. */
export function route(workers: Iterable<RoutableWorker>, o: RouteOptions): RouteDecision {
  const all: RoutableWorker[] = [];
  let anyCandidate = false;
  for (const w of workers) {
    if (o.excluded.has(w.id)) continue;
    // Plain rotation is blind to breakers too: it keeps its turn's worker while that one lives.
    const blind = o.strategy === RoutingStrategy.RoundRobin;
    if (w.id === o.affinity && (blind ? isLive(w) : isAllowed(w))) {
      const room = blind ? w.inflight < w.concurrency : hasRoom(w);
      return room ? { kind: 'worker', id: w.id } : { kind: 'wait', for: w.id };
    }
    if (isLive(w) || w.state === 'starting') anyCandidate = true;
    all.push(w);
  }
  const chosen = pick(all, o);
  if (chosen !== undefined) return chosen;
  return anyCandidate ? { kind: 'wait', for: undefined } : { kind: 'none' };
}

function pick(workers: RoutableWorker[], o: RouteOptions): RouteDecision | undefined {
  switch (o.strategy) {
    case RoutingStrategy.LeastLoaded:
      return leastLoaded(workers);
    case RoutingStrategy.RoundRobin:
      return roundRobin(workers, o.cursor);
    case RoutingStrategy.Adaptive:
      return adaptive(workers, o);
    default: {
      const never: never = o.strategy;
      throw new Error(`unknown routing strategy ${String(never)}`);
    }
  }
}

function leastLoaded(workers: RoutableWorker[]): RouteDecision | undefined {
  let best: RoutableWorker | undefined;
  for (const w of workers) {
    if (!hasRoom(w)) continue;
    if (best === undefined || load(w) < load(best) || (load(w) === load(best) && w.calls < best.calls))
      best = w;
  }
  return best === undefined ? undefined : { kind: 'worker', id: best.id };
}

function roundRobin(workers: RoutableWorker[], cursor: { value: number }): RouteDecision | undefined {
  const ordered = workers.filter(isLive).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  if (ordered.length === 0) return undefined;
  const w = ordered[cursor.value % ordered.length]!;
  cursor.value = (cursor.value + 1) % ordered.length;
  // Plain rotation knows nothing of breakers either: only the worker's own limit holds a call back.
  return w.inflight < w.concurrency ? { kind: 'worker', id: w.id } : { kind: 'wait', for: w.id };
}

function adaptive(workers: RoutableWorker[], o: RouteOptions): RouteDecision | undefined {
  const allowed = workers.filter(isAllowed);
  const known = allowed.map((w) => w.latencyMs).filter((l): l is number => l !== undefined);
  const fastest = known.length === 0 ? undefined : Math.min(...known);
  const cost = (w: RoutableWorker): number => {
    // Unmeasured workers are assumed as fast as the fastest, so they get traffic and a measurement.
    const latency = w.latencyMs ?? fastest ?? 1;
    return (latency * (1 + load(w))) / Math.max(0.05, 1 - (w.errorRate ?? 0));
  };
  let best: RoutableWorker | undefined;
  for (const w of allowed) {
    if (!hasRoom(w)) continue;
    const stale = fastest !== undefined && w.latencyMs !== undefined && w.latencyMs > SLOW_FACTOR * fastest;
    if (stale && w.inflight === 0 && o.now - (w.lastAt ?? 0) > EXPLORE_AFTER_MS)
      return { kind: 'worker', id: w.id };
    if (best === undefined || cost(w) < cost(best) || (cost(w) === cost(best) && w.calls < best.calls))
      best = w;
  }
  if (best === undefined || fastest === undefined) return best && { kind: 'worker', id: best.id };
  // Only slow workers have room: waiting for a fast one may finish sooner.
  const fast = allowed.filter((w) => w.latencyMs !== undefined && w.latencyMs <= 1.5 * fastest);
  if (fast.length > 0 && (best.latencyMs ?? fastest) > SLOW_FACTOR * fastest) {
    const fastSlots = fast.reduce((n, w) => n + w.concurrency, 0);
    const expectedIfWaiting = fastest * (1 + (o.ahead + 1) / fastSlots);
    if (expectedIfWaiting < cost(best)) return undefined;
  }
  return { kind: 'worker', id: best.id };
}
