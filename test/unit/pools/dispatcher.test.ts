import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode } from '../../../src/errors.js';
import { fakePool, POOL } from './fake-pool.js';

const counter = async (c: { get(): Promise<{ values: Array<{ value: number }> }> }): Promise<number> =>
  (await c.get()).values.reduce((n, v) => n + v.value, 0);

describe('dispatcher', () => {
  beforeEach(() => {
    vi.useFakeTimers({
      toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance'],
    });
  });
  afterEach(() => vi.useRealTimers());

  describe('queueing', () => {
    it('queues a call while every worker is busy and hands it the first freed slot', async () => {
      const f = fakePool();
      f.worker('a');
      const first = f.call(1);
      const second = f.call(2);
      await f.settle();
      expect(f.sent.map((s) => s.target.worker)).toEqual(['a']);
      expect(f.dispatcher.queueLength(POOL)).toBe(1);
      f.sent[0]!.reply();
      await expect(first).resolves.toMatchObject({ worker: 'a' });
      await f.settle();
      expect(f.workersOf(2)).toEqual(['a']);
      expect(f.dispatcher.queueLength(POOL)).toBe(0);
      f.sent[1]!.reply();
      await expect(second).resolves.toMatchObject({ worker: 'a' });
    });

    it('serves waiting calls first come first served, and a newcomer does not overtake them', async () => {
      const f = fakePool();
      f.worker('a');
      void f.call(1);
      void f.call(2);
      void f.call(3);
      await f.settle();
      f.sent[0]!.reply();
      await f.settle();
      // A call arriving as a slot frees still queues behind 3.
      void f.call(4);
      f.sent[1]!.reply();
      await f.settle();
      f.sent[2]!.reply();
      await f.settle();
      expect(f.sent.map((s) => s.request.inputs.question)).toEqual(['q1', 'q2', 'q3', 'q4']);
    });

    it('answers 429 at once when the queue is full', async () => {
      const f = fakePool({ queueLimit: 1 });
      f.worker('a');
      void f.call(1);
      void f.call(2);
      await expect(f.call(3)).rejects.toMatchObject({ code: ErrorCode.Overloaded });
      expect(f.dispatcher.queueLength(POOL)).toBe(1);
    });

    it('answers 408 when a waiting call passes its deadline, without reaching a worker', async () => {
      const f = fakePool();
      f.worker('a');
      void f.call(1);
      const late = f.call(2, { deadline: Date.now() + 500 });
      await f.settle();
      await vi.advanceTimersByTimeAsync(500);
      await expect(late).rejects.toMatchObject({ code: ErrorCode.DeadlineExceeded });
      expect(f.dispatcher.queueLength(POOL)).toBe(0);
      f.sent[0]!.reply();
      await f.settle();
      expect(f.workersOf(2)).toEqual([]);
    });

    it('gives a waiting call to a worker that becomes ready', async () => {
      const f = fakePool();
      f.worker('a', 'starting');
      const call = f.call(1);
      await f.settle();
      expect(f.sent).toHaveLength(0);
      f.worker('a', 'ready');
      await f.settle();
      f.sent[0]!.reply();
      await expect(call).resolves.toMatchObject({ worker: 'a' });
    });

    it('answers 503 when the pool has no worker alive or starting', async () => {
      const f = fakePool();
      await expect(f.call(1)).rejects.toMatchObject({ code: ErrorCode.Unavailable });
    });

    it('fails every waiting call with 503 when it closes', async () => {
      const f = fakePool();
      f.worker('a');
      void f.call(1);
      const waiting = [f.call(2), f.call(3), f.call(4)];
      await f.settle();
      f.dispatcher.close();
      for (const w of waiting) await expect(w).rejects.toMatchObject({ code: ErrorCode.Unavailable });
      expect(f.dispatcher.queueLength(POOL)).toBe(0);
    });
  });

  describe('hedging', () => {
    /** Gives the pool a median latency of 10 ms (fake time) over a few calls on each worker. */
    const warmUp = async (f: ReturnType<typeof fakePool>): Promise<void> => {
      for (let i = 0; i < 4; i++) {
        const call = f.call(100 + i);
        await f.settle();
        await vi.advanceTimersByTimeAsync(10);
        f.sent.at(-1)!.reply();
        await call;
      }
    };

    it('sends a straggler a second time to another worker after 3x the median, and the first reply wins', async () => {
      const f = fakePool({ strategy: 'adaptive', hedging: true });
      f.worker('a', 'ready', 2);
      f.worker('b', 'ready', 2);
      await warmUp(f);
      const call = f.call(1);
      await f.settle();
      const [primary] = f.workersOf(1);
      await vi.advanceTimersByTimeAsync(29);
      expect(f.workersOf(1)).toHaveLength(1);
      await vi.advanceTimersByTimeAsync(1);
      const [, hedge] = f.workersOf(1);
      expect(hedge).toBeDefined();
      expect(hedge).not.toBe(primary);
      f.sent.at(-1)!.reply();
      await expect(call).resolves.toMatchObject({ worker: hedge });
      expect(await counter(f.metrics.hedges)).toBe(1);
      expect(f.attempts.filter((a) => a.hedge)).toEqual([
        expect.objectContaining({ worker: hedge, ok: true }),
      ]);
    });

    it('sends no hedge when the first attempt answers in time', async () => {
      const f = fakePool({ strategy: 'adaptive', hedging: true });
      f.worker('a', 'ready', 2);
      f.worker('b', 'ready', 2);
      await warmUp(f);
      const call = f.call(1);
      await f.settle();
      await vi.advanceTimersByTimeAsync(20);
      f.sent.at(-1)!.reply();
      await call;
      await vi.advanceTimersByTimeAsync(1000);
      expect(f.workersOf(1)).toHaveLength(1);
      expect(await counter(f.metrics.hedges)).toBe(0);
    });

    it('never hedges with plain least-loaded routing', async () => {
      const f = fakePool({ strategy: 'least_loaded', hedging: true });
      f.worker('a', 'ready', 2);
      f.worker('b', 'ready', 2);
      await warmUp(f);
      void f.call(1);
      await f.settle();
      await vi.advanceTimersByTimeAsync(1000);
      expect(f.workersOf(1)).toHaveLength(1);
    });
  });

  describe('session affinity', () => {
    it('keeps a session on the worker that answered its first call, even when another is less loaded', async () => {
      const f = fakePool();
      f.worker('a', 'ready', 4);
      f.worker('b', 'ready', 4);
      const first = f.call(1, { session: 's1' });
      await f.settle();
      const [home] = f.workersOf(1);
      f.sent[0]!.reply();
      await first;
      // Load the session's worker so least-loaded routing alone would pick the other.
      void f.call(2);
      void f.call(3);
      await f.settle();
      const busier = f.sent.filter((s) => s.target.worker === home).length;
      expect(busier).toBeGreaterThan(0);
      void f.call(4, { session: 's1' });
      await f.settle();
      expect(f.workersOf(4)).toEqual([home]);
      expect(f.dispatcher.hasAffinity('s1')).toBe(true);
    });

    it("waits for its session's worker rather than go to a free one", async () => {
      const f = fakePool();
      f.worker('a');
      f.worker('b');
      f.dispatcher.seedAffinity('s1', 'a');
      void f.call(1, { session: 's1' });
      await f.settle();
      const second = f.call(2, { session: 's1' });
      await f.settle();
      expect(f.workersOf(2)).toEqual([]);
      f.sent[0]!.reply();
      await f.settle();
      expect(f.workersOf(2)).toEqual(['a']);
      f.sent[1]!.reply();
      await expect(second).resolves.toMatchObject({ worker: 'a' });
    });

    it('routes a session seeded from its record to that worker, and a seed never moves a session', async () => {
      const f = fakePool();
      f.worker('a', 'ready', 4);
      f.worker('b', 'ready', 4);
      f.dispatcher.seedAffinity('s1', 'b');
      f.dispatcher.seedAffinity('s1', 'a');
      void f.call(1, { session: 's1' });
      await f.settle();
      expect(f.workersOf(1)).toEqual(['b']);
    });
  });

  describe('retries', () => {
    it('retries a retryable failure on another worker, never the one that failed', async () => {
      const f = fakePool();
      f.worker('a', 'ready', 4);
      f.worker('b', 'ready', 4);
      void f.call(0);
      await f.settle();
      const call = f.call(1);
      await f.settle();
      // The failed worker is the least loaded afterwards: only the exclusion keeps the retry off it.
      const [failed] = f.workersOf(1);
      f.sent[1]!.fail(ErrorCode.Unavailable);
      await f.settle();
      const [, retried] = f.workersOf(1);
      expect(retried).toBe(failed === 'a' ? 'b' : 'a');
      f.sent[2]!.reply();
      await expect(call).resolves.toMatchObject({ worker: retried });
      expect(await counter(f.metrics.retries)).toBe(1);
    });

    it('returns a non-retryable error at once', async () => {
      const f = fakePool();
      f.worker('a', 'ready', 4);
      f.worker('b', 'ready', 4);
      const call = f.call(1);
      await f.settle();
      f.sent[0]!.fail(ErrorCode.ValidationFailed);
      await expect(call).rejects.toMatchObject({ code: ErrorCode.ValidationFailed });
      expect(f.workersOf(1)).toHaveLength(1);
    });

    it('fails an attempt at once when its worker crashes, and retries it on another worker', async () => {
      const f = fakePool();
      f.worker('a', 'ready', 4);
      f.worker('b', 'ready', 4);
      const call = f.call(1);
      await f.settle();
      const [doomed] = f.workersOf(1);
      f.worker(doomed!, 'crashed');
      await f.settle();
      const [, retried] = f.workersOf(1);
      expect(retried).toBe(doomed === 'a' ? 'b' : 'a');
      f.sent[1]!.reply();
      await expect(call).resolves.toMatchObject({ worker: retried });
      expect(f.dispatcher.poolWorkers(POOL).map((w) => w.id)).toEqual([retried]);
    });

    it('gives up after maxAttempts, each on a distinct worker, with the last error', async () => {
      const f = fakePool({}, 3);
      for (const id of ['a', 'b', 'c', 'd']) f.worker(id, 'ready', 4);
      const call = f.call(1);
      for (let i = 0; i < 3; i++) {
        await f.settle();
        f.sent[i]!.fail(ErrorCode.Unavailable);
      }
      await expect(call).rejects.toMatchObject({ code: ErrorCode.Unavailable });
      expect(new Set(f.workersOf(1)).size).toBe(3);
    });

    it('answers 503 once every worker of the pool has failed the call', async () => {
      const f = fakePool({}, 3);
      f.worker('a', 'ready', 4);
      f.worker('b', 'ready', 4);
      const call = f.call(1);
      for (let i = 0; i < 2; i++) {
        await f.settle();
        f.sent[i]!.fail(ErrorCode.Unavailable);
      }
      await expect(call).rejects.toMatchObject({
        code: ErrorCode.Unavailable,
        message: `pool ${POOL} has no live worker`,
      });
      expect(f.workersOf(1).sort()).toEqual(['a', 'b']);
    });
  });

  it('asks once to recycle a managed worker that reached its call budget', async () => {
    const f = fakePool({ recycleAfterCalls: 2 });
    f.worker('a', 'ready', 4);
    for (let n = 1; n <= 3; n++) {
      const call = f.call(n);
      await f.settle();
      f.sent.at(-1)!.reply();
      await call;
    }
    expect(f.recycled).toEqual(['a']);
  });
});
