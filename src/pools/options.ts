import { z } from 'zod';

/** One pool of Python DSPy workers. */
export const PoolOptionsSchema = z.strictObject({
  /** Local workers this node keeps running (0: route only to workers started elsewhere). @default 1 */
  size: z.number().int().min(0).max(256).default(1),
  /**
   * Most local workers the orchestrator may grow the pool to (for a batch that would miss its
   * deadline); it shrinks back to `size` when idle. @default `size` (no growth)
   */
  maxSize: z.number().int().min(0).max(256).optional(),
  /**
   * Calls one worker runs at once. @default {@link IO_BOUND_CONCURRENCY} (512) when the pool's LM is
   * a real model (`lm`, or the node's `worker.lm`): such a call waits on the network, and one worker
   * process holds hundreds of them; {@link DUMMY_CONCURRENCY} (4) for the dummy LM, whose calls only
   * burn the worker's CPU (docs/benchmarks.md, `concurrency`).
   */
  concurrency: z.number().int().min(1).max(1024).optional(),
  /** Calls allowed to wait for a free worker; beyond it callers get 429. @default 1000 */
  queueLimit: z.number().int().min(0).default(1000),
  /** Replace a local worker after it served this many calls through this node. */
  recycleAfterCalls: z.number().int().positive().optional(),
  /** Replace a local worker whose resident memory passes this many MiB. */
  maxRssMb: z.number().positive().optional(),
  /** Worker heartbeat period; three missed heartbeats mark a worker crashed. @default 1000 */
  heartbeatMs: z.number().int().min(50).default(1000),
  /** Time a new worker has to announce itself. @default 120000 */
  startTimeoutMs: z.number().int().positive().default(120_000),
  /** Time a draining worker has to finish its calls. @default 35000 */
  drainTimeoutMs: z.number().int().positive().default(35_000),
  /** DSPy model name for this pool's workers (`DSPEX_LM`), e.g. `openai/gpt-4o-mini` or `dummy`. */
  lm: z.string().min(1).optional(),
  /** Extra environment for this pool's workers. */
  env: z.record(z.string(), z.string()).default({}),
  /**
   * Devices this pool owns (GPU indices or UUIDs, e.g. `["0", "1"]`): each local worker gets one
   * of its own in `CUDA_VISIBLE_DEVICES`, the one the fewest live workers of the pool hold (a pool
   * larger than its device list shares them evenly).
   */
  devices: z
    .array(z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'a device is 1-64 of [A-Za-z0-9_.:-]'))
    .min(1)
    .max(256)
    .optional(),
  /**
   * How a worker is chosen: `adaptive` (observed latency, load, errors and circuit breakers),
   * `least_loaded`, or `round_robin`. @default 'adaptive'
   */
  routing: z.enum(['adaptive', 'least_loaded', 'round_robin']).default('adaptive'),
  /** Send a second copy of a straggling call to another worker (adaptive routing). @default true */
  hedging: z.boolean().default(true),
  /** Per-worker circuit breaker. @default 3 consecutive failures or > 50% of the last 10; open 1 s, doubling to 30 s */
  breaker: z
    .strictObject({
      failureThreshold: z.number().int().positive().optional(),
      errorRateThreshold: z.number().gt(0).max(1).optional(),
      window: z.number().int().positive().optional(),
      openMs: z.number().int().positive().optional(),
      maxOpenMs: z.number().int().positive().optional(),
    })
    .default({}),
  /** Restart intensity of the pool's workers supervisor. @default 10 restarts in 10 s */
  intensity: z
    .strictObject({ maxRestarts: z.number().int().min(0), periodMs: z.number().int().positive() })
    .default({ maxRestarts: 10, periodMs: 10_000 }),
});
export type PoolOptions = z.input<typeof PoolOptionsSchema>;
export type ResolvedPoolOptions = z.output<typeof PoolOptionsSchema> & { concurrency: number };

/** Default per-worker concurrency of a pool on a real (network-bound) LM. */
export const IO_BOUND_CONCURRENCY = 512;
/** Default per-worker concurrency of a pool on the dummy LM (CPU-bound test calls). */
export const DUMMY_CONCURRENCY = 4;

/** The concurrency a pool's workers run with: its own, else the default for the LM it runs. */
export function poolConcurrency(
  pool: z.output<typeof PoolOptionsSchema>,
  nodeLm: string | undefined,
): number {
  if (pool.concurrency !== undefined) return pool.concurrency;
  const lm = pool.lm ?? pool.env.DSPEX_LM ?? nodeLm ?? 'dummy';
  return lm === 'dummy' ? DUMMY_CONCURRENCY : IO_BOUND_CONCURRENCY;
}
