import { z } from 'zod';

const name = z.string().regex(/^[A-Za-z0-9_-]+$/, 'expected letters, digits, "_" or "-"');

/**
 * The `pipelines` section of the runtime options. Stream, consumer and bucket settings take effect
 * when they are created; existing ones are used as they are (the first node to start creates them).
 */
export const PipelinesOptionsSchema = z.strictObject({
  /** Run the pipeline engine on this node (submit runs, serve `pipeline.*`). @default true */
  enabled: z.boolean().default(true),
  /** Take durable runs off the work-queue stream on this node. @default true */
  runner: z.boolean().default(true),
  /** Durable runs this node executes at once. @default 4 */
  maxRuns: z.number().int().min(1).max(256).default(4),
  /** Work-queue stream of run jobs. @default `<PREFIX>_PIPELINE_RUNS` (prefix upper-cased) */
  stream: name.optional(),
  /** Durable pull consumer shared by every node. @default 'pipeline-runners' */
  consumer: name.default('pipeline-runners'),
  /** KV bucket of run records and stage checkpoints. @default `<prefix>_pipeline_runs` */
  bucket: name.optional(),
  /**
   * Time a job may go without an ack or a progress signal before it is redelivered to another node.
   * Running nodes signal progress every third of it, so this is how long a dead node's run waits. @default 30000
   */
  ackWaitMs: z.number().int().min(1000).max(3_600_000).default(30_000),
  /** Deliveries of one job before it is given up. @default 10 */
  maxDeliver: z.number().int().min(1).max(1000).default(10),
  /** How long run records and checkpoints are kept (bucket TTL). @default 24 h */
  ttlMs: z
    .number()
    .int()
    .min(1000)
    .default(24 * 3_600_000),
  /** Default time one attempt of a stage may take. @default 60000 */
  stageTimeoutMs: z.number().int().positive().default(60_000),
  /** Default retries of a stage after a retryable failure. @default 0 */
  retries: z.number().int().min(0).max(10).default(0),
  /** Default first backoff between retries, doubled each time. @default 100 */
  backoffMs: z.number().int().min(0).max(60_000).default(100),
  /** Default fan-out concurrency of a mapped stage. @default 4 */
  concurrency: z.number().int().min(1).max(256).default(4),
  /** Largest list a stage may be mapped over. @default 1000 */
  maxItems: z.number().int().min(1).max(100_000).default(1000),
  /** `file` survives a server restart; `memory` does not. @default 'file' */
  storage: z.enum(['file', 'memory']).default('file'),
  /** Replicas of the stream and bucket (3 or 5 need a JetStream cluster). @default the runtime's `replicas` (3 in a cluster, else 1) */
  replicas: z.union([z.literal(1), z.literal(3), z.literal(5)]).default(1),
});
export type PipelinesOptions = z.input<typeof PipelinesOptionsSchema>;
export type ResolvedPipelinesOptions = z.output<typeof PipelinesOptionsSchema>;
