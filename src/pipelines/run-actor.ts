/**
 * One attempt of one run as a supervised actor: the {@link runMachine} and its
 * {@link stageMachine}s with their effects provided (checkpoints and records in the {@link RunStore},
 * stage work through the stage executor, events through `publish`), and its input.
 */
import { fromPromise, type AnyActorLogic } from 'xstate';
import type { PipelineEventBody, PipelineJob, RunRecord } from '../protocol/pipelines.js';
import type { PipelineGraph } from './graph.js';
import type { ResolvedPipelinesOptions } from './options.js';
import { runMachine, type RunInput } from './run-machine.js';
import type { RunOutcome } from './run-plan.js';
import type { RunStore } from './run-store.js';
import { executeStage, type PredictFn, type StageFunction } from './stage-executor.js';
import { stageMachine } from './stage-machine.js';

export interface RunActorOptions {
  job: PipelineJob;
  graph: PipelineGraph;
  /** Which delivery of the job this is (1 = first). */
  attempt: number;
  node: string;
  /** When this attempt started (the record's `started_at`). */
  started: number;
  store: RunStore;
  options: ResolvedPipelinesOptions;
  predict: PredictFn;
  lookup: (name: string) => StageFunction | undefined;
  publish: (event: PipelineEventBody) => void;
  /** Called once the outcome is persisted in the run record. */
  persisted: () => void;
}

/** The run actor's logic and input, ready for a supervisor's `start_child`. */
export function createRunActor(o: RunActorOptions): { logic: AnyActorLogic; input: RunInput } {
  const { job, graph, attempt, node, started, store, options } = o;
  const runId = job.run_id;
  const deps = { predict: o.predict, lookup: o.lookup };
  const stage = stageMachine.provide({
    actors: {
      execute: fromPromise(async ({ input, signal }) => {
        const outputs = await executeStage(graph.stages.get(input.stage)!.spec, input, signal, deps);
        if (input.item !== undefined) await store.saveItem(runId, input.stage, input.item, outputs);
        return outputs;
      }),
      save: fromPromise(async ({ input }) => {
        const r = input.result;
        await store.saveStage(
          runId,
          input.stage,
          r.status === 'completed'
            ? { status: 'completed', outputs: r.outputs, duration_ms: r.durationMs, node }
            : { status: 'failed', error: r.error, duration_ms: r.durationMs, node },
        );
      }),
    },
    actions: {
      notify: (_, { notice }) =>
        o.publish({
          type: 'stage.retrying',
          stage: notice.stage,
          ...(notice.item !== undefined && { item: notice.item }),
          attempt: notice.attempt,
          delay_ms: notice.delayMs,
          error: notice.error,
        }),
    },
  });
  const logic = runMachine.provide({
    actors: {
      load: fromPromise(() => store.loadCheckpoints(runId)),
      finish: fromPromise(
        async ({ input }: { input: { runId: string; outcome: RunOutcome; durationMs: number } }) => {
          const out = input.outcome;
          await store.putRecord({
            ...runRecordBase(job, node, attempt, started),
            status: out.status,
            finished_at: Date.now(),
            stages: out.stages,
            outputs: out.outputs,
            failures: out.failures,
            skipped: out.skipped,
            ...(out.error !== undefined && { error: out.error }),
          });
          o.persisted();
        },
      ),
    },
    actions: { publish: (_, { event }) => o.publish(event) },
  });
  const input: RunInput = {
    runId,
    graph,
    inputs: job.inputs,
    policy: job.policy,
    node,
    attempt,
    limits: { maxItems: options.maxItems, concurrency: options.concurrency },
    defaults: {
      timeoutMs: options.stageTimeoutMs,
      retries: options.retries,
      backoffMs: options.backoffMs,
    },
    now: Date.now,
    stage,
  };
  return { logic, input };
}

/** The fields every record of this attempt shares. */
export function runRecordBase(job: PipelineJob, node: string, attempt: number, started: number): RunRecord {
  return {
    run_id: job.run_id,
    pipeline: job.pipeline.name,
    status: 'running',
    node,
    attempt,
    submitted_at: job.submitted_at,
    started_at: started,
  };
}
