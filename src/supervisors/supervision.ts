/**
 * The supervisor's decisions as pure functions: each takes the context and one happening (a child
 * exit, a request) and returns the next context plus the effects to perform, in order. The machine in
 * `supervisor-machine.ts` only turns these effects into XState actions, so the order in which children
 * are stopped and started is decided (and testable) here.
 */
import type { DoneActorEvent, ErrorActorEvent } from 'xstate';
import type { ResolvedSupervisorOptions } from './options.js';
import { parseChildSpec } from './options.js';
import { recordRestart } from './restart-intensity.js';
import {
  ChildStatus,
  INTENSITY_EXCEEDED,
  RestartStrategy,
  RestartType,
  StopReason,
  SupervisorErrorCode,
  type ChildExit,
  type ChildFailure,
  type ChildSpec,
  type SupervisorEmitted,
  type SupervisorExit,
} from './types.js';

/** One child as the supervisor tracks it; `children` in the context keeps them in start order. */
export interface ChildRecord {
  spec: ChildSpec;
  restarts: number;
  status: ChildStatus;
}

/** The supervisor machine's context. */
export interface SupervisorContext {
  options: Omit<ResolvedSupervisorOptions, 'children'>;
  children: readonly ChildRecord[];
  /** Timestamps of recent restarts, for the intensity window. */
  restartHistory: readonly number[];
  /**
   * Per child id, exits still in our mailbox from instances that had already ended when the strategy
   * stopped them; they must not be mistaken for exits of the instances that replaced them.
   */
  staleExits: Readonly<Record<string, number>>;
  /** Set once the supervisor has decided to end; the machine then enters the matching final state. */
  exit: SupervisorExit | undefined;
}

/** Something the machine must do, in the order given. */
export type Effect =
  | { type: 'spawn'; spec: ChildSpec }
  | { type: 'stop'; id: string }
  | { type: 'emit'; event: SupervisorEmitted }
  /** Send `supervisor.restart_due` to self after `delayMs`, which calls {@link startPending}. */
  | { type: 'schedule_restart'; delayMs: number };

/** The result of one decision. */
export interface Step {
  context: SupervisorContext;
  effects: Effect[];
}

export function initialContext(options: ResolvedSupervisorOptions): SupervisorContext {
  const { children, ...rest } = options;
  return {
    options: rest,
    children: children.map((spec) => ({ spec, restarts: 0, status: ChildStatus.Running })),
    restartHistory: [],
    staleExits: {},
    exit: undefined,
  };
}

/** Starts the children of the initial spec, in order. */
export function startInitialChildren(context: SupervisorContext): Step {
  return { context, effects: context.children.flatMap((child) => start(child.spec)) };
}

/** Reads a child's exit from the event XState sent when it ended. */
export function exitFromEvent(event: DoneActorEvent<unknown> | ErrorActorEvent<unknown>): ChildExit {
  if ('error' in event) {
    const error = event.error;
    return {
      status: 'crashed',
      reason: error instanceof Error ? error.message : String(error),
      details: error,
    };
  }
  const output = event.output as { status?: unknown; reason?: unknown } | null | undefined;
  if (output?.status === 'crashed' && typeof output.reason === 'string') {
    // Kept whole so a child supervisor's `lastFailure` reaches the parent's `child.exited` listeners.
    return output as ChildExit;
  }
  return { status: 'stopped' };
}

/** Whether a child with this restart type gets a new instance after this exit. */
export function shouldRestart(restart: RestartType, exit: ChildExit): boolean {
  switch (restart) {
    case RestartType.Permanent:
      return true;
    case RestartType.Transient:
      return exit.status === 'crashed';
    case RestartType.Temporary:
      return false;
    default:
      return assertNever(restart);
  }
}

/** The positions (in start order) a strategy restarts when the child at `failed` must be restarted. */
export function restartScope(strategy: RestartStrategy, failed: number, count: number): number[] {
  const all = Array.from({ length: count }, (_, index) => index);
  switch (strategy) {
    case RestartStrategy.OneForOne:
      return [failed];
    case RestartStrategy.OneForAll:
      return all;
    case RestartStrategy.RestForOne:
      return all.slice(failed);
    default:
      return assertNever(strategy);
  }
}

/** A running child ended on its own (its ref is already done or errored). */
export function childExited(context: SupervisorContext, id: string, exit: ChildExit, now: number): Step {
  const failed = context.children.findIndex((child) => child.spec.id === id);
  const record = context.children[failed];
  if (record === undefined || record.status !== ChildStatus.Running) return { context, effects: [] };

  // The dead instance is stopped too, only to drop its ref from `snapshot.children`.
  const effects: Effect[] = [
    { type: 'stop', id },
    { type: 'emit', event: { type: 'child.exited', id, exit } },
  ];
  if (!shouldRestart(record.spec.restart, exit)) {
    const children =
      record.spec.restart === RestartType.Temporary
        ? context.children.filter((_, index) => index !== failed)
        : context.children.map((child, index) =>
            index === failed ? { ...child, status: ChildStatus.Exited } : child,
          );
    return { context: { ...context, children }, effects };
  }

  const check = recordRestart(context.restartHistory, now, context.options.intensity);
  const failure: ChildFailure = { child: id, reason: exit.status === 'crashed' ? exit.reason : 'normal' };
  if (!check.allowed) return escalate({ ...context, restartHistory: check.history }, failure, effects);

  const scope = new Set(restartScope(context.options.strategy, failed, context.children.length));
  for (const index of [...scope].reverse()) {
    const sibling = context.children[index];
    if (index !== failed && sibling?.status === ChildStatus.Running) {
      effects.push(...stop(sibling.spec.id, StopReason.Restart));
    }
  }
  const children = context.children.flatMap((child, index): ChildRecord[] => {
    if (!scope.has(index) || child.status !== ChildStatus.Running) return [child];
    // OTP forgets temporary siblings its strategy stopped rather than restarting them.
    if (index !== failed && child.spec.restart === RestartType.Temporary) return [];
    return [{ ...child, status: ChildStatus.Restarting }];
  });
  const next: SupervisorContext = { ...context, children, restartHistory: check.history };

  const { restartDelayMs } = context.options;
  if (restartDelayMs > 0)
    return { context: next, effects: [...effects, { type: 'schedule_restart', delayMs: restartDelayMs }] };
  const started = startPending(next);
  return { context: started.context, effects: [...effects, ...started.effects] };
}

/** Consumes one pending stale exit of `id`, if there is one. */
export function skipStaleExit(context: SupervisorContext, id: string): Step | undefined {
  const pending = context.staleExits[id] ?? 0;
  if (pending === 0) return undefined;
  return { context: { ...context, staleExits: { ...context.staleExits, [id]: pending - 1 } }, effects: [] };
}

/** Notes that each of `ids` has one exit in flight that belongs to an instance we already replaced. */
export function expectStaleExits(context: SupervisorContext, ids: readonly string[]): SupervisorContext {
  if (ids.length === 0) return context;
  const staleExits = { ...context.staleExits };
  for (const id of ids) staleExits[id] = (staleExits[id] ?? 0) + 1;
  return { ...context, staleExits };
}

/** Starts, in order, every child waiting to be restarted. */
export function startPending(context: SupervisorContext): Step {
  const effects: Effect[] = [];
  const children = context.children.map((child) => {
    if (child.status !== ChildStatus.Restarting) return child;
    const restarts = child.restarts + 1;
    effects.push(...start(child.spec), {
      type: 'emit',
      event: { type: 'child.restarted', id: child.spec.id, restarts },
    });
    return { ...child, restarts, status: ChildStatus.Running };
  });
  return { context: { ...context, children }, effects };
}

/** `supervisor.start_child`: appends a child to the start order and starts it. */
export function startChild(context: SupervisorContext, spec: unknown): Step {
  const parsed = parseChildSpec(spec);
  if (!parsed.ok) {
    const id = (spec as { id?: unknown } | null)?.id;
    return refuse(
      context,
      SupervisorErrorCode.InvalidChildSpec,
      typeof id === 'string' ? id : undefined,
      parsed.message,
    );
  }
  const { id } = parsed.spec;
  if (context.children.some((child) => child.spec.id === id)) {
    return refuse(
      context,
      SupervisorErrorCode.DuplicateChildId,
      id,
      `a child with id "${id}" already exists`,
    );
  }
  const children = [...context.children, { spec: parsed.spec, restarts: 0, status: ChildStatus.Running }];
  return { context: { ...context, children }, effects: start(parsed.spec) };
}

/** `supervisor.terminate_child`: stops the child if it runs and forgets it. */
export function terminateChild(context: SupervisorContext, id: string): Step {
  const record = context.children.find((child) => child.spec.id === id);
  if (record === undefined)
    return refuse(context, SupervisorErrorCode.UnknownChild, id, `no child with id "${id}"`);
  const children = context.children.filter((child) => child !== record);
  const effects = record.status === ChildStatus.Running ? stop(id, StopReason.Terminated) : [];
  return { context: { ...context, children }, effects };
}

/** `supervisor.stop`: stops every running child, last started first, and ends normally. */
export function shutdown(context: SupervisorContext): Step {
  return {
    context: { ...context, exit: { status: 'stopped' } },
    effects: stopAllRunning(context, StopReason.Shutdown),
  };
}

function escalate(context: SupervisorContext, lastFailure: ChildFailure, effects: Effect[]): Step {
  const supervisor = context.options.id;
  return {
    context: { ...context, exit: { status: 'crashed', reason: INTENSITY_EXCEEDED, supervisor, lastFailure } },
    effects: [
      ...effects,
      { type: 'emit', event: { type: 'supervisor.escalated', id: supervisor, lastFailure } },
      ...stopAllRunning(context, StopReason.Escalation, lastFailure.child),
    ],
  };
}

function stopAllRunning(context: SupervisorContext, reason: StopReason, except?: string): Effect[] {
  return [...context.children]
    .reverse()
    .filter((child) => child.status === ChildStatus.Running && child.spec.id !== except)
    .flatMap((child) => stop(child.spec.id, reason));
}

function start(spec: ChildSpec): Effect[] {
  return [
    { type: 'spawn', spec },
    { type: 'emit', event: { type: 'child.started', id: spec.id } },
  ];
}

function stop(id: string, reason: StopReason): Effect[] {
  return [
    { type: 'stop', id },
    { type: 'emit', event: { type: 'child.stopped', id, reason } },
  ];
}

function refuse(
  context: SupervisorContext,
  code: SupervisorErrorCode,
  id: string | undefined,
  message: string,
): Step {
  return { context, effects: [{ type: 'emit', event: { type: 'supervisor.error', code, id, message } }] };
}

export function assertNever(value: never): never {
  throw new Error(`unexpected value: ${String(value)}`);
}
