/**
 * Load generators for request/reply subjects: a sequential latency probe and a closed-loop
 * generator (N callers, each sending its next call when the previous one is answered). Both are
 * bounded in calls and in time, so a slow or stuck subject cannot hold a run hostage.
 */
import { perSecond, summarize, type LatencySummary } from './stats.js';

/** One call of the subject under test; `lane` is the caller's index (0..concurrency-1). */
export type Call = (lane: number) => Promise<unknown>;

export interface LatencyOptions {
  /** Calls measured. */
  iterations: number;
  /** Calls made first and discarded (JIT, caches, connection set-up). @default 20 */
  warmup?: number;
  /** Stop early after this much measuring time. @default 60000 */
  maxMs?: number;
}

/** Calls `call` one at a time; returns each call's latency, ms. */
export async function measureLatency(call: Call, options: LatencyOptions): Promise<number[]> {
  for (let i = 0; i < (options.warmup ?? 20); i++) await call(0);
  const samples: number[] = [];
  const stopAt = performance.now() + (options.maxMs ?? 60_000);
  while (samples.length < options.iterations && performance.now() < stopAt) {
    const start = performance.now();
    await call(0);
    samples.push(performance.now() - start);
  }
  return samples;
}

export interface ClosedLoopOptions {
  /** Callers running at once; each has one call in flight. */
  concurrency: number;
  /** Stop after this many completed calls (all callers together). */
  maxCalls: number;
  /** Stop after this much time, ms; calls in flight then are awaited and counted. */
  maxMs: number;
  /** Calls per caller made first, all callers at once, and discarded. @default 0 */
  warmupPerLane?: number;
}

/** One closed-loop run: the latency of every completed call and the wall time they took. */
export interface LoadRun {
  samples_ms: number[];
  elapsed_ms: number;
}

/**
 * Runs `concurrency` callers in a closed loop until `maxCalls` calls completed or `maxMs` passed.
 * The first failure stops every caller and is rethrown: a benchmark that silently counts errors as
 * calls would flatter the subject.
 */
export async function closedLoop(call: Call, options: ClosedLoopOptions): Promise<LoadRun> {
  const { concurrency, maxCalls, maxMs } = options;
  const warmup = options.warmupPerLane ?? 0;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, lane) => {
      for (let i = 0; i < warmup; i++) await call(lane);
    }),
  );
  const samples: number[] = [];
  let started = 0;
  let failed: Error | undefined;
  const start = performance.now();
  const stopAt = start + maxMs;
  const lane = async (index: number): Promise<void> => {
    while (failed === undefined && started < maxCalls && performance.now() < stopAt) {
      started++;
      const t0 = performance.now();
      try {
        await call(index);
      } catch (error) {
        failed ??= error instanceof Error ? error : new Error(String(error));
        return;
      }
      samples.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, i) => lane(i)));
  const elapsed = performance.now() - start;
  if (failed !== undefined) throw failed;
  return { samples_ms: samples, elapsed_ms: elapsed };
}

/** Calls/s over several runs (all calls over all wall time) and the pooled latency under load. */
export function summarizeLoad(runs: readonly LoadRun[]): LatencySummary & { calls: number; per_s: number } {
  const samples = runs.flatMap((r) => r.samples_ms);
  const elapsed = runs.reduce((acc, r) => acc + r.elapsed_ms, 0);
  return { ...summarize(samples), calls: samples.length, per_s: perSecond(samples.length, elapsed) };
}
