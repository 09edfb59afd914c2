/**
 * The vocabulary of supervision: how children are declared, how they end, what a supervisor reports.
 * Shared by the pure planning code (`supervision.ts`) and the XState machine (`supervisor-machine.ts`).
 */
import type { AnyActorLogic } from 'xstate';

/** How a supervisor reacts when one child has to be restarted (OTP's restart strategies). */
export const RestartStrategy = {
  /** Restart only the child that exited. */
  OneForOne: 'one_for_one',
  /** Stop every other child (reverse start order), then restart all of them in start order. */
  OneForAll: 'one_for_all',
  /** Stop the children started after the one that exited (reverse order), then restart it and them in order. */
  RestForOne: 'rest_for_one',
} as const;
export type RestartStrategy = (typeof RestartStrategy)[keyof typeof RestartStrategy];

/** Whether a child is restarted when it exits (OTP's restart types). */
export const RestartType = {
  /** Always restarted, whether it crashed or stopped normally. */
  Permanent: 'permanent',
  /** Restarted only after an abnormal exit (a crash); a normal exit leaves it `exited`. */
  Transient: 'transient',
  /** Never restarted: when it exits, or is stopped by its supervisor's strategy, it is forgotten. */
  Temporary: 'temporary',
} as const;
export type RestartType = (typeof RestartType)[keyof typeof RestartType];

/**
 * Declares one supervised child.
 *
 * @example
 * ```ts
 * const spec: ChildSpec = { id: 'worker-1', logic: workerMachine, input: { pool: 'general' }, restart: 'permanent' };
 * ```
 */
export interface ChildSpec {
  /** Unique among the supervisor's children; also the XState child id (`snapshot.children[id]`). */
  id: string;
  /**
   * Any XState v5 actor logic: a machine, a promise or callback actor, or another supervisor.
   * Machines should end in a top-level final state whose output is a {@link ChildExit}. They should
   * not throw to signal failure: XState v5 does not stop the invoked or spawned actors of a machine
   * that errors, so whatever those hold (a process, a subscription) would outlive it.
   */
  logic: AnyActorLogic;
  /** Passed unchanged to every instance of this child, the first and each restart. */
  input?: unknown;
  /** When the child is restarted; see {@link RestartType}. */
  restart: RestartType;
}

/**
 * How a child ended: the output child machines should give their top-level final state.
 *
 * - `{status: 'stopped'}` (or no output at all) is a normal exit.
 * - `{status: 'crashed', reason}` is an abnormal exit, as is an `xstate.error.actor.*` event (a thrown
 *   error or a rejected promise); the error's message becomes `reason` and the error itself `details`.
 *
 * Any other output also counts as normal: a promise actor that resolves has done its job.
 */
export type ChildExit = { status: 'stopped' } | { status: 'crashed'; reason: string; details?: unknown };

/** The last child exit that led a supervisor to give up. */
export interface ChildFailure {
  /** The id of the child whose exit would have exceeded the restart intensity. */
  child: string;
  /** That exit's reason (`'normal'` when a permanent child stopped normally once too often). */
  reason: string;
}

/** Reason of the `crashed` {@link SupervisorExit}, stable for matching. */
export const INTENSITY_EXCEEDED = 'restart intensity exceeded';

/**
 * The output of a supervisor's final state. It is a {@link ChildExit}, so a parent supervisor sees a
 * `crashed` child supervisor as an abnormal exit and applies its own strategy (escalation).
 */
export type SupervisorExit =
  | { status: 'stopped' }
  | { status: 'crashed'; reason: typeof INTENSITY_EXCEEDED; supervisor: string; lastFailure: ChildFailure };

/** Where a supervised child stands. */
export const ChildStatus = {
  /** An instance is alive: `snapshot.children[id]` is its ref. */
  Running: 'running',
  /** Stopped by its strategy and waiting for `restartDelayMs` before a fresh instance starts. */
  Restarting: 'restarting',
  /** A transient child that exited normally; kept in place, not restarted, until terminated. */
  Exited: 'exited',
} as const;
export type ChildStatus = (typeof ChildStatus)[keyof typeof ChildStatus];

/** One child as reported by {@link selectChildren}, in start order. */
export interface ChildInfo {
  id: string;
  restart: RestartType;
  /** How many times this child has been restarted (by its own exit or a sibling's). */
  restarts: number;
  status: ChildStatus;
}

/** Why a supervisor stopped a child that was still running. */
export const StopReason = {
  /** A sibling failed and the strategy restarts this child too. */
  Restart: 'restart',
  /** `supervisor.terminate_child`. */
  Terminated: 'terminated',
  /** `supervisor.stop`. */
  Shutdown: 'shutdown',
  /** The supervisor exceeded its restart intensity and is giving up. */
  Escalation: 'escalation',
} as const;
export type StopReason = (typeof StopReason)[keyof typeof StopReason];

/** Codes of the `supervisor.error` event: a request the supervisor refused, never a throw. */
export const SupervisorErrorCode = {
  DuplicateChildId: 'duplicate_child_id',
  InvalidChildSpec: 'invalid_child_spec',
  UnknownChild: 'unknown_child',
} as const;
export type SupervisorErrorCode = (typeof SupervisorErrorCode)[keyof typeof SupervisorErrorCode];

/** Events a supervisor accepts from outside. */
export type SupervisorEvent =
  /** Adds a child at the end of the start order and starts it. A duplicate id is refused (`supervisor.error`). */
  | { type: 'supervisor.start_child'; spec: ChildSpec }
  /** Stops a child if it runs and forgets it: it is never restarted. */
  | { type: 'supervisor.terminate_child'; id: string }
  /** Stops every child in reverse start order; the supervisor ends with `{status: 'stopped'}`. */
  | { type: 'supervisor.stop' };

/**
 * Events a supervisor emits, for `actor.on(type, handler)`: logging and metrics hang off these.
 * `child.started` follows every new instance (first start, dynamic start and restart alike);
 * `child.restarted` follows `child.started` when the instance replaces an earlier one.
 */
export type SupervisorEmitted =
  | { type: 'child.started'; id: string }
  | { type: 'child.exited'; id: string; exit: ChildExit }
  | { type: 'child.stopped'; id: string; reason: StopReason }
  | { type: 'child.restarted'; id: string; restarts: number }
  | { type: 'supervisor.escalated'; id: string; lastFailure: ChildFailure }
  | { type: 'supervisor.error'; code: SupervisorErrorCode; id: string | undefined; message: string };

/** The source of "now" for the restart-intensity window. */
export interface Clock {
  /** Milliseconds; only differences matter. */
  now(): number;
}
