/**
 * Wire schemas of sessions: the record kept in the sessions KV bucket (key = session id) and the
 * bodies of `dspex.rpc.session.open|get|close`.
 */
import { z } from 'zod';
import { PoolNameSchema, SessionIdSchema, WorkerIdSchema } from './names.js';

export { SessionIdSchema };

/** Body of `dspex.rpc.session.open`. Opening an open session refreshes its expiry and returns it. */
export const SessionOpenRequestSchema = z.object({
  /** @default generated */
  id: SessionIdSchema.optional(),
  /** Idle time after which the session expires. @default the node's `sessions.defaultTtlMs` */
  ttl_ms: z.number().int().min(1000).optional(),
  /** Initial application state (merged into an existing session's state). */
  state: z.record(z.string(), z.unknown()).optional(),
});
export type SessionOpenRequest = z.infer<typeof SessionOpenRequestSchema>;

/** Body of `dspex.rpc.session.get` and `.close`. */
export const SessionIdRequestSchema = z.object({ id: SessionIdSchema });

/** One call made in a session (bounded history, newest last). */
export const SessionHistoryEntrySchema = z.object({
  ts: z.number(),
  module: z.string(),
  signature: z.string().optional(),
  ok: z.boolean(),
  latency_ms: z.number().nonnegative(),
  worker: z.string().optional(),
  /** Error code of a failed call. */
  code: z.string().optional(),
  trace: z.string().optional(),
});
export type SessionHistoryEntry = z.infer<typeof SessionHistoryEntrySchema>;

/** Performance counters of a session. */
export const SessionMetricsSchema = z.object({
  calls: z.number().int().nonnegative(),
  errors: z.number().int().nonnegative(),
  latency_ms_total: z.number().nonnegative(),
  /** Exponentially weighted mean latency (alpha 0.2) of successful calls. */
  latency_ms_ewma: z.number().nonnegative().nullable(),
  tokens_total: z.number().int().nonnegative(),
});
export type SessionMetrics = z.infer<typeof SessionMetricsSchema>;

/** The record of one session, and the reply of every `session.*` endpoint. */
export const SessionRecordSchema = z.object({
  id: SessionIdSchema,
  status: z.enum(['open', 'closed']),
  created_at: z.number(),
  updated_at: z.number(),
  /** Unix ms past which the session is expired (refreshed by every use). */
  expires_at: z.number(),
  ttl_ms: z.number().int().positive(),
  /** The node that last wrote it. */
  node: z.string(),
  state: z.record(z.string(), z.unknown()),
  history: z.array(SessionHistoryEntrySchema),
  metrics: SessionMetricsSchema,
  /** Optimizer state of the session's program (opaque JSON, e.g. DSPy `dump_state()`). */
  optimization: z.unknown().optional(),
  /** The worker that served the session's last successful call. */
  affinity: z
    .object({ pool: PoolNameSchema, worker: WorkerIdSchema, node: z.string(), at: z.number() })
    .optional(),
});
export type SessionRecord = z.infer<typeof SessionRecordSchema>;

/** Session message types by the name used in `fixtures/protocol/*.json`. */
export const sessionMessageSchemas = {
  session_open_request: SessionOpenRequestSchema,
  session_id_request: SessionIdRequestSchema,
  session_record: SessionRecordSchema,
} as const;
