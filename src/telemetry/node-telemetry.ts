/**
 * The node's telemetry wiring, kept out of the runtime: per-worker series, the attempt hook, and the
 * `/metrics` `/healthz` `/readyz` server when `metrics.port` is configured.
 */
import type { Logger } from 'pino';
import { z } from 'zod';
import { DspexError, ErrorCode } from '../errors.js';
import { startObservabilityServer, type ObservabilityServer } from './http.js';
import type { RuntimeMetrics } from './metrics.js';
import { nodeReadiness, type ReadinessSource } from './readiness.js';
import { CallOutcome, type CallBatch } from '../protocol/events.js';
import { createCallBatcher, type CallBatcher } from './call-batcher.js';
import { startTracing, type Tracing } from './tracing.js';
import { registerWorkerMetrics, type WorkerMetrics, type WorkerView } from './worker-metrics.js';

/**
 * One attempt that reached a worker, as the dispatcher reports it (`AttemptResult` there: defined
 * here because telemetry sits below the pools layer).
 */
export interface AttemptObservation {
  pool: string;
  worker: string;
  module: string;
  signature: string;
  latencyMs: number;
  ok: boolean;
  hedge: boolean;
}

/** `metrics` of the runtime config (docs/telemetry.md). */
export const MetricsOptionsSchema = z.strictObject({
  /** Serve `/metrics`, `/healthz` and `/readyz` on this TCP port (0: any free port). Unset: off. */
  port: z.number().int().min(0).max(65_535).optional(),
  /** Address to listen on; `0.0.0.0` to be scraped from other hosts. @default '127.0.0.1' */
  host: z.string().min(1).default('127.0.0.1'),
  /** Publish every attempt's measurements, batched, on `<prefix>.events.call`. @default false */
  callEvents: z.boolean().default(false),
  /** Fraction of attempts published (uniform sampling; divide counts by it). @default 1 */
  callSampleRate: z.number().gt(0).max(1).default(1),
});
export type MetricsOptions = z.output<typeof MetricsOptionsSchema>;

export interface NodeTelemetryOptions {
  nodeId: string;
  metrics: RuntimeMetrics;
  logger: Logger;
  options: MetricsOptions;
  /** Every worker this node routes to (local and remote), read at scrape time. */
  workers(): Iterable<WorkerView>;
  /** Publishes a `<prefix>.events.call` batch (msgpack); used when `callEvents` is on. */
  publishCalls(batch: CallBatch): void;
}

export class NodeTelemetry {
  readonly workerMetrics: WorkerMetrics;
  private server: ObservabilityServer | undefined;
  private readiness: ReturnType<typeof nodeReadiness> | undefined;
  private tracing: Tracing | undefined;

  private readonly batcher: CallBatcher | undefined;

  constructor(private readonly o: NodeTelemetryOptions) {
    this.workerMetrics = registerWorkerMetrics(o.metrics.registry, () => o.workers());
    if (o.options.callEvents) {
      this.batcher = createCallBatcher({
        node: o.nodeId,
        sinks: [(batch) => o.publishCalls(batch)],
        sampleRate: o.options.callSampleRate,
      });
    }
  }

  /** The `/metrics` server's URL while it runs. */
  get url(): string | undefined {
    return this.server?.url;
  }

  /** Called by the dispatcher after every attempt that reached a worker. */
  onAttempt(result: AttemptObservation): void {
    const labels = { pool: result.pool, worker: result.worker };
    this.workerMetrics.attempts.inc({ ...labels, outcome: result.ok ? 'ok' : 'failed' });
    this.workerMetrics.attemptDuration.observe(labels, result.latencyMs / 1000);
    this.batcher?.record({
      ts: Date.now(),
      pool: result.pool,
      worker: result.worker,
      module: result.module,
      signature: result.signature,
      latency_ms: result.latencyMs,
      outcome: result.ok ? CallOutcome.Ok : CallOutcome.Error,
      hedged: result.hedge,
    });
  }

  onRecycle(pool: string, reason: string): void {
    this.workerMetrics.recycles.inc({ pool, reason });
  }

  /**
   * Starts OpenTelemetry tracing when an OTLP endpoint is configured (`OTEL_EXPORTER_OTLP_ENDPOINT`),
   * and the HTTP server when a port is.
   */
  async start(node: ReadinessSource): Promise<void> {
    this.tracing = await startTracing({ attributes: { 'service.instance.id': this.o.nodeId } });
    if (this.tracing.enabled) this.o.logger.info({ url: this.tracing.url }, 'exporting spans over OTLP');
    const { port, host } = this.o.options;
    if (port === undefined) return;
    this.readiness = nodeReadiness(node);
    try {
      this.server = await startObservabilityServer({
        registry: this.o.metrics.registry,
        port,
        host,
        ready: this.readiness,
      });
    } catch (error) {
      this.readiness.stop();
      throw new DspexError(
        ErrorCode.BadRequest,
        `metrics.port: cannot serve /metrics on ${host}:${port}: ${(error as Error).message}`,
        { details: { field: 'metrics.port' }, cause: error },
      );
    }
    this.o.logger.info({ url: this.server.url }, 'serving /metrics, /healthz and /readyz');
  }

  async stop(): Promise<void> {
    this.batcher?.close();
    await this.tracing?.shutdown().catch(() => undefined);
    this.readiness?.stop();
    await this.server?.close();
    this.server = undefined;
  }
}
