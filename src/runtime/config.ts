import { z } from 'zod';
import { DspexError, ErrorCode } from '../errors.js';
import { LlmOptionsSchema } from '../llm/options.js';
import { VariablesOptionsSchema } from '../variables/options.js';
import { PipelinesOptionsSchema } from '../pipelines/options.js';
import { SessionsOptionsSchema } from '../sessions/options.js';
import { MetricsOptionsSchema } from '../telemetry/node-telemetry.js';
import { natsAuthFromEnv, NatsAuthSchema, oneLogin } from '../nats/nats-connect.js';
import { PoolOptionsSchema, poolConcurrency, type ResolvedPoolOptions } from '../pools/options.js';
import { WorkerOptionsSchema } from '../workers/options.js';
import { NodeIdSchema, PoolNameSchema, PrefixSchema } from '../protocol/names.js';

export {
  DUMMY_CONCURRENCY,
  IO_BOUND_CONCURRENCY,
  PoolOptionsSchema,
  poolConcurrency,
  type PoolOptions,
  type ResolvedPoolOptions,
} from '../pools/options.js';
export type { ResolvedWorkerOptions } from '../workers/options.js';

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
    worker: WorkerOptionsSchema.prefault({}),
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
