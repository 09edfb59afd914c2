/**
 * A dispatcher over a fake `send`: every attempt is recorded and stays pending until the test
 * answers it, so queueing, hedging, affinity and retries can be driven step by step (fake timers).
 */
import pino from 'pino';
import { Registry } from 'prom-client';
import { vi } from 'vitest';
import { DspexError, ErrorCode } from '../../../src/errors.js';
import {
  Dispatcher,
  type AttemptResult,
  type CallOptions,
  type PoolLimits,
} from '../../../src/pools/dispatcher.js';
import type { SendTarget, WorkerSend } from '../../../src/pools/worker-call.js';
import type { PredictReply, WorkerHeartbeat, WorkerPredictRequest } from '../../../src/protocol/schemas.js';
import { createMetrics, type RuntimeMetrics } from '../../../src/telemetry/metrics.js';

export const POOL = 'p';

/** One attempt the dispatcher sent, waiting for the test's answer. */
export interface Sent {
  target: SendTarget;
  request: WorkerPredictRequest;
  /** Answers with a reply from the worker the attempt went to. */
  reply(): void;
  fail(code: ErrorCode): void;
}

export const request = (n: number): WorkerPredictRequest => ({
  op: 'predict',
  module: 'Predict',
  signature: 'question -> answer',
  inputs: { question: `q${n}` },
});

export interface FakePool {
  dispatcher: Dispatcher;
  metrics: RuntimeMetrics;
  sent: Sent[];
  attempts: AttemptResult[];
  recycled: string[];
  /** Announces a worker (or a state change of one). */
  worker(
    id: string,
    state?: 'starting' | 'ready' | 'busy' | 'crashed' | 'stopped',
    concurrency?: number,
  ): void;
  /** Starts call `n` (its request asks question `q<n>`). */
  call(n: number, options?: Partial<CallOptions>): Promise<PredictReply>;
  /** The workers the attempts of call `n` went to, in order. */
  workersOf(n: number): string[];
  /** Lets pending promise callbacks run (no fake time passes). */
  settle(): Promise<void>;
}

export function fakePool(limits: Partial<PoolLimits> = {}, maxAttempts = 3): FakePool {
  const sent: Sent[] = [];
  const send: WorkerSend = (target, req) =>
    new Promise<PredictReply>((resolve, reject) => {
      sent.push({
        target,
        request: req,
        reply: () => resolve({ outputs: { answer: 'a' }, worker: target.worker, latency_ms: 1 }),
        fail: (code) => reject(new DspexError(code, `${target.worker} failed with ${code}`)),
      });
    });
  const metrics = createMetrics(new Registry());
  const attempts: AttemptResult[] = [];
  const recycled: string[] = [];
  const dispatcher = new Dispatcher({
    send,
    logger: pino({ level: 'silent' }),
    metrics,
    maxAttempts,
    limits: () => ({
      queueLimit: 100,
      recycleAfterCalls: undefined,
      strategy: 'least_loaded',
      hedging: false,
      breaker: {},
      ...limits,
    }),
    onRecycle: (_, worker) => recycled.push(worker),
    onAttempt: (r) => attempts.push(r),
  });
  return {
    dispatcher,
    metrics,
    sent,
    attempts,
    recycled,
    worker(id, state = 'ready', concurrency = 1) {
      dispatcher.update({
        id,
        pool: POOL,
        managed: true,
        state,
        heartbeat: { concurrency } as WorkerHeartbeat,
        reason: state === 'crashed' ? 'killed by the test' : undefined,
      });
    },
    call(n, options = {}) {
      const p = dispatcher.call(POOL, request(n), {
        deadline: Date.now() + 60_000,
        session: undefined,
        trace: undefined,
        ...options,
      });
      // The test reads outcomes with expect(...).rejects / await; keep Node from flagging it meanwhile.
      p.catch(() => undefined);
      return p;
    },
    workersOf(n) {
      return sent.filter((s) => s.request.inputs.question === `q${n}`).map((s) => s.target.worker);
    },
    settle: async () => {
      await vi.advanceTimersByTimeAsync(0);
    },
  };
}
