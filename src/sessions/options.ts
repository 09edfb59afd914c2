import { z } from 'zod';

/**
 * The `sessions` section of the runtime options. The bucket's TTL (`maxTtlMs`) is fixed when the
 * bucket is created; an existing bucket is used as it is.
 */
export const SessionsOptionsSchema = z.strictObject({
  /** Run the session store on this node. @default true */
  enabled: z.boolean().default(true),
  /** KV bucket of session records. @default `<prefix>_sessions` */
  bucket: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, 'expected letters, digits, "_" or "-"')
    .optional(),
  /** Idle time before a session expires, unless it was opened with its own `ttl_ms`. @default 30 min */
  defaultTtlMs: z
    .number()
    .int()
    .min(1000)
    .default(30 * 60_000),
  /**
   * Upper bound of any session's TTL: the bucket's own max age, so a session nobody touches disappears
   * even if no node is left to sweep it. @default 24 h
   */
  maxTtlMs: z
    .number()
    .int()
    .min(1000)
    .default(24 * 3_600_000),
  /** How often this node deletes expired sessions. @default 5000 */
  sweepMs: z.number().int().min(100).default(5000),
  /** Calls kept in a session's history. @default 50 */
  historyLimit: z.number().int().min(0).max(1000).default(50),
  /** A session actor with nothing to do stops after this long (its record stays in KV). @default 30000 */
  idleMs: z.number().int().min(100).default(30_000),
  /** `file` survives a server restart; `memory` does not. @default 'file' */
  storage: z.enum(['file', 'memory']).default('file'),
  /** Replicas of the bucket (3 or 5 need a JetStream cluster). @default the runtime's `replicas` (3 in a cluster, else 1) */
  replicas: z.union([z.literal(1), z.literal(3), z.literal(5)]).default(1),
});
export type SessionsOptions = z.input<typeof SessionsOptionsSchema>;
export type ResolvedSessionsOptions = z.output<typeof SessionsOptionsSchema>;
