/**
 * OTP's restart intensity: at most `maxRestarts` restarts within any `periodMs` window. The history is
 * a list of restart timestamps, pruned as the window slides; the supervisor keeps it in its context.
 */
import type { ResolvedSupervisorOptions } from './options.js';

/** The outcome of asking for one more restart at time `now`. */
export type IntensityCheck =
  /** The restart may go ahead; `history` now includes it. */
  | { allowed: true; history: readonly number[] }
  /** One restart too many within the window: the supervisor must escalate. */
  | { allowed: false; history: readonly number[] };

/**
 * Records a restart at `now` and says whether it stays within the intensity.
 * Timestamps at or before `now - periodMs` have left the window (OTP's `Now - Then < Period`).
 */
export function recordRestart(
  history: readonly number[],
  now: number,
  intensity: ResolvedSupervisorOptions['intensity'],
): IntensityCheck {
  const recent = history.filter((at) => now - at < intensity.periodMs);
  const next = [...recent, now];
  return next.length > intensity.maxRestarts
    ? { allowed: false, history: next }
    : { allowed: true, history: next };
}
