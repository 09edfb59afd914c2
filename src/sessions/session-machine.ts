/**
 * One session on one node as an XState actor: it serialises this node's changes to the session
 * (open, calls, updates, close) so they apply one at a time, each by compare-and-set against the
 * KV record (the injected `apply` actor retries on another node's concurrent write). It starts by
 * loading its record from KV (`load`), keeps what it last read or wrote (`stored`) so a change needs
 * no read first, and is restarted from that record when it crashes: the store runs it as a transient
 * child of the node's sessions supervisor. With nothing to do for `idleMs` it stops; the record stays
 * in KV and any node can pick the session up again.
 */
import { assign, enqueueActions, fromPromise, setup, type ActorRefFrom } from 'xstate';
import { DspexError, ErrorCode } from '../errors.js';
import type { SessionRecord } from '../protocol/sessions.js';
import type { SessionChange } from './session-record.js';

/** What a job's caller gets back. */
export type SessionOutcome = { record: SessionRecord | undefined } | { error: unknown };

/** One change waiting its turn; `settle` hands the outcome back to the caller. */
export interface SessionJob {
  change: SessionChange;
  settle(outcome: SessionOutcome): void;
}

/**
 * The session's KV record as this actor last read or wrote it: `record` undefined means no live
 * record at `revision` (or none at all when `revision` is undefined too).
 */
export interface StoredSession {
  record: SessionRecord | undefined;
  revision: number | undefined;
}

/** Input of the injected `apply` actor: the change to apply and what the actor knows of the record. */
export interface ApplyInput {
  id: string;
  job: SessionJob;
  stored: StoredSession | undefined;
}

/** Output of `apply`: what the caller gets and the record as written (`undefined`: re-read next time). */
export interface ApplyOutput {
  result: SessionRecord | undefined;
  stored: StoredSession | undefined;
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
  /** Loaded from KV when the actor (or its restart) starts, then kept current by each write. */
  stored: StoredSession | undefined;
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
    /** Reads the session's KV record. Injected. */
    load: fromPromise<StoredSession, { id: string }>(() => {
      throw new Error('sessionMachine: provide the load actor');
    }),
    /** Applies one change to the KV record (change, compare-and-set, re-read on conflict). Injected. */
    apply: fromPromise<ApplyOutput, ApplyInput>(() => {
      throw new Error('sessionMachine: provide the apply actor');
    }),
  },
  actions: {
    /** Hands a job's outcome to its caller. */
    settle: (_, params: { job: SessionJob | undefined; outcome: SessionOutcome }) =>
      params.job?.settle(params.outcome),
    /** Refuses a change over the queue limit: 429 `overloaded`. */
    refuse: (_, params: { job: SessionJob }) =>
      params.job.settle({
        error: new DspexError(ErrorCode.Overloaded, 'too many changes waiting for this session'),
      }),
  },
  delays: { idle: ({ context }) => context.idleMs },
}).createMachine({
  id: 'session',
  context: ({ input }) => ({ ...input, queue: [], stored: undefined }),
  initial: 'loading',
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
    loading: {
      invoke: {
        src: 'load',
        input: ({ context }) => ({ id: context.id }),
        onDone: { target: 'idle', actions: assign({ stored: ({ event }) => event.output }) },
        // Nothing cached: `apply` reads the record itself.
        onError: 'idle',
      },
    },
    idle: {
      always: { guard: ({ context }) => context.queue.length > 0, target: 'applying' },
      after: { idle: 'stopped' },
    },
    applying: {
      invoke: {
        src: 'apply',
        input: ({ context }) => ({ id: context.id, job: context.queue[0]!, stored: context.stored }),
        onDone: {
          target: 'idle',
          actions: [
            {
              type: 'settle',
              params: ({ context, event }) => ({
                job: context.queue[0],
                outcome: { record: event.output.result },
              }),
            },
            assign({
              queue: ({ context }) => context.queue.slice(1),
              stored: ({ event }) => event.output.stored,
            }),
          ],
        },
        onError: {
          target: 'idle',
          actions: [
            {
              type: 'settle',
              params: ({ context, event }) => ({ job: context.queue[0], outcome: { error: event.error } }),
            },
            assign({ queue: ({ context }) => context.queue.slice(1), stored: undefined }),
          ],
        },
      },
    },
    stopped: { type: 'final' },
  },
  output: () => ({ status: 'stopped' as const }),
});

/** The session actor's logic (tests wrap it with `.provide()` to inject faults). */
export type SessionLogic = typeof sessionMachine;
export type SessionActorRef = ActorRefFrom<SessionLogic>;
