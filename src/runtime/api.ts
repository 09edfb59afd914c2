/** The public types of an embedded runtime node ({@link createRuntime} in runtime.ts). */
import type { NatsConnection } from '@nats-io/nats-core';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { DspexError } from '../errors.js';
import type { LlmLayer } from '../llm/router.js';
import type { LlmAdapter } from '../llm/types.js';
import type { ToolRegistry } from '../modules/tool-registry.js';
import type { Optimizer } from '../optimize/compile.js';
import type { Orchestrator } from '../orchestrator/orchestrator.js';
import type { PipelineEngine } from '../pipelines/engine.js';
import type { PredictReply, PredictRequest, StatusReply } from '../protocol/schemas.js';
import type { SessionStore } from '../sessions/store.js';
import type { RuntimeMetrics } from '../telemetry/metrics.js';
import type { VariableStore } from '../variables/store.js';
import type { RuntimeConfig } from './config.js';

/** Options of {@link createRuntime}: the validated config plus injected dependencies. */
export interface RuntimeOptions extends RuntimeConfig {
  /** Where logs go. @default pino to stderr at `DSPEX_LOG_LEVEL` (info) */
  logger?: Logger;
  /** Registry for the runtime's Prometheus metrics. @default a new registry */
  registry?: Registry;
  /** A scripted LM ({@link createMockLm}): every call it can answer goes to it (users' tests). */
  mock?: LlmAdapter;
  /**
   * Install process-wide `unhandledRejection` / `uncaughtException` listeners that log, count
   * (`dspex_unhandled_errors_total`) and keep the process serving, instead of Node's default exit.
   * Off by default because it changes how the whole host process treats failures, which is the
   * embedding application's decision; `dspex node` turns it on. Removed when the runtime stops.
   * @default false
   */
  lastResort?: boolean;
}

/** Per-call options of {@link Runtime.predict}. */
export interface CallOptions {
  /** Absolute deadline, unix ms. @default now + `callTimeoutMs` */
  deadline?: number;
  trace?: string;
}

/** Options of {@link Runtime.waitForWorkers}. */
export interface WaitOptions {
  /** Count only this node's own workers (not other hosts' in the same pool). @default false */
  local?: boolean;
}

/** A running dspex node embedded in this process. */
export interface Runtime extends AsyncDisposable {
  readonly nodeId: string;
  /** The NATS URL(s) this node uses (the private server's when it started one). */
  readonly servers: string[];
  readonly nc: NatsConnection;
  readonly logger: Logger;
  readonly metrics: RuntimeMetrics;
  /** Tools (and reward functions) this node serves to workers on `<prefix>.tool.<name>` (docs/modules.md). */
  readonly tools: ToolRegistry;
  /** The LLM layer: adapters, selection, health and the result cache (docs/llm.md). */
  readonly llm: LlmLayer;
  /** Cluster-wide variables over JetStream KV (docs/variables.md); 503 when `variables.enabled` is false. */
  readonly variables: VariableStore;
  /** DSPy optimizers in the optimizer pool and distributed searches over variables (docs/optimization.md). */
  readonly optimizer: Optimizer;
  /** Task analysis, strategies, batch runs, latency predictions and the shared pattern store. */
  readonly orchestrator: Orchestrator;
  /** Pipelines: run, stream events, durable runs on the work queue (docs/pipelines.md); 503 when disabled. */
  readonly pipelines: PipelineEngine;
  /** Sessions persisted in KV (docs/sessions.md); 503 when `sessions.enabled` is false. */
  readonly sessions: SessionStore;
  /** Runs a DSPy module on a worker; the same contract as `dspex.rpc.predict`. */
  predict(request: PredictRequest, options?: CallOptions): Promise<PredictReply>;
  /** `http://host:port` of the `/metrics` `/healthz` `/readyz` server, when `metrics.port` is set. */
  readonly metricsUrl: string | undefined;
  /** Nodes, pools and workers as this node sees them. */
  status(): StatusReply;
  /**
   * Resolves once `count` workers of `pool` are ready: any the node routes to, or with `local` only
   * the ones it started itself. Rejects after `timeoutMs`, or at once with {@link failed}'s error
   * when the node fails.
   */
  waitForWorkers(pool?: string, count?: number, timeoutMs?: number, options?: WaitOptions): Promise<void>;
  /**
   * Settles if the node fails for good: its pools supervisor exceeded its own restart intensity
   * (pools kept crashing), so it serves no local workers. Never settles otherwise. A process
   * manager should restart the node (the CLI exits 1).
   */
  readonly failed: Promise<DspexError>;
  /** Drains calls, stops workers, closes the connection and the private server. */
  stop(): Promise<void>;
}
