/**
 * The orchestrator's own actor: on (re)start it reloads the pattern store (what every node learnt,
 * from KV), then every `tickMs` gives back, one worker at a time, what a pool grew beyond its
 * configured size once the pool has idled for `idleMs`. Pure: the reload (`load`), the pool views
 * (`pools`, read-only) and the resize (`resize`) are injected. It runs as a permanent child of the
 * node's orchestrator supervisor; a restarted instance starts from the reloaded patterns and counts
 * every pool as busy just now, so it never shrinks a pool sooner than the one it replaced would have.
 */
import { enqueueActions, fromPromise, setup } from 'xstate';

/** What the idle-shrink loop reads of a pool. */
export interface PoolSizes {
  size: number;
  baseSize: number;
  inflight: number;
  queued: number;
}

export interface OrchestratorActorInput {
  /** Pools known now, by name. */
  pools: () => Record<string, PoolSizes>;
  now: () => number;
  /** @default 5000 */
  tickMs: number;
  /** @default 30000 */
  idleMs: number;
}

export interface OrchestratorActorContext extends OrchestratorActorInput {
  /** Per pool, when it was last seen busy (or last shrunk). */
  busyAt: Record<string, number>;
}

/** One step of the idle-shrink loop: when each pool was last busy, and the resizes to make. */
export function shrinkIdle(
  pools: Record<string, PoolSizes>,
  busyAt: Readonly<Record<string, number>>,
  now: number,
  idleMs: number,
): { busyAt: Record<string, number>; resizes: Array<{ pool: string; size: number }> } {
  const next: Record<string, number> = {};
  const resizes: Array<{ pool: string; size: number }> = [];
  for (const [name, view] of Object.entries(pools)) {
    // A pool first seen now counts as busy now: nothing shrinks before a full idle period.
    const last = busyAt[name] ?? now;
    next[name] = last;
    if (view.size <= view.baseSize) continue;
    if (view.inflight > 0 || view.queued > 0) {
      next[name] = now;
      continue;
    }
    if (now - last < idleMs) continue;
    next[name] = now;
    resizes.push({ pool: name, size: view.size - 1 });
  }
  return { busyAt: next, resizes };
}

export const orchestratorMachine = setup({
  types: {
    input: {} as OrchestratorActorInput,
    context: {} as OrchestratorActorContext,
    output: {} as { status: 'stopped' },
  },
  actors: {
    /** Reloads the pattern store from KV. Injected. */
    load: fromPromise<void>(() => Promise.resolve()),
  },
  actions: {
    /** Sets a pool's local size. Injected. */
    resize: (_, _params: { pool: string; size: number }) => undefined,
    /** The patterns are loaded (logging). Injected. */
    loaded: (_, _params: { ok: boolean }) => undefined,
  },
  delays: { tick: ({ context }) => context.tickMs },
}).createMachine({
  id: 'orchestrator',
  context: ({ input }) => {
    const now = input.now();
    return { ...input, busyAt: Object.fromEntries(Object.keys(input.pools()).map((name) => [name, now])) };
  },
  initial: 'loading',
  states: {
    loading: {
      invoke: {
        src: 'load',
        onDone: { target: 'running', actions: { type: 'loaded', params: { ok: true } } },
        // Runs on what it has: estimates fall back to this node's own history.
        onError: { target: 'running', actions: { type: 'loaded', params: { ok: false } } },
      },
    },
    running: {
      after: {
        tick: {
          target: 'running',
          reenter: true,
          actions: enqueueActions(({ context, enqueue }) => {
            const step = shrinkIdle(context.pools(), context.busyAt, context.now(), context.idleMs);
            enqueue.assign({ busyAt: step.busyAt });
            for (const resize of step.resizes) enqueue({ type: 'resize', params: resize });
          }),
        },
      },
    },
  },
});

export type OrchestratorActorLogic = typeof orchestratorMachine;
