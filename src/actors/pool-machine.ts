import { assign, enqueueActions, setup, type AnyActorLogic, type AnyActorRef } from 'xstate';
import type { WorkerHeartbeat } from '../protocol/schemas.js';
import { supervisorMachine } from '../supervisors/supervisor-machine.js';
import type { ChildSpec } from '../supervisors/types.js';
import type { WorkerInput } from './worker-machine.js';

/**
 * A named pool of DSPy workers. It keeps `size` local workers alive under a one_for_one workers
 * supervisor, adopts workers announced by other hosts (remote, forgotten when they go silent),
 * and replaces workers that are due for recycling. Routing of calls is the runtime's (it reads
 * the workers' states); the pool owns who is in it.
 */

/** Input of {@link poolMachine}. */
export interface PoolInput {
  name: string;
  /** This node's id: heartbeats naming it come from our own (managed) workers. */
  nodeId: string;
  /** Local workers to keep running. */
  size: number;
  /** Restart intensity of the workers supervisor. */
  intensity: { maxRestarts: number; periodMs: number };
  /** The worker machine with the runtime's process launcher and routing hooks provided. */
  workerLogic: AnyActorLogic;
  /** Timings passed to every worker. */
  timings: Pick<WorkerInput, 'heartbeatTimeoutMs' | 'startTimeoutMs' | 'drainTimeoutMs'>;
  /** Recycle a local worker whose heartbeat reports more resident memory than this. */
  maxRssBytes?: number;
}

export type PoolEvent =
  | { type: 'heartbeat'; heartbeat: WorkerHeartbeat }
  /** Replace a local worker by a fresh one and drain the old (call count, memory). */
  | { type: 'recycle'; id: string; reason: string }
  /** Drain every local worker (graceful shutdown): they finish their calls and are not restarted. */
  | { type: 'drain' }
  /** Grow or shrink the local workers to `size` (shrinking drains the newest ones). */
  | { type: 'resize'; size: number }
  | { type: 'stop' };

export interface PoolContext extends Omit<PoolInput, 'workerLogic'> {
  workerLogic: AnyActorLogic;
  /** Sequence of local worker ids; a replacement gets a new id, a restart keeps its id. */
  nextSlot: number;
  /** Workers being recycled, so a second request does not replace them twice. */
  retiring: string[];
  /** Why the pool failed, if it did. */
  failure: string | undefined;
}

export type PoolExit = { status: 'stopped' } | { status: 'crashed'; reason: string };

const localId = (context: PoolContext, slot: number): string =>
  `${context.name}-${context.nodeId.replace(/^n-/, '')}-${slot}`;

function workerSpec(context: PoolContext, input: WorkerInput, restart: ChildSpec['restart']): ChildSpec {
  return { id: input.id, logic: context.workerLogic, input, restart };
}

function localSpec(context: PoolContext, slot: number): ChildSpec {
  return workerSpec(
    context,
    { id: localId(context, slot), pool: context.name, managed: true, ...context.timings },
    'transient',
  );
}

/** The live worker actors under the pool's workers supervisor, by id. */
function childRefs(self: AnyActorRef): Record<string, AnyActorRef | undefined> {
  const workers = (self.getSnapshot() as { children: Record<string, AnyActorRef | undefined> }).children
    .workers;
  return (
    (workers?.getSnapshot() as { children?: Record<string, AnyActorRef | undefined> } | undefined)
      ?.children ?? {}
  );
}

const isManaged = (ref: AnyActorRef | undefined): boolean =>
  (ref?.getSnapshot() as { context?: { managed?: boolean }; status?: string } | undefined)?.context
    ?.managed === true && (ref?.getSnapshot() as { status?: string }).status === 'active';

function workerRef(self: AnyActorRef, id: string): AnyActorRef | undefined {
  const workers = (self.getSnapshot() as { children: Record<string, AnyActorRef | undefined> }).children
    .workers;
  const children = (
    workers?.getSnapshot() as { children?: Record<string, AnyActorRef | undefined> } | undefined
  )?.children;
  return children?.[id];
}

export const poolMachine = setup({
  types: {
    input: {} as PoolInput,
    context: {} as PoolContext,
    events: {} as PoolEvent,
    output: {} as PoolExit,
  },
  actors: { workers: supervisorMachine },
}).createMachine({
  id: 'pool',
  context: ({ input }) => ({ ...input, nextSlot: input.size, retiring: [], failure: undefined }),
  invoke: {
    id: 'workers',
    src: 'workers',
    input: ({ context }) => ({
      id: `${context.name}.workers`,
      strategy: 'one_for_one' as const,
      intensity: context.intensity,
      children: Array.from({ length: context.size }, (_, slot) => localSpec(context, slot)),
    }),
    onDone: [
      {
        guard: ({ event }) => event.output.status === 'crashed',
        target: '.crashed',
        actions: assign({ failure: () => 'workers supervisor exceeded its restart intensity' }),
      },
      { target: '.stopped' },
    ],
    onError: {
      target: '.crashed',
      actions: assign({ failure: ({ event }) => `workers supervisor failed: ${String(event.error)}` }),
    },
  },
  initial: 'running',
  states: {
    running: {
      on: {
        heartbeat: {
          actions: enqueueActions(({ context, event, self, enqueue }) => {
            const hb = event.heartbeat;
            const ref = workerRef(self, hb.id);
            if (ref !== undefined) {
              ref.send({ type: 'heartbeat', heartbeat: hb });
              const overweight =
                context.maxRssBytes !== undefined &&
                hb.node === context.nodeId &&
                hb.rss_bytes > context.maxRssBytes;
              if (overweight)
                enqueue.raise({ type: 'recycle', id: hb.id, reason: `rss ${hb.rss_bytes} bytes` });
              return;
            }
            // Our own workers are created before their process starts; a heartbeat of ours that finds
            // no actor is a late farewell of a replaced worker, not a newcomer.
            if (hb.node === context.nodeId) return;
            if (hb.state !== 'ready' && hb.state !== 'busy') return;
            const input: WorkerInput = {
              id: hb.id,
              pool: context.name,
              managed: false,
              heartbeat: hb,
              ...context.timings,
            };
            enqueue.sendTo('workers', {
              type: 'supervisor.start_child',
              spec: workerSpec(context, input, 'temporary'),
            });
          }),
        },
        recycle: {
          actions: enqueueActions(({ context, event, self, enqueue }) => {
            const old = workerRef(self, event.id);
            if (old === undefined || context.retiring.includes(event.id)) return;
            const replacement = localSpec(context, context.nextSlot);
            enqueue.assign({
              nextSlot: context.nextSlot + 1,
              retiring: [...context.retiring.slice(-100), event.id],
            });
            enqueue.sendTo('workers', {
              type: 'supervisor.start_child',
              spec: replacement,
            });
            enqueue.sendTo(old, { type: 'drain' });
          }),
        },
        resize: {
          actions: enqueueActions(({ context, event, self, enqueue }) => {
            const local = Object.entries(childRefs(self))
              .filter(([id, ref]) => isManaged(ref) && !context.retiring.includes(id))
              .map(([id]) => id);
            const missing = event.size - local.length;
            if (missing > 0) {
              for (let i = 0; i < missing; i++) {
                enqueue.sendTo('workers', {
                  type: 'supervisor.start_child',
                  spec: localSpec(context, context.nextSlot + i),
                });
              }
              enqueue.assign({ size: event.size, nextSlot: context.nextSlot + missing });
              return;
            }
            const slot = (id: string): number => Number(id.slice(id.lastIndexOf('-') + 1));
            const victims = local.sort((a, b) => slot(b) - slot(a)).slice(0, -missing);
            for (const id of victims) {
              const ref = childRefs(self)[id];
              if (ref !== undefined) enqueue.sendTo(ref, { type: 'drain' });
            }
            enqueue.assign({ size: event.size, retiring: [...context.retiring.slice(-100), ...victims] });
          }),
        },
        drain: {
          actions: enqueueActions(({ self, enqueue }) => {
            const workers = (self.getSnapshot() as { children: Record<string, AnyActorRef | undefined> })
              .children.workers;
            const children =
              (workers?.getSnapshot() as { children?: Record<string, AnyActorRef | undefined> } | undefined)
                ?.children ?? {};
            for (const ref of Object.values(children)) {
              const managed = (ref?.getSnapshot() as { context?: { managed?: boolean } } | undefined)?.context
                ?.managed;
              if (ref !== undefined && managed === true) enqueue.sendTo(ref, { type: 'drain' });
            }
          }),
        },
        stop: {
          target: 'stopping',
          actions: enqueueActions(({ enqueue }) =>
            enqueue.sendTo('workers', {
              type: 'supervisor.stop',
            }),
          ),
        },
      },
    },
    stopping: {},
    stopped: { type: 'final' },
    crashed: { type: 'final' },
  },
  output: ({ context }) =>
    context.failure === undefined ? { status: 'stopped' } : { status: 'crashed', reason: context.failure },
});
