import type { Logger } from 'pino';
import { createActor, fromCallback } from 'xstate';
import {
  batchMachine,
  type BatchEvent,
  type BatchOutput,
  type BatchProgress,
  type ItemResult,
} from '../actors/batch-machine.js';
import { DspexError, ErrorCode, toDspexError } from '../errors.js';
import type { PredictReply, PredictRequest } from '../protocol/schemas.js';
import type { AttemptResult } from '../pools/dispatcher.js';
import { PatternStore, type LatencyEstimate } from './pattern-store.js';
import { planBatch, type Strategy } from './strategy.js';

/** What the orchestrator needs to know of a pool right now. */
export interface PoolView {
  /** Calls its live workers can run at once. */
  capacity: number;
  queued: number;
  /** Local workers it keeps now, the size it was configured with, and its growth limit. */
  size: number;
  baseSize: number;
  maxSize: number;
  concurrency: number;
  inflight: number;
}

export interface OrchestratorOptions {
  nodeId: string;
  prefix: string;
  logger: Logger;
  predict(request: PredictRequest, options: { deadline?: number; trace?: string }): Promise<PredictReply>;
  pool(name: string): PoolView | undefined;
  resize(pool: string, size: number): void;
}

/** A batch of calls of one module and signature, with its inputs. */
export interface BatchRequest extends Omit<PredictRequest, 'inputs' | 'session'> {
  inputs: Array<Record<string, unknown>>;
  /** Absolute deadline of the whole batch, unix ms. */
  deadline?: number;
}

/** A predicted latency of one call before it runs. */
export interface CallEstimate extends LatencyEstimate {
  /** Expected wait in the pool's queue, ms. */
  queueMs: number;
  /** Worker time plus queue wait, ms (undefined when nothing similar ran yet). */
  predictedMs: number | undefined;
}

export interface BatchResult extends BatchOutput {
  /** The prediction made before the batch ran, ms. */
  predictedMs: number | undefined;
}

const SHRINK_IDLE_MS = 30_000;

/**
 * The orchestration engine: analyses a task (module, signature, batch size, deadline, history of
 * similar tasks in the pattern store), chooses a strategy (parallelism, pool growth within its
 * limit), runs it as a supervised-by-the-caller batch actor with progress and ETA, and
 * gives pools it grew back when they have been idle. Routing-level adaptation (slow and failing
 * workers, breakers, hedging) happens in the dispatcher for every call.
 */
export class Orchestrator {
  readonly patterns: PatternStore;
  private timer: NodeJS.Timeout | undefined;
  private readonly busyAt = new Map<string, number>();

  constructor(private readonly o: OrchestratorOptions) {
    this.patterns = new PatternStore({ nodeId: o.nodeId, prefix: o.prefix, logger: o.logger });
  }

  /** Learns from one attempt on a worker (wired to the dispatcher). */
  observe(result: AttemptResult): void {
    this.patterns.record(result);
  }

  /** Predicted latency of a call before it runs. */
  estimate(request: Pick<PredictRequest, 'module' | 'signature' | 'pool'>): CallEstimate {
    const pool = request.pool ?? 'general';
    const base = this.patterns.estimate(pool, request.module, request.signature);
    const view = this.o.pool(pool);
    const queueMs =
      base.latencyMs === undefined || view === undefined || view.capacity === 0
        ? 0
        : (view.queued / view.capacity) * base.latencyMs;
    return {
      ...base,
      queueMs,
      predictedMs: base.latencyMs === undefined ? undefined : base.latencyMs + queueMs,
    };
  }

  /** The strategy a batch would run with, without running it. */
  plan(batch: BatchRequest): Strategy {
    const pool = batch.pool ?? 'general';
    const view = this.o.pool(pool);
    if (view === undefined) {
      throw new DspexError(ErrorCode.NotFound, `pool "${pool}" is unknown on this node`, {
        details: { field: 'pool' },
      });
    }
    const estimate = this.patterns.estimate(pool, batch.module, batch.signature);
    return planBatch({
      items: batch.inputs.length,
      itemLatencyMs: estimate.latencyMs,
      errorRate: estimate.errorRate,
      capacity: view.capacity,
      queued: view.queued,
      size: view.size,
      maxSize: view.maxSize,
      slotsPerWorker: view.concurrency,
      remainingMs: batch.deadline === undefined ? undefined : batch.deadline - Date.now(),
    });
  }

  /** Runs a batch under the chosen strategy; every item ends with outputs or a named error. */
  run(
    batch: BatchRequest,
    options: { onProgress?: (p: BatchProgress) => void; trace?: string } = {},
  ): Promise<BatchResult> {
    if (batch.inputs.length === 0) {
      return Promise.reject(
        new DspexError(ErrorCode.BadRequest, 'batch: inputs is empty', { details: { field: 'inputs' } }),
      );
    }
    const strategy = this.plan(batch);
    const pool = batch.pool ?? 'general';
    this.o.logger.info({ pool, items: batch.inputs.length, strategy }, 'orchestrating batch');
    const { inputs, deadline, ...common } = batch;
    const actor = createActor(
      batchMachine.provide({
        actions: {
          grow: (_, params) => {
            if (params.size > 0) this.o.resize(pool, params.size);
          },
        },
        actors: {
          execute: this.executor(common, inputs, deadline, options.trace),
        },
      }),
      { input: { items: inputs.length, strategy, startedAt: Date.now() } },
    );
    if (options.onProgress !== undefined) actor.on('batch.progress', options.onProgress);
    return new Promise<BatchResult>((resolve, reject) => {
      actor.subscribe({
        complete: () => resolve({ ...actor.getSnapshot().output!, predictedMs: strategy.predictedMs }),
        error: (err) => reject(err instanceof Error ? err : new Error(String(err))),
      });
      actor.start();
    });
  }

  /** The batch actor's `execute` effect: runs items with bounded parallelism, reporting each. */
  private executor(
    common: Omit<PredictRequest, 'inputs'>,
    inputs: Array<Record<string, unknown>>,
    deadline: number | undefined,
    trace: string | undefined,
  ) {
    return batchExecutor(async (index) => {
      try {
        const reply = await this.o.predict({ ...common, inputs: inputs[index]! }, { deadline, trace });
        return {
          ok: true,
          outputs: reply.outputs,
          worker: reply.worker,
          latencyMs: reply.latency_ms,
        };
      } catch (error) {
        return { ok: false, error: toDspexError(error).toWire() };
      }
    });
  }

  /** Starts the shared pattern bucket and the idle-shrink loop. */
  async start(nc: Parameters<PatternStore['start']>[0], pools: () => string[]): Promise<void> {
    await this.patterns.start(nc);
    this.timer = setInterval(() => this.shrinkIdle(pools()), 5000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    await this.patterns.stop();
  }

  /** Gives back, one worker at a time, what a pool grew beyond its configured size once it idles. */
  private shrinkIdle(pools: string[]): void {
    const now = Date.now();
    for (const name of pools) {
      const view = this.o.pool(name);
      if (view === undefined || view.size <= view.baseSize) continue;
      if (view.inflight > 0 || view.queued > 0) {
        this.busyAt.set(name, now);
        continue;
      }
      if (now - (this.busyAt.get(name) ?? 0) < SHRINK_IDLE_MS) continue;
      this.busyAt.set(name, now);
      this.o.logger.info({ pool: name, size: view.size - 1 }, 'shrinking idle pool');
      this.o.resize(name, view.size - 1);
    }
  }
}

/** A callback actor running `items` calls of `run` with the parallelism it is given. */
function batchExecutor(run: (index: number) => Promise<ItemResult>) {
  return fromCallback<BatchEvent, { items: number; parallelism: number }>(({ input, sendBack }) => {
    let next = 0;
    let stopped = false;
    const lane = async (): Promise<void> => {
      while (!stopped && next < input.items) {
        const index = next++;
        const result = await run(index);
        if (!stopped) sendBack({ type: 'item.settled', index, result });
      }
    };
    for (let i = 0; i < Math.min(input.parallelism, input.items); i++) void lane();
    return () => {
      stopped = true;
    };
  });
}
