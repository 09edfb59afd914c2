import { assign, fromCallback, sendTo, setup, type ActorRefFrom } from 'xstate';
import type { WorkerHeartbeat } from '../protocol/schemas.js';

/**
 * One Python DSPy worker process as the runtime sees it.
 *
 * starting → ready ⇄ busy → draining → stopped, and crashed from anywhere. A worker this node spawned
 * (`managed`) has its process invoked as the `process` actor, which the runtime provides (see
 * {@link WorkerProcessEvent}); a worker started elsewhere is known only through its heartbeats.
 * The machine ends in a final state whose output is a supervisor `ChildExit`.
 */

/** Input of {@link workerMachine}. */
export interface WorkerInput {
  id: string;
  pool: string;
  /** True when this node spawned the process and owns its lifecycle. */
  managed: boolean;
  /** Three missed heartbeats; a worker silent this long is crashed. @default 3000 */
  heartbeatTimeoutMs?: number;
  /** Time from spawn to the first `ready` heartbeat. @default 60000 */
  startTimeoutMs?: number;
  /** Time a draining worker has to finish its calls and exit. @default 35000 */
  drainTimeoutMs?: number;
  /** A heartbeat already received (remote workers are created from their first one). */
  heartbeat?: WorkerHeartbeat;
}

/** Events the `process` actor sends to the worker machine. */
export type WorkerProcessEvent =
  | { type: 'process.spawned'; pid: number }
  | { type: 'process.exited'; code: number | null; signal: string | null; error?: string };

/**
 * Commands the worker machine sends to its `process` actor. Stopping the process actor (which
 * happens when the worker leaves `alive`) must kill a process that is still running.
 */
export type WorkerProcessCommand = { type: 'process.terminate' };

export type WorkerEvent =
  | WorkerProcessEvent
  | { type: 'heartbeat'; heartbeat: WorkerHeartbeat }
  /** Finish in-flight calls and stop (recycling, scale-down, shutdown). */
  | { type: 'drain' };

export interface WorkerContext {
  id: string;
  pool: string;
  managed: boolean;
  heartbeatTimeoutMs: number;
  startTimeoutMs: number;
  drainTimeoutMs: number;
  pid: number | undefined;
  heartbeat: WorkerHeartbeat | undefined;
  /** Why the worker crashed, once it has. */
  reason: string | undefined;
}

/** The worker's final output: what its supervisor reads. */
export type WorkerExit = { status: 'stopped' } | { status: 'crashed'; reason: string };

/** The process actor's placeholder; the runtime provides the real one with `workerMachine.provide`. */
const noProcess = fromCallback<WorkerProcessCommand, WorkerInput>(() => undefined);

const describeExit = (e: { code: number | null; signal: string | null; error?: string }): string =>
  e.error !== undefined
    ? `process failed: ${e.error}`
    : e.signal !== null
      ? `process killed by ${e.signal}`
      : `process exited with code ${String(e.code)}`;

export const workerMachine = setup({
  types: {
    input: {} as WorkerInput,
    context: {} as WorkerContext,
    events: {} as WorkerEvent,
    output: {} as WorkerExit,
  },
  actors: { process: noProcess },
  delays: {
    heartbeatTimeout: ({ context }) => context.heartbeatTimeoutMs,
    startTimeout: ({ context }) => context.startTimeoutMs,
    drainTimeout: ({ context }) => context.drainTimeoutMs,
  },
  guards: {
    reportsBusy: ({ event }) => event.type === 'heartbeat' && event.heartbeat.state === 'busy',
    reportsReady: ({ event }) => event.type === 'heartbeat' && event.heartbeat.state === 'ready',
    reportsDraining: ({ event }) => event.type === 'heartbeat' && event.heartbeat.state === 'draining',
    reportsStopped: ({ event }) => event.type === 'heartbeat' && event.heartbeat.state === 'stopped',
    remoteReportsStopped: ({ context, event }) =>
      !context.managed && event.type === 'heartbeat' && event.heartbeat.state === 'stopped',
  },
  actions: {
    /** The runtime's routing table listens here; provided with `workerMachine.provide`. */
    notify: (_, _params: { state: WorkerUpdate['state'] }) => undefined,
    recordHeartbeat: assign({
      heartbeat: ({ event, context }) => (event.type === 'heartbeat' ? event.heartbeat : context.heartbeat),
    }),
    missedHeartbeats: assign({
      reason: ({ context }) => `missed heartbeats for ${context.heartbeatTimeoutMs} ms`,
    }),
    terminateProcess: sendTo('process', { type: 'process.terminate' }),
  },
}).createMachine({
  id: 'worker',
  context: ({ input }) => ({
    id: input.id,
    pool: input.pool,
    managed: input.managed,
    heartbeatTimeoutMs: input.heartbeatTimeoutMs ?? 3000,
    startTimeoutMs: input.startTimeoutMs ?? 60_000,
    drainTimeoutMs: input.drainTimeoutMs ?? 35_000,
    pid: input.heartbeat?.pid,
    heartbeat: input.heartbeat,
    reason: undefined,
  }),
  initial: 'alive',
  states: {
    alive: {
      invoke: { id: 'process', src: 'process', input: ({ context }) => ({ ...context }) },
      on: {
        'process.spawned': { actions: assign({ pid: ({ event }) => event.pid }) },
        // Outside `draining` any exit is a crash, even code 0: nobody asked the worker to go.
        'process.exited': {
          target: '#worker.crashed',
          actions: assign({ reason: ({ event }) => describeExit(event) }),
        },
      },
      initial: 'starting',
      states: {
        starting: {
          entry: { type: 'notify', params: { state: 'starting' } },
          always: [
            { guard: ({ context }) => context.heartbeat?.state === 'busy', target: 'busy' },
            { guard: ({ context }) => context.heartbeat?.state === 'ready', target: 'ready' },
          ],
          on: {
            heartbeat: [
              { guard: 'reportsBusy', target: 'busy', actions: 'recordHeartbeat' },
              { guard: 'reportsReady', target: 'ready', actions: 'recordHeartbeat' },
              { actions: 'recordHeartbeat' },
            ],
            drain: 'draining',
          },
          after: {
            startTimeout: {
              target: '#worker.crashed',
              actions: assign({
                reason: ({ context }) => `did not announce itself within ${context.startTimeoutMs} ms`,
              }),
            },
          },
        },
        ready: {
          entry: { type: 'notify', params: { state: 'ready' } },
          on: {
            heartbeat: [
              { guard: 'reportsBusy', target: 'busy', actions: 'recordHeartbeat' },
              { guard: 'reportsDraining', target: 'draining', actions: 'recordHeartbeat' },
              { guard: 'remoteReportsStopped', target: '#worker.stopped', actions: 'recordHeartbeat' },
              { guard: 'reportsStopped', target: 'draining', actions: 'recordHeartbeat' },
              { target: 'ready', reenter: true, actions: 'recordHeartbeat' },
            ],
            drain: 'draining',
          },
          after: { heartbeatTimeout: { target: '#worker.crashed', actions: 'missedHeartbeats' } },
        },
        busy: {
          entry: { type: 'notify', params: { state: 'busy' } },
          on: {
            heartbeat: [
              { guard: 'reportsReady', target: 'ready', actions: 'recordHeartbeat' },
              { guard: 'reportsDraining', target: 'draining', actions: 'recordHeartbeat' },
              { guard: 'remoteReportsStopped', target: '#worker.stopped', actions: 'recordHeartbeat' },
              { guard: 'reportsStopped', target: 'draining', actions: 'recordHeartbeat' },
              { target: 'busy', reenter: true, actions: 'recordHeartbeat' },
            ],
            drain: 'draining',
          },
          after: { heartbeatTimeout: { target: '#worker.crashed', actions: 'missedHeartbeats' } },
        },
        draining: {
          entry: ['terminateProcess', { type: 'notify', params: { state: 'draining' } }],
          on: {
            // We asked it to go: however it went, it is stopped, not crashed (no restart).
            'process.exited': '#worker.stopped',
            heartbeat: [
              // A remote worker's farewell is all we will ever hear of its exit.
              { guard: 'remoteReportsStopped', target: '#worker.stopped', actions: 'recordHeartbeat' },
              { actions: 'recordHeartbeat' },
            ],
          },
          after: {
            // A process that overstays is killed when the process actor stops with `alive`.
            drainTimeout: '#worker.stopped',
          },
        },
      },
    },
    stopped: {
      type: 'final',
      entry: { type: 'notify', params: { state: 'stopped' } },
    },
    crashed: {
      type: 'final',
      // Leaving `alive` stops the process actor, which kills a process that is still there.
      entry: { type: 'notify', params: { state: 'crashed' } },
    },
  },
  output: ({ context }) =>
    context.reason === undefined ? { status: 'stopped' } : { status: 'crashed', reason: context.reason },
});

export type WorkerActorRef = ActorRefFrom<typeof workerMachine>;
/** What the worker tells the runtime's routing table on every change. */
export interface WorkerUpdate {
  id: string;
  pool: string;
  managed: boolean;
  state: 'starting' | 'ready' | 'busy' | 'draining' | 'stopped' | 'crashed';
  heartbeat: WorkerHeartbeat | undefined;
  reason: string | undefined;
}
