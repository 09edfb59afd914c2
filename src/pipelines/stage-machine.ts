/**
 * One stage of one run as an XState actor. A stage is one unit of work, or one per element of its
 * mapped list (fan-out); the actor runs the units with a concurrency bound, gives each attempt a
 * timeout, retries retryable failures with exponential backoff, checkpoints the result through the
 * injected `save` actor and ends with a {@link StageResult}. Pure: the work itself is the injected
 * `execute` actor (its `signal` aborts when an attempt times out or the stage is stopped), and
 * attempt-level news goes out through the injected `notify` action.
 */
import {
  enqueueActions,
  fromPromise,
  setup,
  type AnyActorRef,
  type DoneActorEvent,
  type ErrorActorEvent,
} from 'xstate';
import { DspexError, ErrorCode, isDspexError, type WireError } from '../errors.js';

/** What the injected `execute` actor receives: one attempt of one unit. */
export interface ExecuteInput {
  runId: string;
  stage: string;
  /** The stage's inputs, with the mapped input replaced by this unit's element. */
  inputs: Record<string, unknown>;
  /** Element index of a mapped stage. */
  item: number | undefined;
  /** 1 for the first attempt. */
  attempt: number;
  /** Time this attempt has before the stage gives up on it. */
  timeoutMs: number;
}

/** How a stage ended. */
export type StageResult =
  | { status: 'completed'; outputs: Record<string, unknown>; durationMs: number }
  | { status: 'failed'; error: WireError; durationMs: number };

/** Attempt-level news, for the run's event stream. */
export type StageNotice = {
  type: 'retrying';
  runId: string;
  stage: string;
  item: number | undefined;
  attempt: number;
  delayMs: number;
  error: WireError;
};

export interface StageInput {
  runId: string;
  stage: string;
  inputs: Record<string, unknown>;
  /** Fan-out: the input `over` holds `items`; each element is one unit. */
  map?: { over: string; items: readonly unknown[]; concurrency: number };
  /** Outputs of units finished by an earlier attempt of the run (item checkpoints). */
  restored?: Readonly<Record<number, Record<string, unknown>>>;
  timeoutMs: number;
  retries: number;
  backoffMs: number;
  now: () => number;
  /**
   * Gets a {@link StageResultEvent} when the stage ends: its run, which supervises its stages through
   * a supervisor in between and so never sees the stage's own output.
   */
  report?: AnyActorRef;
}

/** What a stage sends its `report` actor when it ends. */
export interface StageResultEvent {
  type: 'stage.result';
  stage: string;
  result: StageResult;
}

type UnitStatus = 'pending' | 'running' | 'waiting' | 'done';
interface Unit {
  status: UnitStatus;
  /** The attempt running or last run; 0 before the first. */
  attempt: number;
  outputs?: Record<string, unknown>;
}

export interface StageContext {
  input: StageInput;
  units: Unit[];
  startedAt: number;
  result: StageResult | undefined;
}

type UnitEvent =
  { type: 'unit.timeout'; index: number; attempt: number } | { type: 'unit.retry'; index: number };
type StageEvent = UnitEvent | DoneActorEvent<unknown> | ErrorActorEvent<unknown>;

type Effect =
  | { type: 'spawn'; index: number; attempt: number }
  | { type: 'stop'; index: number; attempt: number }
  | { type: 'later'; event: UnitEvent; delayMs: number; id: string }
  | { type: 'cancel'; id: string }
  | { type: 'notify'; notice: StageNotice };

interface Step {
  context: StageContext;
  effects: Effect[];
}

const unitId = (index: number, attempt: number): string => `u${index}.${attempt}`;
const timerId = (index: number, attempt: number): string => `t${index}.${attempt}`;

/** Any thrown value as a wire error; only a {@link DspexError} can be retryable. */
export function wireErrorOf(error: unknown): WireError {
  if (isDspexError(error)) return error.toWire();
  const message = error instanceof Error ? error.message : String(error);
  return { code: ErrorCode.Internal, message, retryable: false };
}

function initialContext(input: StageInput): StageContext {
  const count = input.map === undefined ? 1 : input.map.items.length;
  const units = Array.from({ length: count }, (_, i): Unit => {
    const outputs = input.restored?.[i];
    return outputs === undefined
      ? { status: 'pending', attempt: 0 }
      : { status: 'done', attempt: 0, outputs };
  });
  return { input, units, startedAt: input.now(), result: undefined };
}

/** Starts pending units while the concurrency bound allows. */
function launch(context: StageContext): Step {
  const limit = context.input.map?.concurrency ?? 1;
  let running = context.units.filter((u) => u.status === 'running').length;
  const effects: Effect[] = [];
  const units = context.units.map((unit, index) => {
    if (unit.status !== 'pending' || running >= limit) return unit;
    running++;
    const attempt = unit.attempt + 1;
    effects.push(
      { type: 'spawn', index, attempt },
      {
        type: 'later',
        event: { type: 'unit.timeout', index, attempt },
        delayMs: context.input.timeoutMs,
        id: timerId(index, attempt),
      },
    );
    return { ...unit, status: 'running' as const, attempt };
  });
  return finishIfDone({ context: { ...context, units }, effects });
}

function finishIfDone(step: Step): Step {
  const { context } = step;
  if (context.result !== undefined || !context.units.every((u) => u.status === 'done')) return step;
  const outputs = context.input.map === undefined ? context.units[0]!.outputs! : gather(context.units);
  const result: StageResult = {
    status: 'completed',
    outputs,
    durationMs: context.input.now() - context.startedAt,
  };
  return { context: { ...context, result }, effects: step.effects };
}

/** A mapped stage's outputs: each output field as the list of the units' values, in item order. */
function gather(units: readonly Unit[]): Record<string, unknown> {
  const fields = [...new Set(units.flatMap((u) => Object.keys(u.outputs ?? {})))];
  return Object.fromEntries(fields.map((f) => [f, units.map((u) => u.outputs?.[f] ?? null)]));
}

function unitOf(actorId: string): { index: number; attempt: number } | undefined {
  const m = /^u(\d+)\.(\d+)$/.exec(actorId);
  return m === null ? undefined : { index: Number(m[1]), attempt: Number(m[2]) };
}

function isCurrent(context: StageContext, index: number, attempt: number): boolean {
  const unit = context.units[index];
  return context.result === undefined && unit?.status === 'running' && unit.attempt === attempt;
}

function succeeded(context: StageContext, index: number, attempt: number, outputs: unknown): Step {
  if (!isCurrent(context, index, attempt)) return { context, effects: [] };
  const value =
    typeof outputs === 'object' && outputs !== null && !Array.isArray(outputs)
      ? (outputs as Record<string, unknown>)
      : { value: outputs };
  const units = context.units.map((u, i) =>
    i === index ? { ...u, status: 'done' as const, outputs: value } : u,
  );
  const step = launch({ ...context, units });
  return {
    context: step.context,
    effects: [{ type: 'cancel', id: timerId(index, attempt) }, ...step.effects],
  };
}

/** An attempt failed (an error, or its timeout): retry it if retryable and allowed, else fail the stage. */
function attemptFailed(context: StageContext, index: number, attempt: number, error: WireError): Step {
  if (!isCurrent(context, index, attempt)) return { context, effects: [] };
  const effects: Effect[] = [{ type: 'cancel', id: timerId(index, attempt) }];
  const { retries, backoffMs } = context.input;
  if (error.retryable && attempt <= retries) {
    const delayMs = backoffMs * 2 ** (attempt - 1);
    const units = context.units.map((u, i) => (i === index ? { ...u, status: 'waiting' as const } : u));
    const item = context.input.map === undefined ? undefined : index;
    effects.push(
      {
        type: 'notify',
        notice: {
          type: 'retrying',
          runId: context.input.runId,
          stage: context.input.stage,
          item,
          attempt,
          delayMs,
          error,
        },
      },
      { type: 'later', event: { type: 'unit.retry', index }, delayMs, id: `r${index}.${attempt}` },
    );
    return { context: { ...context, units }, effects };
  }
  // The stage fails: stop its other running units; their late replies are ignored.
  context.units.forEach((u, i) => {
    if (i !== index && u.status === 'running') {
      effects.push(
        { type: 'stop', index: i, attempt: u.attempt },
        { type: 'cancel', id: timerId(i, u.attempt) },
      );
    }
  });
  const item = context.input.map === undefined ? '' : ` (item ${index})`;
  const failure: WireError = {
    ...error,
    message: `stage "${context.input.stage}"${item}: ${error.message}`,
    details: {
      ...error.details,
      stage: context.input.stage,
      ...(item === '' ? {} : { item: index }),
      attempts: attempt,
    },
  };
  const result: StageResult = {
    status: 'failed',
    error: failure,
    durationMs: context.input.now() - context.startedAt,
  };
  return { context: { ...context, result }, effects };
}

function timedOut(context: StageContext, index: number, attempt: number): Step {
  if (!isCurrent(context, index, attempt)) return { context, effects: [] };
  const error = new DspexError(
    ErrorCode.DeadlineExceeded,
    `attempt ${attempt} timed out after ${context.input.timeoutMs} ms`,
  ).toWire();
  const step = attemptFailed(context, index, attempt, error);
  return { context: step.context, effects: [{ type: 'stop', index, attempt }, ...step.effects] };
}

function retryDue(context: StageContext, index: number): Step {
  const unit = context.units[index];
  if (context.result !== undefined || unit?.status !== 'waiting') return { context, effects: [] };
  const units = context.units.map((u, i) => (i === index ? { ...u, status: 'pending' as const } : u));
  return launch({ ...context, units });
}

const stageSetup = setup({
  types: {
    input: {} as StageInput,
    context: {} as StageContext,
    events: {} as StageEvent,
    output: {} as StageResult,
  },
  actors: {
    /** Runs one attempt of one unit; resolves to its outputs (a map). Injected. */
    execute: fromPromise<Record<string, unknown>, ExecuteInput>(() => {
      throw new Error('stageMachine: provide the execute actor');
    }),
    /** Checkpoints the stage's result. Injected. */
    save: fromPromise<void, { stage: string; result: StageResult }>(() => Promise.resolve()),
  },
  actions: {
    /** Attempt-level news (retries). Injected. */
    notify: (_, _params: { notice: StageNotice }) => undefined,
  },
});

function perform(decide: (context: StageContext, event: StageEvent) => Step) {
  return stageSetup.enqueueActions(({ context, event, enqueue }) => {
    const step = decide(context, event);
    enqueue.assign(() => step.context);
    for (const effect of step.effects) {
      switch (effect.type) {
        case 'spawn': {
          const { index, attempt } = effect;
          const map = context.input.map;
          const inputs =
            map === undefined
              ? context.input.inputs
              : { ...context.input.inputs, [map.over]: map.items[index] };
          const input: ExecuteInput = {
            runId: context.input.runId,
            stage: context.input.stage,
            inputs,
            item: map === undefined ? undefined : index,
            attempt,
            timeoutMs: context.input.timeoutMs,
          };
          enqueue.spawnChild('execute', { id: unitId(index, attempt), input });
          break;
        }
        case 'stop':
          enqueue.stopChild(unitId(effect.index, effect.attempt));
          break;
        case 'later':
          enqueue.raise(effect.event, { delay: effect.delayMs, id: effect.id });
          break;
        case 'cancel':
          enqueue.cancel(effect.id);
          break;
        case 'notify':
          enqueue({ type: 'notify', params: { notice: effect.notice } });
          break;
        default: {
          const never: never = effect;
          throw new Error(`unknown effect ${String(never)}`);
        }
      }
    }
  });
}

const onUnitDone = perform((context, event) => {
  if (!event.type.startsWith('xstate.done.actor.')) return { context, effects: [] };
  const done = event as DoneActorEvent<unknown>;
  const unit = unitOf(done.actorId ?? '');
  return unit === undefined
    ? { context, effects: [] }
    : succeeded(context, unit.index, unit.attempt, done.output);
});

const onUnitError = perform((context, event) => {
  if (!event.type.startsWith('xstate.error.actor.')) return { context, effects: [] };
  const failed = event as ErrorActorEvent<unknown>;
  const unit = unitOf(failed.actorId ?? '');
  return unit === undefined
    ? { context, effects: [] }
    : attemptFailed(context, unit.index, unit.attempt, wireErrorOf(failed.error));
});

/** The stage logic; provide `execute` (and `save`, `notify`) before use. */
export const stageMachine = stageSetup.createMachine({
  id: 'stage',
  context: ({ input }) => initialContext(input),
  initial: 'running',
  states: {
    running: {
      entry: perform((context) => launch(context)),
      always: { guard: ({ context }) => context.result !== undefined, target: 'saving' },
      on: {
        'xstate.done.actor.*': { actions: onUnitDone },
        'xstate.error.actor.*': { actions: onUnitError },
        'unit.timeout': {
          actions: perform((context, event) =>
            event.type === 'unit.timeout'
              ? timedOut(context, event.index, event.attempt)
              : { context, effects: [] },
          ),
        },
        'unit.retry': {
          actions: perform((context, event) =>
            event.type === 'unit.retry' ? retryDue(context, event.index) : { context, effects: [] },
          ),
        },
      },
    },
    saving: {
      invoke: {
        src: 'save',
        input: ({ context }) => ({ stage: context.input.stage, result: context.result! }),
        onDone: 'finished',
        onError: {
          target: 'finished',
          actions: enqueueActions(({ enqueue, context, event }) => {
            const error = wireErrorOf(event.error);
            enqueue.assign({
              result: {
                status: 'failed',
                error: {
                  ...error,
                  message: `stage "${context.input.stage}": checkpoint failed: ${error.message}`,
                },
                durationMs: context.result?.durationMs ?? 0,
              },
            });
          }),
        },
      },
    },
    finished: {
      type: 'final',
      entry: enqueueActions(({ context, enqueue }) => {
        const { report, stage } = context.input;
        if (report === undefined) return;
        const event: StageResultEvent = { type: 'stage.result', stage, result: context.result! };
        enqueue.sendTo(report, event);
      }),
    },
  },
  output: ({ context }) => context.result!,
});
