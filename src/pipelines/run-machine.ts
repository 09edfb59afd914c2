/**
 * One pipeline run as an XState actor. It loads the run's checkpoints (a resumed run restores the
 * stages an earlier attempt finished), starts every stage whose inputs are ready as a
 * {@link stageMachine} actor (independent stages run in parallel), applies the failure policy when a
 * stage fails (`fail_fast` stops the others; `continue` skips only what depends on the failure),
 * persists the outcome through the injected `finish` actor and ends with it. Pure: checkpoints, the
 * stages' work and the event stream are injected (`load`, `finish`, `publish`, and the stage logic
 * in the input).
 *
 * The stages run under the run's own supervisor (`$stages`: rest_for_one, transient stages). A
 * stage that crashes (a throw, not a failed stage: that is a result) is restarted with the stages
 * started after it. Stages start in dependency order, so those include every stage that may have read
 * its outputs; each restarted stage starts over with the inputs and item checkpoints it was first
 * given. Past the intensity the supervisor gives up and escalates to the run, which fails the stage
 * that crashed, skips the rest and finishes: a crash that repeats fails the run once instead of
 * restarting it forever.
 */
import {
  enqueueActions,
  fromPromise,
  setup,
  type AnyActorLogic,
  type AnyActorRef,
  type DoneActorEvent,
  type ErrorActorEvent,
} from 'xstate';
import { ErrorCode, type WireError } from '../errors.js';
import type { RestartIntensity } from '../supervisors/options.js';
import { supervisorMachine } from '../supervisors/supervisor-machine.js';
import type { Clock, SupervisorEvent, SupervisorExit } from '../supervisors/types.js';
import type { FailurePolicy, PipelineEventBody } from '../protocol/pipelines.js';
import type { PipelineGraph } from './graph.js';
import {
  initialStages,
  outcome,
  progress,
  schedule,
  settled,
  type Checkpoints,
  type RunOutcome,
  type StageLimits,
  type StageState,
} from './run-plan.js';
import {
  wireErrorOf,
  type stageMachine,
  type StageInput,
  type StageResult,
  type StageResultEvent,
} from './stage-machine.js';

/** Per-stage settings a stage spec may override. */
export interface StageDefaults {
  timeoutMs: number;
  retries: number;
  backoffMs: number;
}

export interface RunInput {
  runId: string;
  graph: PipelineGraph;
  inputs: Record<string, unknown>;
  policy: FailurePolicy;
  /** The node running this attempt, and which delivery of the job it is (1 = first). */
  node: string;
  attempt: number;
  limits: StageLimits;
  defaults: StageDefaults;
  now: () => number;
  /** The stage logic: {@link stageMachine} with its effects (`execute`, `save`, `notify`) provided. */
  stage: AnyActorLogic;
  /**
   * Stage crashes tolerated before the run gives up on its stages (and fails).
   * @default { maxRestarts: 3, periodMs: 60000 }
   */
  stageIntensity?: RestartIntensity;
  /** The clock of the stage intensity window. @default Date.now */
  clock?: Clock;
}

/** How the run actor ends: the outcome, and whether `finish` persisted it. */
export interface RunExit {
  status: 'stopped';
  outcome: RunOutcome;
  persisted: boolean;
  durationMs: number;
}

/** Default intensity of a run's stage supervisor. */
export const STAGE_INTENSITY = { maxRestarts: 3, periodMs: 60_000 } as const;

export interface RunContext {
  input: RunInput;
  stages: Record<string, StageState>;
  items: Checkpoints['items'];
  startedAt: number;
  outcome: RunOutcome | undefined;
  persisted: boolean;
}

const STAGE = 'stage:';
/** The id of the run's stage supervisor. */
export const STAGES = '$stages';

/** Keeps this module's type of the stage logic honest without importing the machine itself. */
export type StageLogic = typeof stageMachine;

const runSetup = setup({
  types: {
    input: {} as RunInput,
    context: {} as RunContext,
    events: {} as DoneActorEvent<unknown> | ErrorActorEvent<unknown> | StageResultEvent,
    output: {} as RunExit,
  },
  actors: {
    /** Reads the run's checkpoints. Injected. */
    load: fromPromise<Checkpoints, { runId: string }>(() => Promise.resolve({ stages: {}, items: {} })),
    /** The run's stage supervisor. */
    stages: supervisorMachine,
    /** Persists the outcome (the run record). Injected. */
    finish: fromPromise<void, { runId: string; outcome: RunOutcome; durationMs: number }>(() =>
      Promise.resolve(),
    ),
  },
  actions: {
    /** Publishes one event of the run. Injected. */
    publish: (_, _params: { event: PipelineEventBody }) => undefined,
  },
});

type Enqueue = Parameters<Parameters<typeof runSetup.enqueueActions>[0]>[0]['enqueue'];

function publish(enqueue: Enqueue, event: PipelineEventBody): void {
  enqueue({ type: 'publish', params: { event } });
}

function toStages(enqueue: Enqueue, event: SupervisorEvent): void {
  enqueue.sendTo(STAGES, event);
}

/** Starts what can start now, announcing starts, skips and early failures; returns the new stages. */
function advance(
  context: RunContext,
  stages: Record<string, StageState>,
  enqueue: Enqueue,
  self: AnyActorRef,
): Record<string, StageState> {
  const { graph, inputs, policy, limits, defaults, runId, now } = context.input;
  const plan = schedule(graph, stages, inputs, policy, limits);
  for (const { id, error } of plan.failed) publish(enqueue, { type: 'stage.failed', stage: id, error });
  for (const { id, reason } of plan.skipped) publish(enqueue, { type: 'stage.skipped', stage: id, reason });
  for (const start of plan.start) {
    const spec = graph.stages.get(start.id)!.spec;
    const input: StageInput = {
      runId,
      stage: start.id,
      inputs: start.inputs,
      ...(start.map !== undefined && { map: start.map }),
      ...(context.items[start.id] !== undefined && { restored: context.items[start.id] }),
      timeoutMs: spec.timeout_ms ?? defaults.timeoutMs,
      retries: spec.retries ?? defaults.retries,
      backoffMs: spec.backoff_ms ?? defaults.backoffMs,
      now,
      report: self,
    };
    publish(enqueue, {
      type: 'stage.started',
      stage: start.id,
      ...(start.map !== undefined && { items: start.map.items.length }),
    });
    toStages(enqueue, {
      type: 'supervisor.start_child',
      spec: { id: STAGE + start.id, logic: context.input.stage, input, restart: 'transient' },
    });
  }
  let next = plan.stages;
  if (plan.failed.length > 0 && policy === 'fail_fast') next = stopAll(next, plan.failed[0]!.id, enqueue);
  if (plan.failed.length > 0 || plan.skipped.length > 0) {
    publish(enqueue, { type: 'progress', ...progress(next, now() - context.startedAt) });
  }
  return next;
}

/** `fail_fast`: stops every running stage and skips everything not finished. */
function stopAll(
  stages: Record<string, StageState>,
  culprit: string,
  enqueue: Enqueue,
): Record<string, StageState> {
  const next = { ...stages };
  const reason = `run failed fast: stage "${culprit}" failed`;
  for (const [id, s] of Object.entries(stages)) {
    if (s.status === 'running') toStages(enqueue, { type: 'supervisor.terminate_child', id: STAGE + id });
    if (s.status === 'running' || s.status === 'pending') {
      next[id] = { status: 'skipped', reason };
      publish(enqueue, { type: 'stage.skipped', stage: id, reason });
    }
  }
  return next;
}

const onStageEnd = runSetup.enqueueActions(({ context, event, enqueue, self }) => {
  if (event.type !== 'stage.result') return;
  const id = event.stage;
  // A stage stopped by `fail_fast` may still report; its state is already decided.
  if (context.stages[id]?.status !== 'running') return;
  const result: StageResult = event.result;
  let stages = { ...context.stages };
  if (result.status === 'completed') {
    stages[id] = { status: 'completed', outputs: result.outputs, durationMs: result.durationMs };
    publish(enqueue, {
      type: 'stage.completed',
      stage: id,
      outputs: result.outputs,
      duration_ms: result.durationMs,
    });
  } else {
    stages[id] = { status: 'failed', error: result.error, durationMs: result.durationMs };
    publish(enqueue, { type: 'stage.failed', stage: id, error: result.error });
  }
  publish(enqueue, { type: 'progress', ...progress(stages, context.input.now() - context.startedAt) });
  if (result.status === 'failed' && context.input.policy === 'fail_fast')
    stages = stopAll(stages, id, enqueue);
  else stages = advance(context, stages, enqueue, self);
  enqueue.assign({ stages });
});

/**
 * The stage supervisor ended: it gave up (or could not start). No stage can run any more: the one
 * that crashed too often fails with that error, the others are skipped, and the run finishes with
 * that outcome (a deterministic crash fails the run once rather than restarting it forever).
 */
const onStagesExit = runSetup.enqueueActions(({ context, event, enqueue }) => {
  const exit = 'output' in event ? (event.output as SupervisorExit | undefined) : undefined;
  const culprit =
    exit?.status === 'crashed' && exit.lastFailure.child.startsWith(STAGE)
      ? exit.lastFailure.child.slice(STAGE.length)
      : undefined;
  const why =
    exit?.status === 'crashed'
      ? exit.lastFailure.reason
      : wireErrorOf('error' in event ? event.error : 'the stage supervisor stopped').message;
  const stages = { ...context.stages };
  for (const [id, stage] of Object.entries(context.stages)) {
    if (id === culprit && stage.status === 'running') {
      const error: WireError = {
        code: ErrorCode.Internal,
        message: `stage "${id}" crashed more often than its supervisor allows: ${why}`,
        retryable: false,
      };
      stages[id] = { status: 'failed', error, durationMs: 0 };
      publish(enqueue, { type: 'stage.failed', stage: id, error });
    } else if (stage.status === 'running' || stage.status === 'pending') {
      const reason = `the run's stage supervisor gave up (${culprit === undefined ? why : `stage "${culprit}" crashed`})`;
      stages[id] = { status: 'skipped', reason };
      publish(enqueue, { type: 'stage.skipped', stage: id, reason });
    }
  }
  enqueue.assign({ stages });
});

function finalOutcome(context: RunContext): RunOutcome {
  return (
    context.outcome ??
    outcome(context.input.graph, context.stages, context.input.policy, context.input.inputs)
  );
}

/** The run logic; provide `load`, `finish` and `publish` before use, and pass the stage logic in the input. */
export const runMachine = runSetup.createMachine({
  id: 'run',
  context: ({ input }) => ({
    input,
    stages: {},
    items: {},
    startedAt: input.now(),
    outcome: undefined,
    persisted: false,
  }),
  invoke: {
    id: STAGES,
    src: 'stages',
    input: ({ context }) => ({
      id: `${context.input.runId}.stages`,
      strategy: 'rest_for_one' as const,
      intensity: context.input.stageIntensity ?? STAGE_INTENSITY,
      ...(context.input.clock !== undefined && { clock: context.input.clock }),
    }),
  },
  initial: 'loading',
  states: {
    loading: {
      invoke: {
        id: '$load',
        src: 'load',
        input: ({ context }) => ({ runId: context.input.runId }),
        onDone: {
          target: 'running',
          actions: enqueueActions(({ context, event, enqueue, self }) => {
            const stages = initialStages(context.input.graph, event.output);
            const restored = Object.entries(stages)
              .filter(([, s]) => s.restored === true)
              .map(([id]) => id);
            publish(enqueue, {
              type: 'run.started',
              node: context.input.node,
              attempt: context.input.attempt,
              total: context.input.graph.order.length,
              restored,
            });
            const next = advance({ ...context, items: event.output.items }, stages, enqueue, self);
            enqueue.assign({ stages: next, items: event.output.items });
          }),
        },
        onError: {
          target: 'finishing',
          actions: enqueueActions(({ context, event, enqueue }) => {
            const error: WireError = wireErrorOf(event.error);
            enqueue.assign({
              outcome: {
                status: 'failed',
                outputs: {},
                stages: {},
                failures: [],
                skipped: [...context.input.graph.order],
                error: { ...error, message: `loading checkpoints failed: ${error.message}` },
              },
            });
          }),
        },
      },
    },
    running: {
      always: { guard: ({ context }) => settled(context.stages), target: 'finishing' },
      on: {
        'stage.result': { actions: onStageEnd },
        [`xstate.done.actor.${STAGES}`]: { actions: onStagesExit },
        [`xstate.error.actor.${STAGES}`]: { actions: onStagesExit },
      },
    },
    finishing: {
      entry: enqueueActions(({ context, enqueue }) => enqueue.assign({ outcome: finalOutcome(context) })),
      invoke: {
        id: '$finish',
        src: 'finish',
        input: ({ context }) => ({
          runId: context.input.runId,
          outcome: finalOutcome(context),
          durationMs: context.input.now() - context.startedAt,
        }),
        onDone: {
          target: 'done',
          actions: enqueueActions(({ context, enqueue }) => {
            enqueue.assign({ persisted: true });
            const o = finalOutcome(context);
            const durationMs = context.input.now() - context.startedAt;
            const common = {
              stages: o.stages,
              failures: o.failures,
              skipped: o.skipped,
              duration_ms: durationMs,
            };
            if (o.status === 'failed') {
              publish(enqueue, { type: 'run.failed', error: o.error!, ...common });
            } else {
              publish(enqueue, { type: 'run.completed', status: o.status, outputs: o.outputs, ...common });
            }
          }),
        },
        onError: 'done',
      },
    },
    done: { type: 'final' },
  },
  output: ({ context }): RunExit => ({
    status: 'stopped',
    outcome: finalOutcome(context),
    persisted: context.persisted,
    durationMs: context.input.now() - context.startedAt,
  }),
});
