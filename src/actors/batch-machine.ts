import { assign, emit, fromCallback, setup } from 'xstate';
import type { WireError } from '../errors.js';

/** The plan a batch carries out (the orchestrator's `Strategy`, planned from its task analysis). */
export interface BatchStrategy {
  /** Items in flight at once. */
  parallelism: number;
  /** Predicted time for the whole batch with that parallelism, ms. */
  predictedMs: number | undefined;
  /** Grow the pool to this many local workers first (undefined: no change). */
  growTo: number | undefined;
  /** Why, in a few words, for logs and the result. */
  reason: string;
}

/**
 * One orchestrated batch: carries out a {@link BatchStrategy} (grow the pool if it says so, run the items
 * with its parallelism), tracks progress and ETA, and ends with every item's result, success or
 * named failure. The items are run by the injected `execute` actor; the pool is grown by the
 * injected `grow` action.
 */

export type ItemResult =
  | { ok: true; outputs: Record<string, unknown>; worker: string; latencyMs: number }
  | { ok: false; error: WireError };

export interface BatchInput {
  items: number;
  strategy: BatchStrategy;
  startedAt: number;
}

export type BatchEvent =
  { type: 'item.settled'; index: number; result: ItemResult } | { type: 'tick'; now: number };

export interface BatchProgress {
  type: 'batch.progress';
  done: number;
  failed: number;
  total: number;
  etaMs: number | undefined;
}

interface BatchContext extends BatchInput {
  results: Array<ItemResult | undefined>;
  done: number;
  failed: number;
  now: number;
}

export interface BatchOutput {
  results: ItemResult[];
  strategy: BatchStrategy;
  elapsedMs: number;
}

const eta = (c: BatchContext): number | undefined => {
  const settled = c.done + c.failed;
  if (settled === 0) return c.strategy.predictedMs;
  return ((c.now - c.startedAt) / settled) * (c.items - settled);
};

export const batchMachine = setup({
  types: {
    input: {} as BatchInput,
    context: {} as BatchContext,
    events: {} as BatchEvent,
    emitted: {} as BatchProgress,
    output: {} as BatchOutput,
  },
  actors: {
    execute: fromCallback<BatchEvent, { items: number; parallelism: number }>(() => undefined),
  },
  actions: {
    grow: (_, _params: { size: number }) => undefined,
  },
  guards: {
    allSettled: ({ context }) => context.done + context.failed >= context.items,
  },
}).createMachine({
  id: 'batch',
  context: ({ input }) => ({
    ...input,
    results: Array.from({ length: input.items }, () => undefined),
    done: 0,
    failed: 0,
    now: input.startedAt,
  }),
  initial: 'running',
  states: {
    running: {
      entry: [
        {
          type: 'grow',
          params: ({ context }) => ({ size: context.strategy.growTo ?? -1 }),
        },
      ],
      always: { guard: 'allSettled', target: 'done' },
      invoke: {
        src: 'execute',
        input: ({ context }) => ({ items: context.items, parallelism: context.strategy.parallelism }),
      },
      on: {
        'item.settled': {
          actions: [
            assign(({ context, event }) => {
              const results = [...context.results];
              results[event.index] = event.result;
              return event.result.ok
                ? { results, done: context.done + 1, now: Date.now() }
                : { results, failed: context.failed + 1, now: Date.now() };
            }),
            emit(({ context }) => ({
              type: 'batch.progress' as const,
              done: context.done,
              failed: context.failed,
              total: context.items,
              etaMs: eta(context),
            })),
          ],
        },
        tick: { actions: assign({ now: ({ event }) => event.now }) },
      },
    },
    done: { type: 'final' },
  },
  output: ({ context }) => ({
    results: context.results.map(
      (r) =>
        r ?? {
          ok: false as const,
          error: { code: 'internal', message: 'item never settled', retryable: false },
        },
    ),
    strategy: context.strategy,
    elapsedMs: context.now - context.startedAt,
  }),
});
