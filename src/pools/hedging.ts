/**
 * Hedging of stragglers: a call still running after a few times the pool's median latency is also
 * sent to another worker with room, and the first reply wins. Pure apart from one timer; tested
 * with fake timers.
 */
import { toDspexError, type DspexError } from '../errors.js';

/** A hedge goes out once a call has run this many times the pool's median latency. */
export const HEDGE_FACTOR = 3;
/** ... and never sooner than this, ms. */
export const HEDGE_MIN_MS = 20;

/**
 * When to send a hedge for a call, ms after it started, or undefined for no hedge: no median yet,
 * or too little time left before the deadline for a second copy to be worth its cost (less than
 * twice the hedge delay).
 */
export function hedgeDelay(medianMs: number | undefined, remainingMs: number): number | undefined {
  if (medianMs === undefined) return undefined;
  const after = Math.max(HEDGE_MIN_MS, HEDGE_FACTOR * medianMs);
  return remainingMs < 2 * after ? undefined : after;
}

/**
 * Races `first` against a hedge launched after `afterMs`. `launch` returns the hedge's attempt, or
 * undefined when no second worker may take it (then only `first` counts). Resolves with the first
 * reply; rejects only when every attempt failed, with the last failure.
 */
export function raceWithHedge<T>(
  first: Promise<T>,
  afterMs: number,
  launch: () => Promise<T> | undefined,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    let pending = 1;
    let lastError: DspexError | undefined;
    const onResult = (p: Promise<T>): void => {
      p.then(
        (reply) => {
          if (!settled) {
            settled = true;
            clearTimeout(timer);
            resolve(reply);
          }
        },
        (error: unknown) => {
          lastError = toDspexError(error);
          if (--pending === 0 && !settled) {
            settled = true;
            clearTimeout(timer);
            reject(lastError);
          }
        },
      );
    };
    const timer = setTimeout(() => {
      if (settled) return;
      const second = launch();
      if (second === undefined) return;
      pending++;
      onResult(second);
    }, afterMs);
    onResult(first);
  });
}
