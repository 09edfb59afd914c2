/**
 * Wire schemas of pipelines: a pipeline as data (what `dspex.rpc.pipeline.run` accepts), the run
 * record kept in the runs KV bucket, the job on the work-queue stream, and the events published on
 * `<prefix>.pipeline.<run_id>.events`.
 */
import { z } from 'zod';
import { FunctionNameSchema, PoolNameSchema, RunIdSchema, StageIdSchema } from './names.js';
import { SignatureTextSchema } from './signature-text.js';

// Not imported from schemas.ts, which registers this file's schemas (no import cycle).
const WireErrorSchema = z.object({
  code: z.string().min(1),
  message: z.string(),
  retryable: z.boolean(),
  details: z.record(z.string(), z.unknown()).optional(),
});
/** Per-call LM config of a DSPy stage; checked against the predict schema when a run is submitted. */
const CallConfigSchema = z.record(z.string(), z.unknown());

/** Where one stage input comes from: a pipeline input, an earlier stage's output, or a constant. */
export const InputRefSchema = z.union([
  z.strictObject({ input: z.string().min(1).max(128) }),
  /** `output` absent: the stage's whole output map. */
  z.strictObject({ stage: StageIdSchema, output: z.string().min(1).max(128).optional() }),
  z.strictObject({ value: z.unknown() }),
]);
export type InputRef = z.infer<typeof InputRefSchema>;

/** Failure policy of a run. */
export const FailurePolicy = { FailFast: 'fail_fast', Continue: 'continue' } as const;
export type FailurePolicy = (typeof FailurePolicy)[keyof typeof FailurePolicy];
const PolicySchema = z.enum(['fail_fast', 'continue']);

/** Built-in transforms: pure data shaping that any node can run (no code crosses the wire). */
export const TransformOp = {
  /** Outputs are the inputs. */
  Identity: 'identity',
  /** `{text}` from the list input `items` joined with `args.separator` (default `"\n"`). */
  Join: 'join',
  /** `{items}` from the string input `text` split on `args.separator` (default `"\n"`), blanks dropped. */
  Split: 'split',
  /** `{items}`: the list input `items` flattened one level. */
  Flatten: 'flatten',
  /** `{text}`: `args.template` with `{name}` replaced by each input (lists joined by newlines). */
  Template: 'template',
  /** `{value}`: input `from` (a map) read at the dotted `args.path`. */
  Pick: 'pick',
} as const;
export type TransformOp = (typeof TransformOp)[keyof typeof TransformOp];

const stageCommon = {
  id: StageIdSchema,
  inputs: z.record(z.string().min(1).max(128), InputRefSchema).default({}),
  /** Fan-out: run the stage once per element of the list input `over`, at most `concurrency` at once. */
  map: z
    .strictObject({
      over: z.string().min(1).max(128),
      concurrency: z.number().int().min(1).max(256).optional(),
    })
    .optional(),
  /** Time one attempt (one item of a mapped stage) may take. @default the node's `pipelines.stageTimeoutMs` */
  timeout_ms: z.number().int().positive().max(3_600_000).optional(),
  /** Further attempts after a retryable failure. @default 0 */
  retries: z.number().int().min(0).max(10).optional(),
  /** Wait before the first retry, doubled for each next one. @default 100 */
  backoff_ms: z.number().int().min(0).max(60_000).optional(),
};

/** One stage of a pipeline as data. */
export const StageSpecSchema = z.discriminatedUnion('kind', [
  /** A DSPy module run on a worker (`dspex.rpc.predict`). */
  z.strictObject({
    ...stageCommon,
    kind: z.literal('predict'),
    module: z.string().min(1),
    signature: SignatureTextSchema,
    config: CallConfigSchema.optional(),
    demos: z.array(z.record(z.string(), z.unknown())).optional(),
    instructions: z.string().optional(),
    options: z.record(z.string(), z.unknown()).optional(),
    pool: PoolNameSchema.optional(),
  }),
  /** A direct LLM call: `Predict` on the node's direct HTTP adapter (`config.adapter: "direct"`). */
  z.strictObject({
    ...stageCommon,
    kind: z.literal('llm'),
    signature: SignatureTextSchema,
    instructions: z.string().optional(),
    config: CallConfigSchema.optional(),
  }),
  /** A TypeScript function registered by name on the nodes (`rt.pipelines.register`). */
  z.strictObject({ ...stageCommon, kind: z.literal('fn'), fn: FunctionNameSchema }),
  /** A built-in transform. */
  z.strictObject({
    ...stageCommon,
    kind: z.literal('transform'),
    op: z.enum(Object.values(TransformOp) as [TransformOp, ...TransformOp[]]),
    args: z.record(z.string(), z.unknown()).optional(),
  }),
]);
export type StageSpec = z.infer<typeof StageSpecSchema>;
export type StageSpecInput = z.input<typeof StageSpecSchema>;

/** A pipeline as data. */
export const PipelineSpecSchema = z.strictObject({
  name: z.string().min(1).max(128),
  stages: z.array(StageSpecSchema).min(1).max(256),
  /** @default 'fail_fast' */
  policy: PolicySchema.optional(),
  /** The run's outputs; absent: the outputs of every stage no other stage reads from. */
  outputs: z.record(z.string().min(1).max(128), InputRefSchema).optional(),
});
export type PipelineSpec = z.infer<typeof PipelineSpecSchema>;
export type PipelineSpecInput = z.input<typeof PipelineSpecSchema>;

/** Body of `dspex.rpc.pipeline.run`. */
export const PipelineRunRequestSchema = z.object({
  pipeline: PipelineSpecSchema,
  inputs: z.record(z.string(), z.unknown()).default({}),
  /** Choose the run id (to subscribe to its events before sending). @default generated */
  run_id: RunIdSchema.optional(),
  /** Overrides the pipeline's policy. */
  policy: PolicySchema.optional(),
});
export type PipelineRunRequest = z.infer<typeof PipelineRunRequestSchema>;

/** Reply of `dspex.rpc.pipeline.run`. */
export const PipelineRunReplySchema = z.object({ run_id: RunIdSchema, events: z.string() });
export type PipelineRunReply = z.infer<typeof PipelineRunReplySchema>;

/** Body of `dspex.rpc.pipeline.get`. */
export const PipelineGetRequestSchema = z.object({ run_id: RunIdSchema });

/** A stage that failed, named. */
export const StageFailureSchema = z.object({ stage: StageIdSchema, error: WireErrorSchema });
export type StageFailure = z.infer<typeof StageFailureSchema>;

const outputsSchema = z.record(z.string(), z.unknown());

/** Run statuses. `partial`: finished under `continue` with failed or skipped stages. */
export const RunStatus = {
  Queued: 'queued',
  Running: 'running',
  Completed: 'completed',
  Partial: 'partial',
  Failed: 'failed',
} as const;
export type RunStatus = (typeof RunStatus)[keyof typeof RunStatus];

/** The record of one run in the runs bucket (key `run.<run_id>`), and the reply of `pipeline.get`. */
export const RunRecordSchema = z.object({
  run_id: RunIdSchema,
  pipeline: z.string(),
  status: z.enum(['queued', 'running', 'completed', 'partial', 'failed']),
  /** The node running it (last one, after a takeover). */
  node: z.string().optional(),
  /** Deliveries of its job so far (2 and more: another node took it over). */
  attempt: z.number().int().nonnegative(),
  submitted_at: z.number(),
  started_at: z.number().optional(),
  finished_at: z.number().optional(),
  /** Outputs of every completed stage, by stage id. */
  stages: z.record(z.string(), outputsSchema).optional(),
  outputs: outputsSchema.optional(),
  failures: z.array(StageFailureSchema).optional(),
  skipped: z.array(StageIdSchema).optional(),
  error: WireErrorSchema.optional(),
});
export type RunRecord = z.infer<typeof RunRecordSchema>;

/** The job on the work-queue stream (subject `<prefix>.jobs.pipeline`). */
export const PipelineJobSchema = z.object({
  run_id: RunIdSchema,
  pipeline: PipelineSpecSchema,
  inputs: z.record(z.string(), z.unknown()),
  policy: PolicySchema,
  submitted_at: z.number(),
});
export type PipelineJob = z.infer<typeof PipelineJobSchema>;

/** A checkpoint (key `run.<run_id>.stage.<stage>` or `run.<run_id>.item.<stage>.<i>`). */
export const CheckpointSchema = z.union([
  z.object({
    status: z.literal('completed'),
    outputs: outputsSchema,
    duration_ms: z.number(),
    node: z.string(),
  }),
  z.object({
    status: z.literal('failed'),
    error: WireErrorSchema,
    duration_ms: z.number(),
    node: z.string(),
  }),
]);
export type Checkpoint = z.infer<typeof CheckpointSchema>;

const base = { run_id: RunIdSchema, ts: z.number() };
const stageBase = { ...base, stage: StageIdSchema };

/** Events of one run, on `<prefix>.pipeline.<run_id>.events`. */
export const PipelineEventSchema = z.discriminatedUnion('type', [
  z.object({
    ...base,
    type: z.literal('run.started'),
    node: z.string(),
    attempt: z.number().int().positive(),
    total: z.number().int().nonnegative(),
    /** Stages finished by an earlier attempt and restored from their checkpoints. */
    restored: z.array(StageIdSchema),
  }),
  z.object({
    ...stageBase,
    type: z.literal('stage.started'),
    /** Elements of a mapped stage. */
    items: z.number().int().nonnegative().optional(),
  }),
  z.object({
    ...stageBase,
    type: z.literal('stage.retrying'),
    item: z.number().int().nonnegative().optional(),
    attempt: z.number().int().positive(),
    delay_ms: z.number().nonnegative(),
    error: WireErrorSchema,
  }),
  z.object({
    ...stageBase,
    type: z.literal('stage.completed'),
    outputs: outputsSchema,
    duration_ms: z.number().nonnegative(),
  }),
  z.object({ ...stageBase, type: z.literal('stage.failed'), error: WireErrorSchema }),
  z.object({ ...stageBase, type: z.literal('stage.skipped'), reason: z.string() }),
  z.object({
    ...base,
    type: z.literal('progress'),
    done: z.number().int().nonnegative(),
    total: z.number().int().nonnegative(),
    /** Estimated time left; null until a stage has finished. */
    eta_ms: z.number().nonnegative().nullable(),
  }),
  z.object({
    ...base,
    type: z.literal('run.completed'),
    status: z.enum(['completed', 'partial']),
    outputs: outputsSchema,
    stages: z.record(z.string(), outputsSchema),
    failures: z.array(StageFailureSchema),
    skipped: z.array(StageIdSchema),
    duration_ms: z.number().nonnegative(),
  }),
  z.object({
    ...base,
    type: z.literal('run.failed'),
    error: WireErrorSchema,
    stages: z.record(z.string(), outputsSchema),
    failures: z.array(StageFailureSchema),
    skipped: z.array(StageIdSchema),
    duration_ms: z.number().nonnegative(),
  }),
]);
export type PipelineEvent = z.infer<typeof PipelineEventSchema>;
/** An event before the runner stamps `run_id` and `ts` on it. */
export type PipelineEventBody = PipelineEvent extends infer E
  ? E extends PipelineEvent
    ? Omit<E, 'run_id' | 'ts'>
    : never
  : never;

/** Subject of a run's events. */
export function pipelineEventsSubject(prefix: string, runId: string): string {
  return `${prefix}.pipeline.${runId}.events`;
}

/** Subject of pipeline jobs on the work-queue stream. */
export function pipelineJobsSubject(prefix: string): string {
  return `${prefix}.jobs.pipeline`;
}

/** Pipeline message types by the name used in `fixtures/protocol/*.json`. */
export const pipelineMessageSchemas = {
  pipeline_run_request: PipelineRunRequestSchema,
  pipeline_run_reply: PipelineRunReplySchema,
  pipeline_event: PipelineEventSchema,
  pipeline_job: PipelineJobSchema,
  run_record: RunRecordSchema,
} as const;
