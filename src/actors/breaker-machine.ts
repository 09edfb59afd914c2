import { assign, setup, type ActorRefFrom } from 'xstate';

/**
 * A circuit breaker for one worker or adapter. Closed: calls flow and failures are counted; after
 * `failureThreshold` consecutive failures (or an error rate above `errorRateThreshold` over the
 * last `window` results) it opens: no calls for `openMs`. Then half-open: one probe call is let
 * through; its success closes the breaker, its failure opens it again for twice as long (capped).
 */
export interface BreakerInput {
  /** @default 3 */
  failureThreshold?: number;
  /** @default 0.5 */
  errorRateThreshold?: number;
  /** Results the error rate is computed over. @default 10 */
  window?: number;
  /** First open period. @default 1000 */
  openMs?: number;
  /** Longest open period after repeated failed probes. @default 30000 */
  maxOpenMs?: number;
}

export type BreakerEvent =
  | { type: 'success' }
  | { type: 'failure' }
  /** A call was let through while half-open: no other probe until it reports. */
  | { type: 'probe' };

export interface BreakerContext extends Required<BreakerInput> {
  consecutive: number;
  /** Last results, true for a failure. */
  recent: boolean[];
  currentOpenMs: number;
  probing: boolean;
}

const rate = (recent: boolean[]): number =>
  recent.length === 0 ? 0 : recent.filter(Boolean).length / recent.length;

export const breakerMachine = setup({
  types: {
    // The assertion types the input for XState; every field being optional makes eslint think it idle.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
    input: {} as BreakerInput,
    context: {} as BreakerContext,
    events: {} as BreakerEvent,
  },
  delays: { openFor: ({ context }) => context.currentOpenMs },
  guards: {
    tripped: ({ context }) =>
      context.consecutive + 1 >= context.failureThreshold ||
      (context.recent.length + 1 >= context.window / 2 &&
        rate([...context.recent, true].slice(-context.window)) > context.errorRateThreshold),
  },
  actions: {
    recordFailure: assign({
      consecutive: ({ context }) => context.consecutive + 1,
      recent: ({ context }) => [...context.recent, true].slice(-context.window),
    }),
    recordSuccess: assign({
      consecutive: 0,
      recent: ({ context }) => [...context.recent, false].slice(-context.window),
    }),
  },
}).createMachine({
  id: 'breaker',
  context: ({ input }) => ({
    failureThreshold: input.failureThreshold ?? 3,
    errorRateThreshold: input.errorRateThreshold ?? 0.5,
    window: input.window ?? 10,
    openMs: input.openMs ?? 1000,
    maxOpenMs: input.maxOpenMs ?? 30_000,
    consecutive: 0,
    recent: [],
    currentOpenMs: input.openMs ?? 1000,
    probing: false,
  }),
  initial: 'closed',
  states: {
    closed: {
      on: {
        success: { actions: 'recordSuccess' },
        failure: [
          { guard: 'tripped', target: 'open', actions: 'recordFailure' },
          { actions: 'recordFailure' },
        ],
      },
    },
    open: {
      after: { openFor: 'halfOpen' },
      // Results of calls sent before it opened still arrive; they do not change the decision.
    },
    halfOpen: {
      entry: assign({ probing: false }),
      on: {
        probe: { actions: assign({ probing: true }) },
        success: {
          target: 'closed',
          actions: assign({
            consecutive: 0,
            recent: [],
            currentOpenMs: ({ context }) => context.openMs,
            probing: false,
          }),
        },
        failure: {
          target: 'open',
          actions: assign({
            currentOpenMs: ({ context }) => Math.min(context.currentOpenMs * 2, context.maxOpenMs),
            probing: false,
          }),
        },
      },
    },
  },
});

export type BreakerActorRef = ActorRefFrom<typeof breakerMachine>;

/** Whether a breaker lets a call through now (half-open: only when no probe is out). */
export function breakerAllows(state: 'closed' | 'open' | 'halfOpen', probing: boolean): boolean {
  switch (state) {
    case 'closed':
      return true;
    case 'open':
      return false;
    case 'halfOpen':
      return !probing;
    default: {
      const never: never = state;
      return never;
    }
  }
}

/**
 * Whether a `success` would leave the breaker exactly as it is: closed, no failure in a row, and
 * its window already full of successes (the new one pushes out an old one). A caller on the hot
 * path may skip sending it; every other success, and every failure, must be sent.
 */
export function successIsNoop(snapshot: {
  value: 'closed' | 'open' | 'halfOpen';
  context: Pick<BreakerContext, 'consecutive' | 'recent' | 'window'>;
}): boolean {
  const { value, context } = snapshot;
  return (
    value === 'closed' &&
    context.consecutive === 0 &&
    context.recent.length >= context.window &&
    !context.recent.includes(true)
  );
}
