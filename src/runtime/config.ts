import { z } from 'zod';
import { DspexError, ErrorCode } from '../errors.js';
import { LlmOptionsSchema } from '../llm/options.js';
import { VariablesOptionsSchema } from '../variables/options.js';
import { PipelinesOptionsSchema } from '../pipelines/options.js';
import { SessionsOptionsSchema } from '../sessions/options.js';
import { MetricsOptionsSchema } from '../telemetry/node-telemetry.js';
import { loginMethods, natsAuthFromEnv, NatsAuthSchema, type NatsAuth } from '../nats/nats-connect.js';
import { isForbiddenWorkerEnv } from '../workers/env.js';
import { NodeIdSchema, PoolNameSchema, PrefixSchema } from '../protocol/names.js';

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

/** Options of {@link createRuntime}. */
export const RuntimeOptionsSchema = z
  .strictObject({
    /**
     * NATS server URL(s) and how this node logs in (user/pass, token, nkey seed file or creds file),
     * TLS, and its inbox prefix (default `_INBOX_node`). Unset: the runtime starts a private
     * `nats-server` with JetStream and stops it on shutdown. Env `DSPEX_NATS_URL` (comma-separated)
     * and `DSPEX_NATS_*` (docs/configuration.md) are used when this is unset.
     */
    nats: NatsAuthSchema.extend({
      servers: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
    })
      .superRefine(oneLogin)
      .optional(),
    /** Subject prefix. @default 'dspex' */
    prefix: PrefixSchema.default('dspex'),
    /** This node's id (1-64 of `[A-Za-z0-9_-]`). @default `n-` and 8 random hex digits */
    nodeId: NodeIdSchema.optional(),
    /** Worker pools by name (1-64 of `[A-Za-z0-9_-]`). @default { general: { size: 2 } } */
    pools: z
      .record(PoolNameSchema, PoolOptionsSchema)
      .default({ general: PoolOptionsSchema.parse({ size: 2 }) }),
    /** How local workers are started. */
    worker: z
      .strictObject({
        /**
         * Worker command. @default env `DSPEX_WORKER_BIN`, else this package's `python/.venv`, else the
         * venv of `dspex worker install` in the user cache dir, else `dspex-worker` on PATH
         */
        command: z.array(z.string().min(1)).min(1).optional(),
        /** `zygote` forks workers from one pre-imported Python parent; `direct` starts each alone. */
        launcher: z.enum(['zygote', 'direct']).default('zygote'),
        /**
         * NATS URL(s) the local workers connect to. Credentials written in it (`nats://worker:pw@host`)
         * are handed to the workers on a pipe, never on their command line. @default the node's servers
         */
        natsUrl: z.string().min(1).optional(),
        /**
         * How local workers log in (`user`/`pass`, `token`, `nkeySeedFile`, `credsFile`), their TLS
         * and inbox prefix (default `_INBOX_worker`). Unset login or TLS: the node's own (logged as a
         * warning: give workers the `worker` user of nats.conf). Handed over on a pipe, never argv/env.
         */
        nats: NatsAuthSchema.superRefine(oneLogin).optional(),
        /**
         * Cluster worker secret (at least 16 bytes): workers sign heartbeats and replies with a key
         * derived from it and their id, and nodes drop what does not verify (docs/security.md).
         * Prefer `secretFile`. Unset: open mode, worker identity is not checked.
         */
        secret: z.string().min(1).optional(),
        /**
         * File holding the cluster worker secret on its first line; further lines are previous secrets
         * still accepted during a rotation (docs/security.md).
         */
        secretFile: z.string().min(1).optional(),
        /**
         * Names of further variables of the node's environment to pass to local workers. Workers get
         * an explicit environment (docs/security.md), never the node's whole one; NATS and dspex
         * credentials cannot be named here.
         */
        passEnv: z
          .array(
            z
              .string()
              .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name')
              .refine(
                (name) => !isForbiddenWorkerEnv(name),
                'NATS and dspex credentials never reach a worker',
              ),
          )
          .default([]),
        /** Environment variables (values) for every pool's workers; a pool's `env` wins. */
        env: z.record(z.string(), z.string()).default({}),
        /** Default DSPy model name for every pool. @default env `DSPEX_LM`, else the worker's `dummy` */
        lm: z.string().min(1).optional(),
      })
      .prefault({}),
    /** Largest request body accepted, bytes. @default 1 MiB */
    maxPayloadBytes: z
      .number()
      .int()
      .positive()
      .default(1024 * 1024),
    /** Deadline of a call without a `Dspex-Deadline` header. @default 60000 */
    callTimeoutMs: z.number().int().positive().default(60_000),
    /**
     * Requests of one public endpoint a node works on at once; more get 429 before their body is
     * decoded (a bound on memory and CPU whatever the endpoint; predicts are also refused early per
     * pool, see docs/security.md). @default 10000
     */
    maxInflight: z.number().int().positive().default(10_000),
    /** Attempts per call on distinct workers for retryable failures. @default 3 */
    maxAttempts: z.number().int().min(1).max(10).default(3),
    /** Serve the public `dspex` service on this node. @default true */
    serve: z.boolean().default(true),
    /** Node heartbeat period. @default 1000 */
    heartbeatMs: z.number().int().min(50).default(1000),
    /** The LLM layer: direct HTTP model, result cache, adapter selection (docs/llm.md). */
    llm: LlmOptionsSchema.default(LlmOptionsSchema.parse({})),
    /**
     * Replicas of the buckets and streams (variables, sessions, pipelines, the optimizer's ledger)
     * whose section sets none: `auto` is 3 when the NATS server is in a cluster of three or more and 1
     * on a single server. @default 'auto'
     */
    replicas: z.union([z.literal('auto'), z.literal(1), z.literal(3), z.literal(5)]).default('auto'),
    /** Variable coordination: KV buckets, history depth, replicas, storage, lease TTL (docs/variables.md). */
    variables: VariablesOptionsSchema.prefault({}),
    /** Pipelines: work-queue stream, runs bucket, stage defaults, runner slots (docs/pipelines.md). */
    pipelines: PipelinesOptionsSchema.prefault({}),
    /** Sessions: KV bucket, TTLs, history depth (docs/sessions.md). */
    sessions: SessionsOptionsSchema.prefault({}),
    /** `/metrics`, `/healthz`, `/readyz` over HTTP: off unless `port` is set (docs/telemetry.md). */
    metrics: MetricsOptionsSchema.prefault({}),
  })
  .transform((config) => ({
    ...config,
    // Each pool's concurrency resolved here, once: the default depends on the LM it runs.
    pools: Object.fromEntries(
      Object.entries(config.pools).map(([name, pool]): [string, ResolvedPoolOptions] => [
        name,
        { ...pool, concurrency: poolConcurrency(pool, config.worker.lm) },
      ]),
    ),
  }));
export type RuntimeConfig = z.input<typeof RuntimeOptionsSchema>;
export type ResolvedRuntimeConfig = z.output<typeof RuntimeOptionsSchema>;

/** At most one way to log in to NATS. */
function oneLogin(auth: NatsAuth, ctx: z.RefinementCtx): void {
  const methods = loginMethods(auth);
  if (methods.length > 1) {
    ctx.addIssue({ code: 'custom', message: `give one way to log in, not ${methods.join(' and ')}` });
  }
}

/** Validates options once, at construction; a bad option names its path. */
export function resolveConfig(options: unknown): ResolvedRuntimeConfig {
  const result = RuntimeOptionsSchema.safeParse(options ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = issue?.path.map(String).join('.') ?? '';
  throw new DspexError(
    ErrorCode.BadRequest,
    `runtime options: ${path === '' ? '' : path + ': '}${issue?.message ?? 'invalid'}`,
    {
      details: { field: path },
    },
  );
}

/**
 * Reads runtime options from the environment (`DSPEX_*`), for the CLI and containers: the node's
 * NATS servers and login (`DSPEX_NATS_URL`, `DSPEX_NATS_*`), its workers' (`DSPEX_WORKER_NATS_URL`,
 * `DSPEX_WORKER_NATS_*`) and the cluster worker secret (`DSPEX_WORKER_SECRET_FILE`,
 * `DSPEX_WORKER_SECRET`).
 */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): Partial<RuntimeConfig> {
  const out: Partial<RuntimeConfig> = {};
  const auth = natsAuthFromEnv(env, 'DSPEX_NATS_');
  if (env.DSPEX_NATS_URL) out.nats = { servers: env.DSPEX_NATS_URL.split(',').map((s) => s.trim()), ...auth };
  else if (Object.keys(auth).length > 0) out.nats = auth as NonNullable<RuntimeConfig['nats']>;
  if (env.DSPEX_PREFIX) out.prefix = env.DSPEX_PREFIX;
  if (env.DSPEX_NODE_ID) out.nodeId = env.DSPEX_NODE_ID;
  const worker: NonNullable<RuntimeConfig['worker']> = {};
  if (env.DSPEX_LM) worker.lm = env.DSPEX_LM;
  if (env.DSPEX_WORKER_NATS_URL) worker.natsUrl = env.DSPEX_WORKER_NATS_URL;
  const workerAuth = natsAuthFromEnv(env, 'DSPEX_WORKER_NATS_');
  if (Object.keys(workerAuth).length > 0) worker.nats = workerAuth;
  if (env.DSPEX_WORKER_SECRET_FILE) worker.secretFile = env.DSPEX_WORKER_SECRET_FILE;
  if (env.DSPEX_WORKER_SECRET) worker.secret = env.DSPEX_WORKER_SECRET;
  if (Object.keys(worker).length > 0) out.worker = worker;
  if (env.DSPEX_LLM_MODEL) out.llm = { model: env.DSPEX_LLM_MODEL };
  const metrics: NonNullable<RuntimeConfig['metrics']> = {};
  if (env.DSPEX_METRICS_PORT) metrics.port = Number(env.DSPEX_METRICS_PORT);
  if (env.DSPEX_METRICS_HOST) metrics.host = env.DSPEX_METRICS_HOST;
  if (Object.keys(metrics).length > 0) out.metrics = metrics;
  return out;
}
