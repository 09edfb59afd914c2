/**
 * One session on one node as an XState actor: it serialises this node's changes to the session
 * (open, calls, updates, close) so they apply one at a time, each by compare-and-set against the
 * KV record (the injected `apply` actor retries on another node's concurrent write). With nothing to
 * do for `idleMs` it stops; the record stays in KV and any node can pick the session up again.
 */
import { assign, enqueueActions, fromPromise, setup } from 'xstate';
import { DspexError, ErrorCode } from '../errors.js';
import type { SessionRecord } from '../protocol/sessions.js';
import type { SessionChange } from './session-record.js';

/** One change waiting its turn; `settle` hands the outcome back to the caller. */
export interface SessionJob {
  change: SessionChange;
  settle(outcome: { record: SessionRecord | undefined } | { error: unknown }): void;
}

export interface SessionInput {
  id: string;
  idleMs: number;
  /** Jobs allowed to wait; beyond it a job is refused (its `settle` gets an error). */
  queueLimit: number;
}

export interface SessionContext {
  id: string;
  idleMs: number;
  queueLimit: number;
  queue: SessionJob[];
}

export type SessionEvent = { type: 'change'; job: SessionJob };

export const sessionMachine = setup({
  types: {
    input: {} as SessionInput,
    context: {} as SessionContext,
    events: {} as SessionEvent,
    output: {} as { status: 'stopped' },
  },
  actors: {
    /** Applies one change to the KV record (read, change, compare-and-set). Injected. */
    apply: fromPromise<SessionRecord | undefined, { id: string; change: SessionChange }>(() => {
      throw new Error('sessionMachine: provide the apply actor');
    }),
  },
  actions: {
    /** Refuses a change over the queue limit: 429 `overloaded`. */
    refuse: (_, params: { job: SessionJob }) =>
      params.job.settle({
        error: new DspexError(ErrorCode.Overloaded, 'too many changes waiting for this session'),
      }),
  },
  delays: { idle: ({ context }) => context.idleMs },
}).createMachine({
  id: 'session',
  context: ({ input }) => ({ ...input, queue: [] }),
  initial: 'idle',
  on: {
    change: {
      actions: enqueueActions(({ context, event, enqueue }) => {
        if (context.queue.length >= context.queueLimit)
          enqueue({ type: 'refuse', params: { job: event.job } });
        else enqueue.assign({ queue: [...context.queue, event.job] });
      }),
    },
  },
  states: {
    idle: {
      always: { guard: ({ context }) => context.queue.length > 0, target: 'applying' },
      after: { idle: 'stopped' },
    },
    applying: {
      invoke: {
        src: 'apply',
        input: ({ context }) => ({ id: context.id, change: context.queue[0]!.change }),
        onDone: {
          target: 'idle',
          actions: [
            ({ context, event }) => context.queue[0]?.settle({ record: event.output }),
            assign({ queue: ({ context }) => context.queue.slice(1) }),
          ],
        },
        onError: {
          target: 'idle',
          actions: [
            ({ context, event }) => context.queue[0]?.settle({ error: event.error }),
            assign({ queue: ({ context }) => context.queue.slice(1) }),
          ],
        },
      },
    },
    stopped: { type: 'final' },
  },
  output: () => ({ status: 'stopped' as const }),
});
