/**
 * Task analysis → execution strategy. Pure: the orchestrator feeds it what the runtime knows (the
 * pool's live capacity and queue, the pattern store's latency prediction, the deadline) and runs
 * the batch the way it says.
 */

/** What is known about a batch before it runs. */
export interface TaskAnalysis {
  /** Items in the batch. */
  items: number;
  /** Predicted worker time of one item, ms (undefined: nothing similar ran yet). */
  itemLatencyMs: number | undefined;
  /** Observed failure rate of similar calls (0..1). */
  errorRate: number;
  /** Calls the pool's live workers can run at once. */
  capacity: number;
  /** Calls already waiting in the pool's queue. */
  queued: number;
  /** Local workers now, and the most the pool may grow to. */
  size: number;
  maxSize: number;
  /** Slots one more local worker adds. */
  slotsPerWorker: number;
  /** Time left before the deadline, ms (undefined: no deadline). */
  remainingMs: number | undefined;
}

export interface Strategy {
  /** Items in flight at once. */
  parallelism: number;
  /** Predicted time for the whole batch with that parallelism, ms. */
  predictedMs: number | undefined;
  /** Grow the pool to this many local workers first (undefined: no change). */
  growTo: number | undefined;
  /** Why, in a few words, for logs and the result. */
  reason: string;
}

/** Fallback per-item latency when nothing similar ran yet: assume a typical LM call. */
const UNKNOWN_ITEM_MS = 1000;

export function planBatch(a: TaskAnalysis): Strategy {
  const item = a.itemLatencyMs ?? UNKNOWN_ITEM_MS;
  const capacity = Math.max(1, a.capacity);
  // Keep every slot busy plus a little queue so a freed slot never idles; more only adds waiting.
  const parallelism = Math.max(1, Math.min(a.items, capacity * 2));
  const waves = (items: number, slots: number): number => Math.ceil((items + a.queued) / Math.max(1, slots));
  const predict = (slots: number): number => waves(a.items, slots) * item * (1 + a.errorRate);
  let predictedMs = predict(capacity);
  let growTo: number | undefined;
  let reason = a.itemLatencyMs === undefined ? 'no history: capacity-bound plan' : 'capacity-bound plan';
  if (a.remainingMs !== undefined && predictedMs > a.remainingMs && a.size < a.maxSize) {
    // The deadline will not hold at this size: grow just enough (within the pool's limit).
    const perWorker = Math.max(1, a.slotsPerWorker);
    for (let size = a.size + 1; size <= a.maxSize; size++) {
      growTo = size;
      predictedMs = predict(capacity + (size - a.size) * perWorker);
      if (predictedMs <= a.remainingMs) break;
    }
    reason = `grow to ${growTo} workers to meet the deadline`;
  }
  return {
    parallelism,
    predictedMs: a.itemLatencyMs === undefined ? undefined : predictedMs,
    growTo,
    reason,
  };
}
