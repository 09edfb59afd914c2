/**
 * An OTP-style supervisor as XState v5 logic. It spawns its children as XState children (ids from
 * their specs, so `snapshot.children[id]` is a live child), watches `xstate.done.actor.*` and
 * `xstate.error.actor.*`, restarts by strategy within a restart intensity, and ends in a final state
 * whose output is a {@link SupervisorExit}, so supervisors nest: a parent sees a child supervisor
 * that gave up as a crashed child.
 *
 * The decisions live in `supervision.ts`; this file performs them.
 */
import {
  setup,
  type ActorRef,
  type ActorRefFrom,
  type AnyActorLogic,
  type AnyEventObject,
  type Snapshot,
  type SnapshotFrom,
} from 'xstate';
import type { DoneActorEvent, ErrorActorEvent } from 'xstate';
import { resolveSupervisorOptions, type SupervisorOptions } from './options.js';
import {
  assertNever,
  childExited,
  exitFromEvent,
  expectStaleExits,
  initialContext,
  shutdown,
  skipStaleExit,
  startChild,
  startInitialChildren,
  startPending,
  terminateChild,
  type Step,
  type SupervisorContext,
} from './supervision.js';
import type { ChildInfo, SupervisorEmitted, SupervisorEvent, SupervisorExit } from './types.js';

type ChildTerminationEvent = DoneActorEvent<unknown> | ErrorActorEvent<unknown>;
type RestartDueEvent = { type: 'supervisor.restart_due' };

const RESTART_DUE: RestartDueEvent = { type: 'supervisor.restart_due' };

// Children's logic comes from specs at run time. Declaring an open actor map makes XState type
// `spawnChild(logic, { id })` and `snapshot.children` for arbitrary ids, which it refuses otherwise.
const anyChildLogic: Record<string, AnyActorLogic> = {};

const supervisorSetup = setup({
  types: {
    input: {} as SupervisorOptions,
    context: {} as SupervisorContext,
    events: {} as SupervisorEvent | ChildTerminationEvent | RestartDueEvent,
    emitted: {} as SupervisorEmitted,
    output: {} as SupervisorExit,
  },
  actors: anyChildLogic,
});

type ActionArgs = Parameters<Parameters<typeof supervisorSetup.enqueueActions>[0]>[0];

/** Wraps a decision from `supervision.ts` into an action that applies its context and effects in order. */
function perform(decide: (args: ActionArgs) => Step | undefined) {
  return supervisorSetup.enqueueActions((args) => {
    const step = decide(args);
    if (step === undefined) return;
    const { enqueue, event, self } = args;
    // Read lazily: during the initial transition (no stops there) `self` has no snapshot yet.
    const children = () => self.getSnapshot().children;
    // A child that already ended but whose exit we are not handling now has that exit queued in our
    // mailbox; once we replace it, the exit would read as one of the fresh instance.
    const stale = step.effects.flatMap((effect) =>
      effect.type === 'stop' &&
      !(isChildTermination(event) && event.actorId === effect.id) &&
      isEnded(children()[effect.id])
        ? [effect.id]
        : [],
    );
    const context = expectStaleExits(step.context, stale);
    enqueue.assign(() => context);
    for (const effect of step.effects) {
      switch (effect.type) {
        case 'spawn': {
          const { spec } = effect;
          // A function, because XState would call a function-valued input instead of passing it on.
          enqueue.spawnChild(spec.logic, { id: spec.id, input: () => spec.input });
          break;
        }
        case 'stop':
          enqueue.stopChild(effect.id);
          break;
        case 'emit':
          enqueue.emit(effect.event);
          break;
        case 'schedule_restart':
          enqueue.raise(RESTART_DUE, { delay: effect.delayMs });
          break;
        default:
          assertNever(effect);
      }
    }
  });
}

const onChildTermination = perform(({ context, event, self }) => {
  if (!isChildTermination(event)) return undefined;
  // XState's exit events name the child id, not the instance. An exit of an instance that was since
  // replaced is either counted in `staleExits` or meets a fresh, still active instance.
  const skipped = skipStaleExit(context, event.actorId);
  if (skipped !== undefined) return skipped;
  if (!isEnded(self.getSnapshot().children[event.actorId])) return undefined;
  return childExited(context, event.actorId, exitFromEvent(event), context.options.clock.now());
});

/**
 * The supervisor logic; its input is {@link SupervisorOptions}, validated once when the actor starts
 * (a bad spec makes the actor fail with a `ValidationError`; call `resolveSupervisorOptions` first to
 * get it as a throw).
 *
 * @example
 * ```ts
 * const pool = createActor(supervisorMachine, {
 *   input: { id: 'pool:general', strategy: 'one_for_one', intensity: { maxRestarts: 5, periodMs: 10_000 } },
 * });
 * pool.on('child.exited', ({ id, exit }) => log.warn({ id, exit }, 'worker exited'));
 * pool.start();
 * pool.send({ type: 'supervisor.start_child', spec: { id: 'w1', logic: workerMachine, input, restart: 'permanent' } });
 * selectChildRef(pool.getSnapshot(), 'w1')?.send({ type: 'call', request });
 * pool.send({ type: 'supervisor.terminate_child', id: 'w1' });
 * ```
 */
export const supervisorMachine = supervisorSetup.createMachine({
  id: 'supervisor',
  context: ({ input }) => initialContext(resolveSupervisorOptions(input)),
  initial: 'running',
  states: {
    running: {
      entry: perform(({ context }) => startInitialChildren(context)),
      always: [
        { guard: ({ context }) => context.exit?.status === 'crashed', target: 'crashed' },
        { guard: ({ context }) => context.exit?.status === 'stopped', target: 'stopped' },
      ],
      on: {
        'xstate.done.actor.*': { actions: onChildTermination },
        'xstate.error.actor.*': { actions: onChildTermination },
        'supervisor.start_child': {
          actions: perform(({ context, event }) => startChild(context, specOf(event))),
        },
        'supervisor.terminate_child': {
          actions: perform(({ context, event }) =>
            event.type === 'supervisor.terminate_child' ? terminateChild(context, event.id) : undefined,
          ),
        },
        'supervisor.restart_due': { actions: perform(({ context }) => startPending(context)) },
        'supervisor.stop': { actions: perform(({ context }) => shutdown(context)) },
      },
    },
    stopped: { type: 'final' },
    crashed: { type: 'final' },
  },
  output: ({ context }) => context.exit ?? { status: 'stopped' },
});

/** The logic type of a supervisor. */
export type SupervisorLogic = typeof supervisorMachine;
/** A running supervisor. */
export type SupervisorActorRef = ActorRefFrom<SupervisorLogic>;
/** A supervisor's snapshot; `value` is `'running'`, `'stopped'` or `'crashed'`. */
export type SupervisorSnapshot = SnapshotFrom<SupervisorLogic>;

/** The children in start order with their restart type, restart count and status. */
export function selectChildren(snapshot: SupervisorSnapshot): ChildInfo[] {
  return snapshot.context.children.map(({ spec, restarts, status }) => ({
    id: spec.id,
    restart: spec.restart,
    restarts,
    status,
  }));
}

/**
 * A supervised child's ref, typed only as far as the supervisor knows it. Narrow it where the logic
 * is known: `selectChildRef(snapshot, id) as ActorRefFrom<typeof workerMachine> | undefined`.
 */
export type ChildRef = ActorRef<Snapshot<unknown>, AnyEventObject>;

/** The live instance of a running child, or `undefined` (unknown, exited, or waiting to restart). */
export function selectChildRef(snapshot: SupervisorSnapshot, id: string): ChildRef | undefined {
  const running = snapshot.context.children.some(
    (child) => child.spec.id === id && child.status === 'running',
  );
  const ref: ChildRef | undefined = running ? snapshot.children[id] : undefined;
  return ref;
}

function isEnded(ref: ChildRef | undefined): boolean {
  return ref !== undefined && ref.getSnapshot().status !== 'active';
}

function isChildTermination(event: { type: string }): event is ChildTerminationEvent {
  return event.type.startsWith('xstate.done.actor.') || event.type.startsWith('xstate.error.actor.');
}

function specOf(event: { type: string }): unknown {
  return event.type === 'supervisor.start_child' ? (event as { spec?: unknown }).spec : undefined;
}
