/**
 * Per-provider rate limits as two token buckets: requests per second and LM tokens per minute.
 * A call waits (bounded by its deadline) until both buckets can pay for it; the token bucket is
 * charged an estimate up front and corrected with the usage the provider reports.
 */
import { DspexError, ErrorCode } from '../errors.js';

/** A token bucket refilled continuously at `ratePerMs`, holding at most `capacity`. */
export class TokenBucket {
  private level: number;
  private updated: number;

  constructor(
    readonly capacity: number,
    readonly ratePerMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.level = capacity;
    this.updated = now();
  }

  private refill(): void {
    const t = this.now();
    this.level = Math.min(this.capacity, this.level + (t - this.updated) * this.ratePerMs);
    this.updated = t;
  }

  /** Ms until `amount` is available (0: now). An amount over capacity waits for a full bucket. */
  waitTime(amount: number): number {
    this.refill();
    const need = Math.min(amount, this.capacity) - this.level;
    return need <= 0 ? 0 : Math.ceil(need / this.ratePerMs);
  }

  /** Takes `amount` (the level may go negative: a debt later calls wait out). */
  take(amount: number): void {
    this.refill();
    this.level -= amount;
  }

  /** Returns or charges a correction (actual minus estimated use). */
  adjust(delta: number): void {
    this.refill();
    this.level = Math.min(this.capacity, this.level - delta);
  }

  available(): number {
    this.refill();
    return this.level;
  }
}

/** Limits of one provider; unset means unlimited. */
export interface RateLimits {
  requestsPerSecond?: number | undefined;
  tokensPerMinute?: number | undefined;
}

/** Both buckets of one provider, with a FIFO of waiting calls so none starves. */
export class RateLimiter {
  private readonly requests: TokenBucket | undefined;
  private readonly tokens: TokenBucket | undefined;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    limits: RateLimits,
    private readonly clock: { now: () => number; sleep: (ms: number) => Promise<void> } = {
      now: Date.now,
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    },
  ) {
    const rps = limits.requestsPerSecond;
    const tpm = limits.tokensPerMinute;
    // A burst of one second's requests; a minute's tokens.
    this.requests = rps === undefined ? undefined : new TokenBucket(Math.max(1, rps), rps / 1000, clock.now);
    this.tokens = tpm === undefined ? undefined : new TokenBucket(tpm, tpm / 60_000, clock.now);
  }

  /**
   * Waits until one request costing `estimatedTokens` may start, then charges it.
   * @throws {DspexError} 429 `overloaded` when the wait would pass `deadline`.
   */
  acquire(estimatedTokens: number, deadline = Number.POSITIVE_INFINITY): Promise<void> {
    if (this.requests === undefined && this.tokens === undefined) return Promise.resolve();
    const turn = this.chain.then(async () => {
      for (;;) {
        const wait = Math.max(this.requests?.waitTime(1) ?? 0, this.tokens?.waitTime(estimatedTokens) ?? 0);
        if (wait === 0) break;
        if (this.clock.now() + wait > deadline) {
          throw new DspexError(
            ErrorCode.Overloaded,
            `LM rate limit: next slot in ${wait} ms, past the deadline`,
            {
              details: { wait_ms: wait },
            },
          );
        }
        await this.clock.sleep(wait);
      }
      this.requests?.take(1);
      this.tokens?.take(estimatedTokens);
    });
    // A failed turn must not block the calls queued behind it.
    this.chain = turn.catch(() => undefined);
    return turn;
  }

  /** Corrects the token bucket once the provider reported the real usage. */
  settle(estimatedTokens: number, actualTokens: number): void {
    this.tokens?.adjust(actualTokens - estimatedTokens);
  }
}

/** A rough token count for a request before it is sent: ~4 characters per token. */
export function estimateTokens(text: string, maxTokens: number | undefined): number {
  return Math.ceil(text.length / 4) + (maxTokens ?? 256);
}
