import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DspexError, ErrorCode } from '../../../src/errors.js';
import { HEDGE_MIN_MS, hedgeDelay, raceWithHedge } from '../../../src/pools/hedging.js';

function deferred<T>(): { promise: Promise<T>; resolve(v: T): void; reject(e: unknown): void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('hedgeDelay', () => {
  it('waits three times the median, at least the minimum, and only with a median', () => {
    expect(hedgeDelay(undefined, 10_000)).toBeUndefined();
    expect(hedgeDelay(100, 10_000)).toBe(300);
    expect(hedgeDelay(1, 10_000)).toBe(HEDGE_MIN_MS);
  });

  it('sends no hedge when less than twice the delay is left before the deadline', () => {
    expect(hedgeDelay(100, 599)).toBeUndefined();
    expect(hedgeDelay(100, 600)).toBe(300);
  });
});

describe('raceWithHedge', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('launches the hedge after the delay and resolves with the first reply', async () => {
    const first = deferred<string>();
    const second = deferred<string>();
    const launch = vi.fn(() => second.promise);
    const race = raceWithHedge(first.promise, 300, launch);
    await vi.advanceTimersByTimeAsync(299);
    expect(launch).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(launch).toHaveBeenCalledOnce();
    second.resolve('hedge');
    first.resolve('primary');
    await expect(race).resolves.toBe('hedge');
  });

  it('never launches when the first attempt answers before the delay', async () => {
    const first = deferred<string>();
    const launch = vi.fn(() => Promise.resolve('hedge'));
    const race = raceWithHedge(first.promise, 300, launch);
    first.resolve('primary');
    await expect(race).resolves.toBe('primary');
    await vi.advanceTimersByTimeAsync(1000);
    expect(launch).not.toHaveBeenCalled();
  });

  it('keeps waiting for the other attempt when one fails', async () => {
    const first = deferred<string>();
    const second = deferred<string>();
    const race = raceWithHedge(first.promise, 300, () => second.promise);
    await vi.advanceTimersByTimeAsync(300);
    first.reject(new DspexError(ErrorCode.Unavailable, 'primary died'));
    second.resolve('hedge');
    await expect(race).resolves.toBe('hedge');
  });

  it('rejects with the last failure when every attempt failed', async () => {
    const first = deferred<string>();
    const second = deferred<string>();
    const race = raceWithHedge(first.promise, 300, () => second.promise);
    race.catch(() => undefined);
    await vi.advanceTimersByTimeAsync(300);
    first.reject(new DspexError(ErrorCode.Unavailable, 'primary died'));
    await vi.advanceTimersByTimeAsync(0);
    second.reject(new Error('hedge broke'));
    await expect(race).rejects.toMatchObject({ code: ErrorCode.Internal, message: 'hedge broke' });
  });

  it('settles with the first attempt alone when no worker may take a hedge', async () => {
    const first = deferred<string>();
    const race = raceWithHedge(first.promise, 300, () => undefined);
    race.catch(() => undefined);
    await vi.advanceTimersByTimeAsync(300);
    first.reject(new DspexError(ErrorCode.Unavailable, 'primary died'));
    await expect(race).rejects.toMatchObject({ message: 'primary died' });
  });
});
