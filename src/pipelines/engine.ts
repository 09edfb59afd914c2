/**
 * The pipeline engine of one node (`rt.pipelines`): checks and submits runs, runs them as run actors
 * under the node's `pipelines` supervisor (a crashed run actor is restarted and resumes from its
 * checkpoints), publishes their events on `<prefix>.pipeline.<run_id>.events`, and pulls durable
 * runs off the shared work queue.
 */
import { randomBytes } from 'node:crypto';
import type { NatsConnection } from '@nats-io/nats-core';
import { pino, type Logger } from 'pino';
import { createActor, type Actor } from 'xstate';
import { DspexError, ErrorCode, ValidationError } from '../errors.js';
import { encode, Encoding } from '../protocol/codec.js';
import { isName, NameKind, nameRule } from '../protocol/names.js';
import {
  PipelineSpecSchema,
  pipelineEventsSubject,
  type FailurePolicy,
  type PipelineEventBody,
  type PipelineJob,
  type PipelineSpec,
  type PipelineSpecInput,
  type RunRecord,
} from '../protocol/pipelines.js';
import { parseMessage } from '../protocol/schemas.js';
import { supervisorMachine } from '../supervisors/supervisor-machine.js';
import { Pipeline } from './dsl.js';
import { analysePipeline, type PipelineGraph } from './graph.js';
import { PipelinesOptionsSchema, type PipelinesOptions, type ResolvedPipelinesOptions } from './options.js';
import { createRunActor, runRecordBase } from './run-actor.js';
import { createRunHandle, type PipelineRun } from './run-handle.js';
import { RunStore, runStoreNames } from './run-store.js';
import { PipelineRunner, type RunEnd } from './runner.js';
import type { PredictFn, StageFunction } from './stage-executor.js';

export type { PipelineRun } from './run-handle.js';

export interface PipelineEngineOptions {
  nc: NatsConnection;
  nodeId: string;
  /** @default 'dspex' */
  prefix?: string;
  options?: PipelinesOptions;
  /** The node's predict path, for DSPy and LLM stages. */
  predict: PredictFn;
  logger?: Logger;
}

/** Options of {@link PipelineEngine.run}. */
export interface RunOptions {
  /** @default generated */
  runId?: string;
  /** Overrides the pipeline's policy. */
  policy?: FailurePolicy;
  /**
   * Put the run on the work-queue stream (any node may run it; it survives this node's death).
   * @default true when the pipeline has no inline function, which only this node can run
   */
  durable?: boolean;
}

/** Starts the engine: opens the stream, consumer and bucket, and starts pulling jobs if a runner. */
export async function createPipelineEngine(o: PipelineEngineOptions): Promise<PipelineEngine> {
  const options = PipelinesOptionsSchema.parse(o.options ?? {});
  const prefix = o.prefix ?? 'dspex';
  const store = await RunStore.open(o.nc, runStoreNames(prefix, options), options);
  const engine = new PipelineEngine(o, prefix, options, store);
  await engine.start();
  return engine;
}

interface Active {
  settle(end: RunEnd): void;
}

export class PipelineEngine implements AsyncDisposable {
  private readonly functions = new Map<string, StageFunction>();
  private readonly active = new Map<string, Active>();
  private readonly root: Actor<typeof supervisorMachine>;
  private readonly logger: Logger;
  private runner: PipelineRunner | undefined;

  constructor(
    private readonly o: PipelineEngineOptions,
    readonly prefix: string,
    readonly options: ResolvedPipelinesOptions,
    readonly store: RunStore,
  ) {
    this.logger = o.logger ?? pino({ level: 'silent' });
    this.root = createActor(supervisorMachine, {
      input: {
        id: `${o.nodeId}.pipelines`,
        strategy: 'one_for_one',
        intensity: { maxRestarts: 20, periodMs: 60_000 },
      },
    });
    this.root.on('child.exited', ({ id, exit }) => {
      if (exit.status === 'crashed') this.logger.warn({ run: id, exit }, 'run actor crashed; restarting it');
      else {
        // Ended without persisting its outcome (e.g. the final write failed): the job goes back.
        this.active.get(id)?.settle({ persisted: false });
        this.root.send({ type: 'supervisor.terminate_child', id });
      }
    });
    this.root.on('supervisor.escalated', ({ lastFailure }) => {
      this.logger.error({ lastFailure }, 'pipelines supervisor gave up; handing every run back');
      for (const run of this.active.values()) run.settle({ persisted: false });
    });
  }

  async start(): Promise<void> {
    this.root.start();
    if (this.options.runner) {
      this.runner = new PipelineRunner({
        store: this.store,
        slots: this.options.maxRuns,
        logger: this.logger,
        execute: (job, attempt) => this.execute(job, attempt, new Map()),
        abort: (runId) => this.abort(runId),
      });
      await this.runner.start();
    }
  }

  /** Registers a TypeScript stage function under `name` (register it on every node that runs pipelines). */
  register(name: string, fn: StageFunction): void {
    if (!isName(NameKind.Function, name)) {
      throw new ValidationError('name', nameRule(NameKind.Function));
    }
    this.functions.set(name, fn);
  }

  unregister(name: string): boolean {
    return this.functions.delete(name);
  }

  /** Checks a pipeline and its inputs without running it; returns its graph. */
  analyse(pipeline: Pipeline | PipelineSpecInput, inputs: Record<string, unknown> = {}): PipelineGraph {
    const { spec, local } = this.specOf(pipeline);
    const graph = analysePipeline(spec, { hasFunction: (n) => local.has(n) || this.functions.has(n) });
    for (const name of graph.inputs) {
      if (!(name in inputs))
        throw new ValidationError(`inputs.${name}`, `pipeline input "${name}" is missing`);
    }
    return graph;
  }

  /**
   * Starts a run and returns a handle on it; subscribe-before-start, so no event is missed.
   *
   * @throws ValidationError (422) for a cycle, a dangling reference or a missing input, naming it.
   */
  async run(
    pipeline: Pipeline | PipelineSpecInput,
    inputs: Record<string, unknown> = {},
    options: RunOptions = {},
  ): Promise<PipelineRun> {
    const { spec, local } = this.specOf(pipeline);
    this.analyse(pipeline, inputs);
    const durable = options.durable ?? local.size === 0;
    if (durable && local.size > 0 && pipeline instanceof Pipeline) pipeline.toJSON(); // names the inline stage
    const runId = options.runId === undefined ? newRunId() : checkRunId(options.runId);
    const handle = this.listen(runId);
    try {
      const job: PipelineJob = {
        run_id: runId,
        pipeline: spec,
        inputs,
        policy: options.policy ?? spec.policy ?? 'fail_fast',
        submitted_at: Date.now(),
      };
      if (durable) await this.submitJob(job);
      else {
        await this.createRecord(job);
        void this.execute(job, 1, local);
      }
    } catch (error) {
      handle.close();
      throw error;
    }
    return handle;
  }

  /** `pipeline.run` over the wire: checks, then queues the run on the work-queue stream. */
  async submit(
    spec: PipelineSpec,
    inputs: Record<string, unknown>,
    options: { runId?: string; policy?: FailurePolicy } = {},
  ): Promise<{ run_id: string; events: string }> {
    this.analyse(spec, inputs);
    const runId = options.runId === undefined ? newRunId() : checkRunId(options.runId);
    await this.submitJob({
      run_id: runId,
      pipeline: spec,
      inputs,
      policy: options.policy ?? spec.policy ?? 'fail_fast',
      submitted_at: Date.now(),
    });
    return { run_id: runId, events: pipelineEventsSubject(this.prefix, runId) };
  }

  /** The run's record; 404 when unknown (or expired). */
  async get(runId: string): Promise<RunRecord> {
    const record = await this.store.getRecord(checkRunId(runId));
    if (record === undefined) {
      throw new DspexError(ErrorCode.NotFound, `run "${runId}" is unknown`, { details: { field: 'run_id' } });
    }
    return record;
  }

  private async submitJob(job: PipelineJob): Promise<void> {
    await this.createRecord(job);
    await this.store.submit(job);
  }

  private createRecord(job: PipelineJob): Promise<void> {
    return this.store.createRecord(job);
  }

  private specOf(pipeline: Pipeline | PipelineSpecInput): {
    spec: PipelineSpec;
    local: ReadonlyMap<string, StageFunction>;
  } {
    if (pipeline instanceof Pipeline) return { spec: pipeline.spec, local: pipeline.functions };
    return { spec: parseMessage(PipelineSpecSchema, pipeline, 'pipeline'), local: new Map() };
  }

  /** Subscribes to a run's events and watches its record. */
  private listen(runId: string): PipelineRun {
    return createRunHandle({ nc: this.o.nc, store: this.store, prefix: this.prefix, runId });
  }

  private publish(runId: string, event: PipelineEventBody): void {
    try {
      this.o.nc.publish(
        pipelineEventsSubject(this.prefix, runId),
        encode({ ...event, run_id: runId, ts: Date.now() }, Encoding.Msgpack),
      );
    } catch (error) {
      this.logger.warn({ err: error, run: runId }, 'could not publish a pipeline event');
    }
  }

  /** Runs one attempt of a run as a supervised run actor; resolves when it ends or is stopped. */
  private async execute(
    job: PipelineJob,
    attempt: number,
    local: ReadonlyMap<string, StageFunction>,
  ): Promise<RunEnd> {
    const runId = job.run_id;
    const node = this.o.nodeId;
    const started = Date.now();
    let graph: PipelineGraph;
    try {
      graph = analysePipeline(job.pipeline);
    } catch (error) {
      const wire =
        error instanceof DspexError
          ? error.toWire()
          : { code: 'internal', message: String(error), retryable: false };
      await this.store.putRecord({
        ...runRecordBase(job, node, attempt, started),
        status: 'failed',
        finished_at: Date.now(),
        error: wire,
      });
      return { persisted: true };
    }
    await this.store.putRecord({ ...runRecordBase(job, node, attempt, started), status: 'running' });

    const ended = new Promise<RunEnd>((resolve) => this.active.set(runId, { settle: resolve }));
    const { logic, input } = createRunActor({
      job,
      graph,
      attempt,
      node,
      started,
      store: this.store,
      options: this.options,
      predict: this.o.predict,
      lookup: (name) => local.get(name) ?? this.functions.get(name),
      publish: (event) => this.publish(runId, event),
      persisted: () => this.active.get(runId)?.settle({ persisted: true }),
    });
    this.root.send({
      type: 'supervisor.start_child',
      spec: { id: runId, logic, input, restart: 'transient' },
    });
    try {
      return await ended;
    } finally {
      this.active.delete(runId);
    }
  }

  /** Stops a run on this node (its job, if durable, goes back to the stream). */
  private abort(runId: string): void {
    this.root.send({ type: 'supervisor.terminate_child', id: runId });
    this.active.get(runId)?.settle({ persisted: false });
  }

  /** Runs in progress on this node. */
  get running(): string[] {
    return [...this.active.keys()];
  }

  async stop(): Promise<void> {
    await this.runner?.stop();
    for (const runId of [...this.active.keys()]) this.abort(runId);
    this.root.send({ type: 'supervisor.stop' });
    this.root.stop();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}

/** A run id given through the API becomes a subject token and a KV key: checked like the wire's. */
function checkRunId(runId: string): string {
  if (!isName(NameKind.Run, runId)) throw new ValidationError('run_id', nameRule(NameKind.Run));
  return runId;
}

function newRunId(): string {
  return `r-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}
