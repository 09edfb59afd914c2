/**
 * One variable on one node, as an XState actor: it holds the latest record seen (from the KV watch
 * or from its own writes), serialises this node's writes to it, and notifies observers once per new
 * revision. Pure: the KV write is the injected `write` actor and notification the injected `notify`
 * action, so tests drive it with fakes.
 */
import { assign, enqueueActions, fromPromise, setup } from 'xstate';
import { DspexError, ErrorCode } from '../errors.js';
import type { VarRecord, VarSpec } from '../protocol/variables.js';

/** One write waiting for its turn; `settle` hands the outcome back to the caller. */
export interface SetJob {
  value: unknown;
  /** Compare-and-set on this revision; absent: write over whatever is latest. */
  revision?: number;
  by?: string;
  score?: number;
  /** Lease holder the writer claims to be. */
  holder?: string;
  /** Input revisions of a derived value (set by the store's recompute, never by callers). */
  inputs?: Record<string, number>;
  /** A new definition to store with the value (`define` of an existing variable). */
  spec?: VarSpec;
  /** A write by the store itself (derived recompute, definition), allowed on derived variables. */
  internal?: boolean;
  settle(outcome: { record: VarRecord } | { error: unknown }): void;
}

/** What the injected `write` actor receives. */
export interface WriteInput {
  name: string;
  job: SetJob;
  /** The latest record this node has seen, if any. */
  known: VarRecord | undefined;
}

/** Where a (re)started actor resumes: the last revision it saw and told its observers about. */
export interface VariableResume {
  record: VarRecord | undefined;
  deletedAt: number | undefined;
}

export interface VariableInput {
  name: string;
  /** Writes allowed to wait; beyond it a write is refused with 429 `overloaded`. */
  queueLimit: number;
  /**
   * Read when an instance starts: a restarted actor resumes from what its predecessor had seen, so
   * it neither notifies a revision twice nor treats an old one as new. @default nothing seen
   */
  resume?: () => VariableResume;
}

export interface VariableContext {
  name: string;
  record: VarRecord | undefined;
  /** Revision of a delete marker newer than `record`, when the variable was deleted. */
  deletedAt: number | undefined;
  queue: SetJob[];
  current: SetJob | undefined;
  queueLimit: number;
}

export type VariableEvent =
  | { type: 'observed'; record: VarRecord }
  | { type: 'removed'; revision: number }
  | { type: 'set'; job: SetJob };

function newer(context: VariableContext, revision: number): boolean {
  return revision > Math.max(context.record?.revision ?? 0, context.deletedAt ?? 0);
}

export const variableMachine = setup({
  types: {
    input: {} as VariableInput,
    context: {} as VariableContext,
    events: {} as VariableEvent,
  },
  actors: {
    /** Performs one write (validation, lease check, KV compare-and-set); resolves to the new record. */
    write: fromPromise<VarRecord, WriteInput>(() => {
      throw new Error('variableMachine: provide the write actor');
    }),
  },
  actions: {
    /** Tells observers about a new record (or `undefined` after a delete). Injected. */
    notify: (_, _params: { record: VarRecord | undefined; revision: number }) => undefined,
    observe: assign(({ context }, params: { record: VarRecord }) =>
      newer(context, params.record.revision) ? { record: params.record, deletedAt: undefined } : {},
    ),
    enqueue: assign(({ context }, params: { job: SetJob }) => {
      if (context.queue.length >= context.queueLimit) {
        params.job.settle({
          error: new DspexError(
            ErrorCode.Overloaded,
            `variable ${context.name}: ${context.queue.length} writes already waiting`,
            { details: { field: 'name', limit: context.queueLimit } },
          ),
        });
        return {};
      }
      return { queue: [...context.queue, params.job] };
    }),
    take: assign(({ context }) => ({ current: context.queue[0], queue: context.queue.slice(1) })),
  },
  guards: {
    isNewer: ({ context }, params: { revision: number }) => newer(context, params.revision),
    hasQueued: ({ context }) => context.queue.length > 0,
  },
}).createMachine({
  id: 'variable',
  context: ({ input }) => ({
    name: input.name,
    ...(input.resume?.() ?? { record: undefined, deletedAt: undefined }),
    queue: [],
    current: undefined,
    queueLimit: input.queueLimit,
  }),
  on: {
    observed: {
      guard: { type: 'isNewer', params: ({ event }) => ({ revision: event.record.revision }) },
      actions: [
        { type: 'observe', params: ({ event }) => ({ record: event.record }) },
        {
          type: 'notify',
          params: ({ event }) => ({ record: event.record, revision: event.record.revision }),
        },
      ],
    },
    removed: {
      guard: { type: 'isNewer', params: ({ event }) => ({ revision: event.revision }) },
      actions: [
        assign({ record: undefined, deletedAt: ({ event }) => event.revision }),
        { type: 'notify', params: ({ event }) => ({ record: undefined, revision: event.revision }) },
      ],
    },
    set: { actions: { type: 'enqueue', params: ({ event }) => ({ job: event.job }) } },
  },
  initial: 'idle',
  states: {
    idle: {
      // Cleared here, not on leaving `writing`: exit actions run before the transition's settle.
      entry: assign({ current: undefined }),
      always: { guard: 'hasQueued', target: 'writing' },
    },
    writing: {
      entry: 'take',
      invoke: {
        src: 'write',
        input: ({ context }) => ({ name: context.name, job: context.current!, known: context.record }),
        onDone: {
          target: 'idle',
          actions: [
            ({ context, event }) => context.current?.settle({ record: event.output }),
            // Applied here rather than raised: the next queued write must start from this revision.
            enqueueActions(({ context, event, enqueue }) => {
              if (!newer(context, event.output.revision)) return;
              enqueue({ type: 'observe', params: { record: event.output } });
              enqueue({
                type: 'notify',
                params: { record: event.output, revision: event.output.revision },
              });
            }),
          ],
        },
        onError: {
          target: 'idle',
          actions: ({ context, event }) => context.current?.settle({ error: event.error }),
        },
      },
    },
  },
});
