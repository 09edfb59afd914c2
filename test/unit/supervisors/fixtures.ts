/**
 * Tiny children and helpers for the supervisor tests. Every worker records `start:<name>` when an
 * instance starts and `stop:<name>` when it ends (crash, normal exit or stopped by its supervisor) in
 * a shared log, so tests can assert the order of stops and starts across children.
 */
import {
  assign,
  createActor,
  fromCallback,
  fromPromise,
  setup,
  type AnyActorLogic,
  type EventObject,
} from 'xstate';
import { supervisorMachine, type SupervisorActorRef } from '../../../src/supervisors/supervisor-machine.js';
import type { SupervisorOptions } from '../../../src/supervisors/options.js';
import type { ChildExit, ChildSpec, RestartType, SupervisorEmitted } from '../../../src/supervisors/types.js';

export type WorkerEvent = { type: 'crash'; reason: string } | { type: 'stop' } | { type: 'throw' };

/** A child that crashes on `crash`, exits normally on `stop` and throws from an action on `throw`. */
export function createWorker(log: string[]) {
  return setup({
    types: {
      input: {} as { name: string },
      context: {} as { name: string; exit: ChildExit },
      events: {} as WorkerEvent,
      output: {} as ChildExit,
    },
    actors: {
      lifetime: fromCallback<EventObject, { name: string }>(({ input }) => {
        log.push(`start:${input.name}`);
        return () => log.push(`stop:${input.name}`);
      }),
    },
  }).createMachine({
    context: ({ input }) => ({ name: input.name, exit: { status: 'stopped' } }),
    invoke: { src: 'lifetime', input: ({ context }) => ({ name: context.name }) },
    initial: 'working',
    states: {
      working: {
        on: {
          crash: {
            target: 'done',
            actions: assign({ exit: ({ event }) => ({ status: 'crashed' as const, reason: event.reason }) }),
          },
          stop: 'done',
          throw: {
            actions: () => {
              throw new Error('boom');
            },
          },
        },
      },
      done: { type: 'final' },
    },
    output: ({ context }) => context.exit,
  });
}

/** A child whose entry action always throws: every instance fails as it starts. */
export const failsOnStart = setup({}).createMachine({
  entry: () => {
    throw new Error('cannot start');
  },
});

/** A child whose promise rejects on the next tick. */
export const rejectingPromise = fromPromise<never>(() => Promise.reject(new Error('rejected')));

/** A clock for the restart-intensity window that only moves when told to. */
export function createFakeClock(start = 1_000_000) {
  let now = start;
  return {
    now: () => now,
    advance(ms: number) {
      now += ms;
    },
  };
}

export function spec(id: string, logic: AnyActorLogic, restart: RestartType = 'permanent'): ChildSpec {
  return { id, logic, input: { name: id }, restart };
}

/** Starts a supervisor and records what it emits; failures of the root actor are captured, not thrown. */
export function startSupervisor(input: SupervisorOptions) {
  const emitted: SupervisorEmitted[] = [];
  const errors: unknown[] = [];
  const actor: SupervisorActorRef = createActor(supervisorMachine, { input });
  actor.on('*', (event) => emitted.push(event));
  actor.subscribe({ error: (error) => errors.push(error) });
  actor.start();
  return { actor, emitted, errors };
}

/** Sends an event to a running child of the supervisor, failing the test if it is not there. */
export function sendToChild(actor: SupervisorActorRef, id: string, event: WorkerEvent): void {
  const child = actor.getSnapshot().children[id];
  if (child === undefined) throw new Error(`no running child ${id}`);
  child.send(event);
}
