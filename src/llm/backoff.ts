/**
 * Retry timing for LM calls: exponential backoff with full jitter, and the server's own
 * `Retry-After` when it sends one (seconds or an HTTP date).
 */

/** Retry policy of the HTTP adapter. */
export interface BackoffOptions {
  /** First delay bound, ms. @default 250 */
  baseMs: number;
  /** Largest delay, ms (a longer `Retry-After` is still honoured up to the deadline). @default 10000 */
  maxMs: number;
}

/**
 * Delay before retry number `attempt` (1 = the first retry): a uniformly random value in
 * `[0, min(maxMs, baseMs·2^(attempt-1))]` ("full jitter"), so callers hit by the same 429 spread out.
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
}

/**
 * Milliseconds a `Retry-After` header asks to wait, or `undefined` when absent or unreadable.
 * Accepts delta-seconds (`"2"`, `"0.5"`) and HTTP dates; a date in the past means 0.
 */
export function parseRetryAfter(
  value: string | null | undefined,
  now: number = Date.now(),
): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (text === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  // An HTTP date names its weekday and month; `Date.parse` would also read "-1" as a year.
  if (!/[A-Za-z]/.test(text)) return undefined;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** HTTP statuses worth retrying: rate limited, timed out upstream, or a server error. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || status >= 500;
}
