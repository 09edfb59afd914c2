/**
 * Per-worker Prometheus series: what this node sees of each worker it routes to (state, calls in
 * flight, RSS, circuit breaker, attempts and their latency) and the worker's own measurements from
 * its heartbeats (time in DSPy, LM calls/latency/tokens per model, errors, GC). Read at scrape time
 * from the dispatcher's view, so a worker that leaves also leaves the exposition.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { WorkerHeartbeat } from '../protocol/schemas.js';

/** What the exporter reads of one worker (the dispatcher's entries fit). */
export interface WorkerView {
  id: string;
  pool: string;
  state: string;
  inflight: number;
  managed: boolean;
  /** False while its circuit breaker keeps calls away. */
  allowed?: boolean;
  heartbeat: WorkerHeartbeat | undefined;
}

/** Label values a worker's metrics record may add, per record (a worker cannot flood the exposition). */
export const MAX_LABELS_PER_RECORD = 64;

type PoolWorker = 'pool' | 'worker';

export interface WorkerMetrics {
  /** Attempts this node sent to a worker that ended, by outcome (`ok`, `failed`). */
  attempts: Counter<PoolWorker | 'outcome'>;
  /** Latency of those attempts, seconds. */
  attemptDuration: Histogram<PoolWorker>;
  /** Workers replaced, by pool and reason (`call budget`, `policy`...). */
  recycles: Counter<'pool' | 'reason'>;
}

/**
 * Registers the per-worker series on `registry`; `workers()` is read at every scrape.
 * Returns the counters the node increments itself.
 */
export function registerWorkerMetrics(
  registry: Registry,
  workers: () => Iterable<WorkerView>,
): WorkerMetrics {
  const registers = [registry];
  const each = (fn: (w: WorkerView, labels: Record<PoolWorker, string>) => void): void => {
    for (const w of workers()) fn(w, { pool: w.pool, worker: w.id });
  };
  const withHeartbeatMetrics = (
    fn: (m: NonNullable<WorkerHeartbeat['metrics']>, labels: Record<PoolWorker, string>) => void,
  ): void =>
    each((w, labels) => {
      const m = w.heartbeat?.metrics;
      if (m !== undefined) fn(m, labels);
    });

  new Gauge({
    name: 'dspex_worker_state',
    help: 'Workers this node routes to: 1 for the state each is in',
    labelNames: ['pool', 'worker', 'state', 'managed'],
    registers,
    collect() {
      this.reset();
      each((w, l) => this.set({ ...l, state: w.state, managed: String(w.managed) }, 1));
    },
  });
  new Gauge({
    name: 'dspex_worker_inflight',
    help: 'Calls this node has in flight on the worker',
    labelNames: ['pool', 'worker'],
    registers,
    collect() {
      this.reset();
      each((w, l) => this.set(l, w.inflight));
    },
  });
  new Gauge({
    name: 'dspex_worker_rss_bytes',
    help: 'Resident memory of the worker process (its last heartbeat)',
    labelNames: ['pool', 'worker'],
    registers,
    collect() {
      this.reset();
      each((w, l) => {
        if (w.heartbeat !== undefined) this.set(l, w.heartbeat.rss_bytes);
      });
    },
  });
  new Gauge({
    name: 'dspex_worker_breaker_open',
    help: "1 while the worker's circuit breaker keeps calls away",
    labelNames: ['pool', 'worker'],
    registers,
    collect() {
      this.reset();
      each((w, l) => this.set(l, w.allowed === false ? 1 : 0));
    },
  });
  new Gauge({
    name: 'dspex_pool_inflight',
    help: 'Calls this node has in flight on the pool',
    labelNames: ['pool'],
    registers,
    collect() {
      this.reset();
      const sums = new Map<string, number>();
      each((w) => sums.set(w.pool, (sums.get(w.pool) ?? 0) + w.inflight));
      for (const [pool, n] of sums) this.set({ pool }, n);
    },
  });

  // The worker's own measurements (cumulative in its heartbeats): counters set at scrape time.
  new Counter({
    name: 'dspex_worker_py_calls_total',
    help: 'Predict calls the worker finished, by outcome (its own count)',
    labelNames: ['pool', 'worker', 'outcome'],
    registers,
    collect() {
      this.reset();
      withHeartbeatMetrics((m, l) => {
        for (const [outcome, n] of bounded(m.calls)) this.inc({ ...l, outcome }, n);
      });
    },
  });
  new Counter({
    name: 'dspex_worker_dspy_seconds_total',
    help: 'Seconds the worker spent in DSPy (LM calls included)',
    labelNames: ['pool', 'worker'],
    registers,
    collect() {
      this.reset();
      withHeartbeatMetrics((m, l) => this.inc(l, m.dspy_seconds));
    },
  });
  const lmCounter = (
    name: string,
    help: string,
    pick: (e: NonNullable<WorkerHeartbeat['metrics']>['lm'][string]) => number,
  ): void => {
    new Counter({
      name,
      help,
      labelNames: ['pool', 'worker', 'model'],
      registers,
      collect() {
        this.reset();
        withHeartbeatMetrics((m, l) => {
          for (const [model, e] of bounded(m.lm)) this.inc({ ...l, model }, pick(e));
        });
      },
    });
  };
  lmCounter('dspex_worker_lm_calls_total', 'LM calls the worker made, by model', (e) => e.calls);
  lmCounter('dspex_worker_lm_errors_total', 'LM calls that failed, by model', (e) => e.errors);
  lmCounter('dspex_worker_lm_seconds_total', 'Seconds in LM calls, by model', (e) => e.seconds);
  new Counter({
    name: 'dspex_worker_lm_tokens_total',
    help: 'LM tokens, by model and kind (prompt, completion)',
    labelNames: ['pool', 'worker', 'model', 'kind'],
    registers,
    collect() {
      this.reset();
      withHeartbeatMetrics((m, l) => {
        for (const [model, e] of bounded(m.lm)) {
          this.inc({ ...l, model, kind: 'prompt' }, e.prompt_tokens);
          this.inc({ ...l, model, kind: 'completion' }, e.completion_tokens);
        }
      });
    },
  });
  new Counter({
    name: 'dspex_worker_gc_collections_total',
    help: "Garbage collections of the worker's Python, by generation",
    labelNames: ['pool', 'worker', 'generation'],
    registers,
    collect() {
      this.reset();
      withHeartbeatMetrics((m, l) =>
        m.gc.collections.forEach((n, generation) => this.inc({ ...l, generation: String(generation) }, n)),
      );
    },
  });
  new Counter({
    name: 'dspex_worker_gc_seconds_total',
    help: "Seconds of the worker's Python garbage collections",
    labelNames: ['pool', 'worker'],
    registers,
    collect() {
      this.reset();
      withHeartbeatMetrics((m, l) => this.inc(l, m.gc.seconds));
    },
  });

  return {
    attempts: new Counter({
      name: 'dspex_worker_attempts_total',
      help: 'Attempts this node sent to a worker, by outcome (ok, failed)',
      labelNames: ['pool', 'worker', 'outcome'],
      registers,
    }),
    attemptDuration: new Histogram({
      name: 'dspex_worker_attempt_duration_seconds',
      help: 'Latency of attempts on a worker, seen from this node',
      labelNames: ['pool', 'worker'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    recycles: new Counter({
      name: 'dspex_worker_recycles_total',
      help: 'Workers this node asked its pool to replace, by reason',
      labelNames: ['pool', 'reason'],
      registers,
    }),
  };
}

function bounded<T>(record: Record<string, T>): Array<[string, T]> {
  return Object.entries(record).slice(0, MAX_LABELS_PER_RECORD);
}
