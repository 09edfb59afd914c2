import { z } from 'zod';
import { DspexError, ErrorCode } from '../errors.js';
import {
  NodeIdSchema,
  PoolNameSchema,
  preview,
  SessionIdSchema,
  ToolNameSchema,
  WorkerIdSchema,
} from './names.js';
import { optimizeMessageSchemas } from './optimize.js';
import { variableMessageSchemas } from './variables.js';
import { pipelineMessageSchemas } from './pipelines.js';
import { sessionMessageSchemas } from './sessions.js';
import { eventMessageSchemas } from './events.js';
import { SignatureTextSchema } from './signature-text.js';

const nonNegInt = z.number().int().nonnegative();

/** Per-call LM configuration; unknown keys pass through to DSPy. */
export const CallConfigSchema = z.looseObject({
  temperature: z.number().min(0).max(2).optional(),
  max_tokens: z.number().int().positive().optional(),
  n: z.number().int().positive().optional(),
  lm: z.string().min(1).optional(),
  cache: z.boolean().optional(),
  /** Answers of the worker's `dummy` LM for this call, used in order; real LMs ignore it. */
  dummy_script: z.array(z.record(z.string(), z.unknown())).max(256).optional(),
});
export type CallConfig = z.infer<typeof CallConfigSchema>;

/** A tool as a predict request names it: its JSON schema travels, its code stays on the node. */
export const ToolSpecSchema = z.object({
  name: ToolNameSchema,
  description: z.string().optional(),
  parameters: z.record(z.string(), z.unknown()).optional(),
});
export type ToolSpec = z.infer<typeof ToolSpecSchema>;

/** Body of a tool callback, `<prefix>.tool.<name>`. */
export const ToolRequestSchema = z.object({ args: z.record(z.string(), z.unknown()) });
export type ToolRequest = z.infer<typeof ToolRequestSchema>;

/** Reply of a tool callback: the tool's result (any msgpack value, `null` included). */
export const ToolReplySchema = z.object({ result: z.unknown() }).refine((v) => 'result' in v, {
  message: 'result is required',
  path: ['result'],
});
export type ToolReply = z.infer<typeof ToolReplySchema>;

/** Longest module name accepted (the known ones are far shorter; an unknown one is a 404). */
const MODULE_MAX = 64;

const predictFields = {
  module: z.string().min(1).max(MODULE_MAX),
  /** Parsed by the signature engine at decode time (400 naming `signature`, with `column`). */
  signature: SignatureTextSchema,
  inputs: z.record(z.string(), z.unknown()),
  config: CallConfigSchema.optional(),
  demos: z.array(z.record(z.string(), z.unknown())).optional(),
  instructions: z.string().optional(),
  /** Module-specific options (`max_iters`, `M`, `N`, `threshold`, `reward`, …), checked per module. */
  options: z.record(z.string(), z.unknown()).optional(),
  /** ReAct's tools, served by runtime nodes on `<prefix>.tool.<name>`. */
  tools: z.array(ToolSpecSchema).max(32).optional(),
  /** MultiChainComparison: the M completions to compare (else the worker runs ChainOfThought M times). */
  completions: z.array(z.record(z.string(), z.unknown())).max(32).optional(),
  /** Program state in DSPy's JSON form (`module.dump_state()`), loaded before the call. */
  state: z.record(z.string(), z.unknown()).optional(),
};

/** Body of `dspex.rpc.predict`. */
export const PredictRequestSchema = z.object({
  ...predictFields,
  /** Session id (1-128 of `[A-Za-z0-9_-]`): the key of its record in the sessions bucket. */
  session: SessionIdSchema.optional(),
  /** Pool name (1-64 of `[A-Za-z0-9_-]`): part of the worker subjects. */
  pool: PoolNameSchema.optional(),
});
export type PredictRequest = z.infer<typeof PredictRequestSchema>;

/** Body of a call to one worker, `dspex.pool.<pool>.<worker>`. */
export const WorkerRequestSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('predict'), id: z.string().min(1).optional(), ...predictFields }),
  z.object({ op: z.literal('ping') }),
]);
export type WorkerRequest = z.infer<typeof WorkerRequestSchema>;
export type WorkerPredictRequest = Extract<WorkerRequest, { op: 'predict' }>;

/** Reply of `dspex.rpc.predict` and of a worker's predict. */
export const PredictReplySchema = z.object({
  outputs: z.record(z.string(), z.unknown()),
  worker: z.string(),
  latency_ms: z.number().nonnegative(),
  usage: z.record(z.string(), z.unknown()).optional(),
});
export type PredictReply = z.infer<typeof PredictReplySchema>;

export const WireErrorSchema = z.object({
  code: z.string().min(1),
  message: z.string(),
  retryable: z.boolean(),
  details: z.record(z.string(), z.unknown()).optional(),
});
/** Body of every error reply. */
export const ErrorReplySchema = z.object({ error: WireErrorSchema });
export type ErrorReply = z.infer<typeof ErrorReplySchema>;

/** Worker lifecycle states as workers report them. */
export const WorkerReportedState = {
  Starting: 'starting',
  Ready: 'ready',
  Busy: 'busy',
  Draining: 'draining',
  Stopped: 'stopped',
} as const;
export type WorkerReportedState = (typeof WorkerReportedState)[keyof typeof WorkerReportedState];

const nonNegNumber = z.number().nonnegative();
/** Keys become Prometheus label values on the node, which exports at most 64 per record. */
const metricsRecord = <T extends z.ZodType>(value: T) => z.record(z.string().min(1).max(200), value);

/** A worker's own measurements, cumulative since it started (docs/telemetry.md). */
export const WorkerMetricsSchema = z.object({
  /** Predict calls by outcome (`ok` or the error code). */
  calls: metricsRecord(nonNegInt),
  /** Seconds spent in DSPy (LM calls included). */
  dspy_seconds: nonNegNumber,
  /** Per model: LM calls, failed ones, their seconds, prompt and completion tokens. */
  lm: metricsRecord(
    z.object({
      calls: nonNegNumber,
      errors: nonNegNumber,
      seconds: nonNegNumber,
      prompt_tokens: nonNegNumber,
      completion_tokens: nonNegNumber,
    }),
  ),
  /** Garbage collections per generation and the seconds they took. */
  gc: z.object({ collections: z.array(nonNegInt).max(8), seconds: nonNegNumber }),
});
export type WorkerMetrics = z.infer<typeof WorkerMetricsSchema>;

/** `dspex.hb.worker.<id>`: announcement, heartbeat and farewell of a worker. */
export const WorkerHeartbeatSchema = z.object({
  id: WorkerIdSchema,
  pool: PoolNameSchema,
  host: z.string(),
  pid: z.number().int(),
  state: z.enum(['starting', 'ready', 'busy', 'draining', 'stopped']),
  inflight: nonNegInt,
  concurrency: z.number().int().positive(),
  calls: nonNegInt,
  rss_bytes: nonNegInt,
  started_at: z.number(),
  ts: z.number(),
  heartbeat_ms: z.number().int().positive(),
  version: z.string(),
  lm: z.string(),
  node: NodeIdSchema.optional(),
  /** Increases with every heartbeat of one worker process: nodes refuse replays (docs/security.md). */
  seq: nonNegInt.optional(),
  /** The worker's own measurements (absent from older workers). */
  metrics: WorkerMetricsSchema.optional(),
});
export type WorkerHeartbeat = z.infer<typeof WorkerHeartbeatSchema>;

/** `dspex.hb.node.<id>`: heartbeat of a runtime node. */
export const NodeHeartbeatSchema = z.object({
  id: NodeIdSchema,
  host: z.string(),
  pid: z.number().int(),
  started_at: z.number(),
  ts: z.number(),
  pools: z.array(PoolNameSchema),
});
export type NodeHeartbeat = z.infer<typeof NodeHeartbeatSchema>;

/** Body of `dspex.rpc.status`: an empty map (extra keys are ignored). */
export const StatusRequestSchema = z.looseObject({});

export const StatusWorkerSchema = z.object({
  id: z.string(),
  state: z.string(),
  inflight: nonNegInt,
  calls: nonNegInt,
  host: z.string(),
  pid: z.number().int(),
  managed: z.boolean(),
  node: z.string().optional(),
  rss_bytes: nonNegInt,
  last_seen: z.number(),
  /** The worker's LM (`dummy` for DSPy's DummyLM). */
  lm: z.string().optional(),
});
/** Reply of `dspex.rpc.status`. */
export const StatusReplySchema = z.object({
  nodes: z.array(
    z.object({
      id: z.string(),
      host: z.string(),
      pid: z.number().int(),
      started_at: z.number(),
      last_seen: z.number(),
      self: z.boolean(),
    }),
  ),
  pools: z.array(
    z.object({
      name: z.string(),
      size: nonNegInt,
      concurrency: z.number().int().positive(),
      queue: z.object({ length: nonNegInt, limit: nonNegInt }),
      workers: z.array(StatusWorkerSchema),
    }),
  ),
});
export type StatusReply = z.infer<typeof StatusReplySchema>;

/** Every message type by the name used in `fixtures/protocol/*.json`. */
export const messageSchemas = {
  predict_request: PredictRequestSchema,
  worker_request: WorkerRequestSchema,
  predict_reply: PredictReplySchema,
  error_reply: ErrorReplySchema,
  worker_heartbeat: WorkerHeartbeatSchema,
  node_heartbeat: NodeHeartbeatSchema,
  status_reply: StatusReplySchema,
  tool_request: ToolRequestSchema,
  tool_reply: ToolReplySchema,
  ...optimizeMessageSchemas,
  ...variableMessageSchemas,
  ...pipelineMessageSchemas,
  ...sessionMessageSchemas,
  ...eventMessageSchemas,
} as const;
export type MessageType = keyof typeof messageSchemas;

/** A dotted path of request keys, each key shortened and made printable (keys are request content). */
function pathOf(path: ReadonlyArray<PropertyKey>): string {
  return path.length === 0 ? 'body' : path.map((k) => preview(String(k))).join('.');
}

/** An issue's message, bounded: zod echoes unknown keys and enum values, which are request content. */
const issueMessage = (message: string | undefined): string => preview(message ?? 'invalid', 200);

/**
 * Validates a decoded body against a schema; failure is a 400 `bad_request` naming the first
 * offending field (dotted path) and what was expected. Keys and values of the request appear in the
 * message only as short printable previews.
 */
export function parseMessage<S extends z.ZodType>(schema: S, value: unknown, what: string): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = pathOf(issue?.path ?? []);
  // A custom issue's params (the signature parser's column and expectation) are useful details.
  const params = issue?.code === 'custom' ? (issue.params as Record<string, unknown> | undefined) : undefined;
  throw new DspexError(ErrorCode.BadRequest, `${what}: ${path}: ${issueMessage(issue?.message)}`, {
    details: {
      ...params,
      field: path,
      issues: result.error.issues
        .slice(0, 5)
        .map((i) => ({ path: pathOf(i.path), message: issueMessage(i.message) })),
    },
  });
}
