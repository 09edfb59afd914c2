import { z } from 'zod';

const bucketName = z.string().regex(/^[A-Za-z0-9_-]+$/, 'expected letters, digits, "_" or "-"');

/**
 * The `variables` section of the runtime options. Bucket settings (history, replicas, storage,
 * TTLs) take effect when a bucket is created; an existing bucket is opened as it is.
 */
export const VariablesOptionsSchema = z.strictObject({
  /** Run the variable store on this node. @default true */
  enabled: z.boolean().default(true),
  /** KV bucket of the values. @default `<prefix>_vars` */
  bucket: bucketName.optional(),
  /** KV bucket of optimizer leases (bucket-level TTL). @default `<prefix>_var_leases` */
  leaseBucket: bucketName.optional(),
  /** KV bucket where observers announce themselves (bucket-level TTL). @default `<prefix>_var_observers` */
  observerBucket: bucketName.optional(),
  /** Revisions kept per variable (JetStream allows at most 64). @default 64 */
  history: z.number().int().min(1).max(64).default(64),
  /** Replicas of the buckets: 1, 3 or 5 (3 or 5 need a JetStream cluster). @default the runtime's `replicas` (3 in a cluster, else 1) */
  replicas: z.union([z.literal(1), z.literal(3), z.literal(5)]).default(1),
  /** `file` survives a server restart; `memory` does not. @default 'file' */
  storage: z.enum(['file', 'memory']).default('file'),
  /**
   * Lease lifetime without renewal: a holder that dies loses its lease after this long. Holders
   * renew every third of it. @default 10000
   */
  leaseTtlMs: z.number().int().min(1000).max(3_600_000).default(10_000),
  /** Lifetime of an observer announcement without renewal. @default 30000 */
  observerTtlMs: z.number().int().min(1000).max(3_600_000).default(30_000),
  /** Largest encoded record, bytes. @default 1 MiB */
  maxValueBytes: z
    .number()
    .int()
    .positive()
    .default(1024 * 1024),
  /** Writes one variable may have waiting on this node; beyond it writers get 429. @default 1000 */
  writeQueueLimit: z.number().int().min(1).default(1000),
});
export type VariablesOptions = z.input<typeof VariablesOptionsSchema>;
export type ResolvedVariablesOptions = z.output<typeof VariablesOptionsSchema>;
