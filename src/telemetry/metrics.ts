import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The runtime's Prometheus metrics, registered on an injectable registry. */
export interface RuntimeMetrics {
  readonly registry: Registry;
  /** Calls finished, by pool and outcome (`ok` or an error code). */
  calls: Counter<'pool' | 'outcome'>;
  /** End-to-end latency of calls through this node, seconds. */
  callDuration: Histogram<'pool'>;
  /** Attempts retried on another worker, by the error that caused the retry. */
  retries: Counter<'pool' | 'code'>;
  /** Second copies sent for straggling calls. */
  hedges: Counter<'pool'>;
  /** Calls waiting for a worker. */
  queued: Gauge<'pool'>;
  /** Workers by pool and state as this node sees them. */
  workers: Gauge<'pool' | 'state'>;
  /** Workers that ended, by pool and how (`crashed` or `stopped`). */
  workerExits: Counter<'pool' | 'outcome'>;
  /** Worker restarts and other supervisor events. */
  supervisorEvents: Counter<'supervisor' | 'event'>;
  /** Requests rejected before dispatch, by endpoint and code. */
  rejected: Counter<'endpoint' | 'code'>;
  /** Messages dropped at the edge because they did not decode or validate. */
  invalidMessages: Counter<'subject'>;
  /** Heartbeats and replies claiming to come from a worker that did not verify, by kind and reason. */
  workerIdentityRejected: Counter<'kind' | 'reason'>;
  /**
   * Failures nothing else handled, by kind: `rejection` / `exception` (caught by the last-resort
   * process handler), `reply` (a reply that could not be sent), `callback` (a NATS callback threw).
   */
  unhandled: Counter<'kind'>;
  /** Predicts answered by an LLM adapter, by adapter (`direct`, `python`, `mock`) and outcome. */
  llmCalls: Counter<'adapter' | 'outcome'>;
  /** Latency of adapter calls (cache hits excluded), seconds. */
  llmDuration: Histogram<'adapter'>;
  /** Adapter choices, by adapter and the rule that made them (`eligible`, `module`, `errors`, …). */
  llmSelections: Counter<'adapter' | 'reason'>;
  /** Result cache lookups: cache `predict`/`lm`, tier `memory`/`kv`/`front`, result `hit`/`miss`. */
  llmCache: Counter<'cache' | 'tier' | 'result'>;
  /** HTTP LM retries, by provider and the status that caused them (`429`, `503`, `timeout`, …). */
  llmRetries: Counter<'provider' | 'status'>;
}

export function createMetrics(registry: Registry = new Registry()): RuntimeMetrics {
  const reg = [registry];
  return {
    registry,
    calls: new Counter({
      name: 'dspex_calls_total',
      help: 'Calls finished',
      labelNames: ['pool', 'outcome'],
      registers: reg,
    }),
    callDuration: new Histogram({
      name: 'dspex_call_duration_seconds',
      help: 'Latency of calls through this node',
      labelNames: ['pool'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: reg,
    }),
    retries: new Counter({
      name: 'dspex_call_retries_total',
      help: 'Attempts retried',
      labelNames: ['pool', 'code'],
      registers: reg,
    }),
    hedges: new Counter({
      name: 'dspex_call_hedges_total',
      help: 'Hedged attempts',
      labelNames: ['pool'],
      registers: reg,
    }),
    queued: new Gauge({
      name: 'dspex_queued_calls',
      help: 'Calls waiting for a worker',
      labelNames: ['pool'],
      registers: reg,
    }),
    workers: new Gauge({
      name: 'dspex_workers',
      help: 'Workers by state',
      labelNames: ['pool', 'state'],
      registers: reg,
    }),
    workerExits: new Counter({
      name: 'dspex_worker_exits_total',
      help: 'Workers that ended, by how',
      labelNames: ['pool', 'outcome'],
      registers: reg,
    }),
    supervisorEvents: new Counter({
      name: 'dspex_supervisor_events_total',
      help: 'Supervisor events (child restarts, escalations)',
      labelNames: ['supervisor', 'event'],
      registers: reg,
    }),
    rejected: new Counter({
      name: 'dspex_rejected_requests_total',
      help: 'Requests rejected before dispatch',
      labelNames: ['endpoint', 'code'],
      registers: reg,
    }),
    invalidMessages: new Counter({
      name: 'dspex_invalid_messages_total',
      help: 'Messages dropped because they did not decode or validate',
      labelNames: ['subject'],
      registers: reg,
    }),
    workerIdentityRejected: new Counter({
      name: 'dspex_worker_identity_rejected_total',
      help: 'Heartbeats and replies claiming to come from a worker that did not verify',
      labelNames: ['kind', 'reason'],
      registers: reg,
    }),
    unhandled: new Counter({
      name: 'dspex_unhandled_errors_total',
      help: 'Failures nothing else handled (logged and survived)',
      labelNames: ['kind'],
      registers: reg,
    }),
    llmCalls: new Counter({
      name: 'dspex_llm_calls_total',
      help: 'Predicts answered by an LLM adapter',
      labelNames: ['adapter', 'outcome'],
      registers: reg,
    }),
    llmDuration: new Histogram({
      name: 'dspex_llm_call_duration_seconds',
      help: 'Latency of LLM adapter calls (cache hits excluded)',
      labelNames: ['adapter'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: reg,
    }),
    llmSelections: new Counter({
      name: 'dspex_llm_selections_total',
      help: 'Adapter choices by rule',
      labelNames: ['adapter', 'reason'],
      registers: reg,
    }),
    llmCache: new Counter({
      name: 'dspex_llm_cache_total',
      help: 'Result cache lookups',
      labelNames: ['cache', 'tier', 'result'],
      registers: reg,
    }),
    llmRetries: new Counter({
      name: 'dspex_llm_http_retries_total',
      help: 'HTTP LM retries',
      labelNames: ['provider', 'status'],
      registers: reg,
    }),
  };
}

/**
 * The children of a labelled metric, bound (`labels()`) once per label values and reused, so a hot
 * path that counts every call builds no label object for it. Label values must come from small
 * sets (adapters, reasons, outcomes, pools), as for the metric itself.
 */
export class BoundChildren<C> {
  private readonly children = new Map<string, C>();

  constructor(private readonly bind: (first: string, second: string) => C) {}

  /** The child for these label values (the second may be '' for a metric with one label). */
  of(first: string, second = ''): C {
    const key = `${first}\u0000${second}`;
    let child = this.children.get(key);
    if (child === undefined) this.children.set(key, (child = this.bind(first, second)));
    return child;
  }
}
