import { describe, expect, it } from 'vitest';
import { isDspexError } from '../../../src/errors.js';
import { estimateTokens, RateLimiter, TokenBucket } from '../../../src/llm/rate-limiter.js';

/** A manual clock: sleeping advances it. */
function fakeClock() {
  let t = 1_000_000;
  const sleeps: number[] = [];
  return {
    now: () => t,
    sleep: (ms: number) => {
      sleeps.push(ms);
      t += ms;
      return Promise.resolve();
    },
    advance: (ms: number) => {
      t += ms;
    },
    sleeps,
  };
}

describe('TokenBucket', () => {
  it('starts full, drains and refills at its rate', () => {
    const clock = fakeClock();
    const bucket = new TokenBucket(10, 0.01, clock.now);
    expect(bucket.waitTime(10)).toBe(0);
    bucket.take(10);
    expect(bucket.waitTime(1)).toBe(100);
    clock.advance(500);
    expect(bucket.available()).toBeCloseTo(5);
    clock.advance(10_000);
    expect(bucket.available()).toBe(10);
  });

  it('lets a correction return unused tokens, never above capacity', () => {
    const clock = fakeClock();
    const bucket = new TokenBucket(100, 0.001, clock.now);
    bucket.take(80);
    bucket.adjust(-50);
    expect(bucket.available()).toBe(70);
    bucket.adjust(-500);
    expect(bucket.available()).toBe(100);
  });
});

describe('RateLimiter', () => {
  it('spaces requests to the requests-per-second limit after the burst', async () => {
    const clock = fakeClock();
    const limiter = new RateLimiter({ requestsPerSecond: 2 }, clock);
    const start = clock.now();
    const times: number[] = [];
    for (let i = 0; i < 6; i++) {
      await limiter.acquire(0);
      times.push(clock.now() - start);
    }
    expect(times).toEqual([0, 0, 500, 1000, 1500, 2000]);
  });

  it('waits for tokens per minute, then settles the estimate with the real usage', async () => {
    const clock = fakeClock();
    const limiter = new RateLimiter({ tokensPerMinute: 600 }, clock); // 10 tokens/s
    await limiter.acquire(600);
    await limiter.acquire(100);
    expect(clock.sleeps.reduce((a, b) => a + b, 0)).toBe(10_000);
    // The call used 50 of its estimated 100: the next 50 are free at once.
    limiter.settle(100, 50);
    const before = clock.now();
    await limiter.acquire(50);
    expect(clock.now()).toBe(before);
  });

  it('refuses with 429 when the wait would pass the deadline', async () => {
    const clock = fakeClock();
    const limiter = new RateLimiter({ requestsPerSecond: 1 }, clock);
    await limiter.acquire(0);
    const error = await limiter.acquire(0, clock.now() + 100).catch((e: unknown) => e);
    expect(isDspexError(error) && error.status).toBe(429);
    // A refused call does not block the ones behind it.
    await limiter.acquire(0);
  });

  it('is free when no limit is set', async () => {
    const clock = fakeClock();
    const limiter = new RateLimiter({}, clock);
    for (let i = 0; i < 100; i++) await limiter.acquire(1_000_000);
    expect(clock.sleeps).toEqual([]);
  });

  it('estimates tokens from text length plus the answer budget', () => {
    expect(estimateTokens('x'.repeat(400), 50)).toBe(150);
    expect(estimateTokens('', undefined)).toBe(256);
  });
});
