import { DspexError, ErrorCode } from '../errors.js';
import { worthSending } from './admission.js';
import type { RouteDecision } from './routing.js';

/** What a waiting call asks of routing when a slot may be free. */
export interface WaitRequest {
  /** Absolute deadline, unix ms. */
  deadline: number;
  /** The worker the call waits for (its session's, or its rotation turn's), if any. */
  affinity: string | undefined;
  /** Workers that already failed this call. */
  excluded: ReadonlySet<string>;
}

interface Waiter extends WaitRequest {
  wake(id: string): void;
  fail(error: DspexError): void;
}

/** What {@link WaitQueues.pump} needs to know about the pool at the moment it runs. */
export interface PumpContext {
  /** Calls the pool's workers could take right now. */
  freeSlots: number;
  /** Typical time of one call on the busy pool, ms, if known (a call due sooner is dropped). */
  serviceMs: number | undefined;
  /** Whether the pool has a worker that is or will be able to take calls. */
  hasCandidate(): boolean;
  /** Routes one waiting call, `ahead` calls being in the queue before it. */
  decide(affinity: string | undefined, excluded: ReadonlySet<string>, ahead: number): RouteDecision;
}

export interface WaitQueuesOptions {
  /** Called with a pool's queue length whenever it changes (the `dspex_queued_calls` gauge). */
  onLength(pool: string, length: number): void;
}

/**
 * The calls waiting for a worker, one first-come-first-served queue per pool. A waiting call ends
 * in one of three ways: a worker is handed to it ({@link pump}), its deadline passes (408), or it
 * is failed (no live worker: 503; shutdown: 503). Admission (whether a call may join at all) is
 * the dispatcher's decision, made before {@link wait}.
 */
export class WaitQueues<W> {
  private readonly queues = new Map<string, Waiter[]>();

  constructor(private readonly o: WaitQueuesOptions) {}

  length(pool: string): number {
    return this.queues.get(pool)?.length ?? 0;
  }

  /**
   * Queues a call until a worker is handed to it; `take` turns the worker's id into the reserved
   * worker the promise resolves with. The caller pumps the queue afterwards: calls ahead may be
   * waiting for one particular worker, and this one may fit elsewhere now.
   */
  wait(pool: string, request: WaitRequest, take: (id: string) => W): Promise<W> {
    let queue = this.queues.get(pool);
    if (queue === undefined) this.queues.set(pool, (queue = []));
    const q = queue;
    return new Promise<W>((resolve, reject) => {
      const remove = (): void => {
        const i = q.indexOf(waiter);
        if (i >= 0) q.splice(i, 1);
        this.o.onLength(pool, q.length);
      };
      const timer = setTimeout(
        () => {
          remove();
          reject(
            new DspexError(
              ErrorCode.DeadlineExceeded,
              `deadline passed waiting for a worker of pool ${pool}`,
            ),
          );
        },
        Math.max(0, request.deadline - Date.now()),
      );
      const waiter: Waiter = {
        ...request,
        wake: (id) => {
          clearTimeout(timer);
          remove();
          resolve(take(id));
        },
        fail: (error) => {
          clearTimeout(timer);
          remove();
          reject(error);
        },
      };
      q.push(waiter);
      this.o.onLength(pool, q.length);
    });
  }

  /**
   * Hands free workers to waiting calls, first come first served. Stops as soon as no worker has
   * room (O(1) per finished call, not O(queue)); a call at the front whose deadline is too close
   * to be met is dropped with 408 instead of taking the slot.
   */
  pump(pool: string, ctx: PumpContext): void {
    const queue = this.queues.get(pool);
    if (queue === undefined || queue.length === 0) return;
    let free = ctx.freeSlots;
    let ahead = 0;
    let i = 0;
    while (i < queue.length) {
      const waiter = queue[i]!;
      if (!worthSending(waiter.deadline, Date.now(), ctx.serviceMs)) {
        waiter.fail(
          new DspexError(ErrorCode.DeadlineExceeded, `deadline too close to start the call on pool ${pool}`),
        );
        continue;
      }
      if (free <= 0 && ctx.hasCandidate()) return;
      const decision = ctx.decide(waiter.affinity, waiter.excluded, ahead);
      if (decision.kind === 'worker') {
        waiter.wake(decision.id);
        free--;
      } else if (decision.kind === 'none') {
        waiter.fail(
          new DspexError(ErrorCode.Unavailable, `pool ${pool} has no live worker`, { details: { pool } }),
        );
      } else {
        ahead++;
        i++;
      }
    }
  }

  /** Fails every waiting call with 503 (node shutdown). */
  close(): void {
    for (const [pool, queue] of this.queues) {
      for (const w of [...queue])
        w.fail(new DspexError(ErrorCode.Unavailable, `pool ${pool}: node is shutting down`));
      queue.length = 0;
    }
  }
}
