import type { Logger } from 'pino';
import { createActor, fromCallback, fromPromise, type Actor } from 'xstate';
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
import type { RestartIntensity } from '../supervisors/options.js';
import { supervisorMachine } from '../supervisors/supervisor-machine.js';
import { orchestratorMachine, type OrchestratorActorLogic, type PoolSizes } from './orchestrator-machine.js';
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
  /** How the orchestrator actor is supervised and paced (defaults suit production; tests shrink them). */
  supervision?: OrchestratorSupervision;
}

/** Supervision and pacing of the orchestrator actor; see docs/architecture.md#supervision. */
export interface OrchestratorSupervision {
  /** @default { maxRestarts: 5, periodMs: 60000 } */
  intensity?: RestartIntensity;
  /** How often idle pools are checked. @default 5000 */
  tickMs?: number;
  /** How long a grown pool idles before it gives a worker back. @default 30000 */
  idleMs?: number;
  /** How often the pattern store saves and re-reads the shared bucket. @default 5000 */
  patternFlushMs?: number;
  /** The actor's logic; tests pass `orchestratorMachine.provide(...)` to inject faults. */
  logic?: OrchestratorActorLogic;
}

/** Child id of the orchestrator actor under the orchestrator supervisor. */
export const ORCHESTRATOR_ACTOR = 'orchestrator';

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

/**
 * The orchestration engine: analyses a task (module, signature, batch size, deadline, history of
 * similar tasks in the pattern store), chooses a strategy (parallelism, pool growth within its
 * limit), runs it as a supervised-by-the-caller batch actor with progress and ETA. Its own actor
 * (`orchestrator-machine.ts`, a permanent child of the orchestrator supervisor) reloads the shared
 * patterns when it (re)starts and gives pools it grew back when they have been idle. Routing-level
 * adaptation (slow and failing workers, breakers, hedging) happens in the dispatcher for every call.
 */
export class Orchestrator {
  readonly patterns: PatternStore;
  private root: Actor<typeof supervisorMachine> | undefined;

  constructor(private readonly o: OrchestratorOptions) {
    this.patterns = new PatternStore({
      nodeId: o.nodeId,
      prefix: o.prefix,
      logger: o.logger,
      ...(o.supervision?.patternFlushMs !== undefined && { flushMs: o.supervision.patternFlushMs }),
    });
  }

  /**
   * The orchestrator supervisor (one_for_one) and, under it, the orchestrator actor; `undefined`
   * before {@link start}. For status and tests.
   */
  get supervisor(): Actor<typeof supervisorMachine> | undefined {
    return this.root;
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

  /** Starts the shared pattern bucket and the orchestrator actor under its supervisor. */
  async start(nc: Parameters<PatternStore['start']>[0], pools: () => string[]): Promise<void> {
    await this.patterns.start(nc);
    const sup = this.o.supervision ?? {};
    const logic = (sup.logic ?? orchestratorMachine).provide({
      actors: { load: fromPromise(() => this.patterns.reload()) },
      actions: {
        resize: (_, { pool, size }) => {
          this.o.logger.info({ pool, size }, 'shrinking idle pool');
          this.o.resize(pool, size);
        },
        loaded: (_, { ok }) => {
          if (!ok) this.o.logger.warn('orchestrator actor runs without the shared patterns');
        },
      },
    });
    const views = (): Record<string, PoolSizes> => {
      const out: Record<string, PoolSizes> = {};
      for (const name of pools()) {
        const view = this.o.pool(name);
        if (view !== undefined) out[name] = view;
      }
      return out;
    };
    const root = createActor(supervisorMachine, {
      input: {
        id: `${this.o.nodeId}.orchestrator`,
        strategy: 'one_for_one',
        intensity: sup.intensity ?? { maxRestarts: 5, periodMs: 60_000 },
        children: [
          {
            id: ORCHESTRATOR_ACTOR,
            logic,
            input: { pools: views, now: Date.now, tickMs: sup.tickMs ?? 5000, idleMs: sup.idleMs ?? 30_000 },
            restart: 'permanent',
          },
        ],
      },
    });
    root.on('child.exited', ({ exit }) => {
      if (exit.status === 'crashed')
        this.o.logger.warn({ exit }, 'orchestrator actor crashed; restarting it');
    });
    root.on('supervisor.escalated', ({ lastFailure }) =>
      this.o.logger.error(
        { lastFailure },
        'orchestrator actor crashed too often; idle pools are no longer shrunk on this node',
      ),
    );
    this.root = root;
    root.start();
  }

  async stop(): Promise<void> {
    this.root?.send({ type: 'supervisor.stop' });
    this.root?.stop();
    await this.patterns.stop();
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
