/**
 * Batches call records for `<prefix>.events.call` (and for the local telemetry actor) without ever
 * blocking the call path: `record()` samples, pushes onto a bounded buffer and returns; a timer (or a
 * full batch) flushes. A full buffer drops and counts; a sink that throws or rejects loses its batch
 * and counts it. Nothing is retried: telemetry is best-effort, and the counts say how good it was.
 */
import { MAX_BATCH_CALLS, MAX_SIGNATURE_CHARS, type CallBatch, type CallRecord } from '../protocol/events.js';

export interface CallBatcherOptions {
  /** This node's id (`batch.node`). */
  node: string;
  /** Receivers of every batch, e.g. a NATS publish and the telemetry actor's `send`. */
  sinks: Array<(batch: CallBatch) => void | Promise<void>>;
  /**
   * Fraction of calls recorded, uniformly at random (rates and quantiles are unbiased; divide counts
   * by it). @default 1
   */
  sampleRate?: number;
  /** Most calls in one batch. @default 500 */
  maxBatch?: number;
  /** Most calls waiting; past it new calls are dropped. @default 5000 */
  maxBuffer?: number;
  /** Flush interval, ms. @default 1000 */
  flushMs?: number;
  /** @default Math.random */
  random?: () => number;
  /** @default Date.now */
  now?: () => number;
}

/** What a batcher has done so far. */
export interface CallBatcherStats {
  /** Calls offered to `record`. */
  offered: number;
  /** Calls kept by sampling. */
  sampled: number;
  /** Sampled calls lost: buffer full, or a sink failed on their batch (counted once per failing sink). */
  dropped: number;
  /** Batches handed to the sinks. */
  batches: number;
  /** Sink calls that threw or rejected. */
  sinkErrors: number;
}

export interface CallBatcher {
  /** Offers one finished call; O(1), never throws, never waits. */
  record(call: CallRecord): void;
  /** Sends what is buffered now (in batches of at most `maxBatch`). */
  flush(): void;
  stats(): CallBatcherStats;
  /** Flushes and stops the timer. */
  close(): void;
}

export function createCallBatcher(options: CallBatcherOptions): CallBatcher {
  const sampleRate = options.sampleRate ?? 1;
  if (!(sampleRate > 0 && sampleRate <= 1))
    throw new RangeError(`sampleRate: expected (0, 1], got ${sampleRate}`);
  const maxBatch = Math.min(options.maxBatch ?? 500, MAX_BATCH_CALLS);
  const maxBuffer = options.maxBuffer ?? 5000;
  const random = options.random ?? Math.random;
  const now = options.now ?? Date.now;
  const stats: CallBatcherStats = { offered: 0, sampled: 0, dropped: 0, batches: 0, sinkErrors: 0 };
  let buffer: CallRecord[] = [];
  let seq = 0;
  // Drops not yet reported in a batch's `dropped`.
  let unreported = 0;

  const lost = (n: number): void => {
    stats.dropped += n;
    unreported += n;
  };

  const send = (calls: CallRecord[]): void => {
    const batch: CallBatch = {
      node: options.node,
      seq: ++seq,
      ts: now(),
      sample_rate: sampleRate,
      dropped: unreported,
      calls,
    };
    unreported = 0;
    stats.batches++;
    const failed = (): void => {
      stats.sinkErrors++;
      lost(calls.length);
    };
    for (const sink of options.sinks) {
      try {
        const done = sink(batch);
        if (done instanceof Promise) done.catch(failed);
      } catch {
        failed();
      }
    }
  };

  const flush = (): void => {
    while (buffer.length > 0) {
      const calls = buffer.length <= maxBatch ? buffer : buffer.slice(0, maxBatch);
      buffer = buffer.length <= maxBatch ? [] : buffer.slice(maxBatch);
      send(calls);
    }
  };

  const timer = setInterval(flush, options.flushMs ?? 1000);
  timer.unref?.();

  return {
    record(call) {
      stats.offered++;
      if (sampleRate < 1 && random() >= sampleRate) return;
      stats.sampled++;
      if (buffer.length >= maxBuffer) {
        lost(1);
        return;
      }
      buffer.push(
        call.signature.length > MAX_SIGNATURE_CHARS
          ? { ...call, signature: call.signature.slice(0, MAX_SIGNATURE_CHARS) }
          : call,
      );
      if (buffer.length >= maxBatch) queueMicrotask(flush);
    },
    flush,
    stats: () => ({ ...stats }),
    close() {
      clearInterval(timer);
      flush();
    },
  };
}
