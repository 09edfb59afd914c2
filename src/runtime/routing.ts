/**
 * Pure routing decisions for a pool: which worker takes a call. Least loaded first, session
 * affinity when the session's worker is alive, and never a worker that already failed this call.
 */

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
}

export type RouteDecision =
  /** Send the call to this worker now. */
  | { kind: 'worker'; id: string }
  /** Every suitable worker is at its limit (or still starting): wait for one. */
  | { kind: 'wait'; for: string | undefined }
  /** No worker could ever take it: the pool has none alive or starting. */
  | { kind: 'none' };

export const isLive = (w: RoutableWorker): boolean => w.state === 'ready' || w.state === 'busy';
const hasRoom = (w: RoutableWorker): boolean => isLive(w) && w.inflight < w.concurrency;

/**
 * Chooses a worker. `affinity` is the worker the call's session is bound to, if any; `excluded`
 * holds workers that already failed this call.
 */
export function route(
  workers: Iterable<RoutableWorker>,
  affinity: string | undefined,
  excluded: ReadonlySet<string>,
): RouteDecision {
  let best: RoutableWorker | undefined;
  let anyCandidate = false;
  for (const w of workers) {
    if (excluded.has(w.id)) continue;
    if (w.id === affinity && isLive(w)) {
      return hasRoom(w) ? { kind: 'worker', id: w.id } : { kind: 'wait', for: w.id };
    }
    if (isLive(w) || w.state === 'starting') anyCandidate = true;
    if (!hasRoom(w)) continue;
    if (best === undefined || load(w) < load(best) || (load(w) === load(best) && w.calls < best.calls))
      best = w;
  }
  if (best !== undefined) return { kind: 'worker', id: best.id };
  return anyCandidate ? { kind: 'wait', for: undefined } : { kind: 'none' };
}

const load = (w: RoutableWorker): number => w.inflight / w.concurrency;
