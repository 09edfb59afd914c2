/**
 * Wire schemas of optimization: the optimizer pool's `compile` op, the public
 * `dspex.rpc.optimize.compile|cancel` endpoints, and progress events on
 * `<prefix>.events.optimize.<run_id>` (docs/optimization.md). Python mirrors them in
 * `python/dspex_worker/optimize.py`; the shared fixtures check both.
 */
import { z } from 'zod';
import { MetricNameSchema, PoolNameSchema, RunIdSchema, VarNameSchema } from './names.js';
import { SignatureTextSchema } from './signature-text.js';

/** A run id travels as a subject token (`<prefix>.events.optimize.<run_id>`). */
export { RunIdSchema };

/** DSPy optimizers the worker runs (`dspy.teleprompt`). */
export const DspyOptimizer = {
  BootstrapFewShot: 'BootstrapFewShot',
  BootstrapFewShotWithRandomSearch: 'BootstrapFewShotWithRandomSearch',
  MIPROv2: 'MIPROv2',
  COPRO: 'COPRO',
} as const;
export type DspyOptimizer = (typeof DspyOptimizer)[keyof typeof DspyOptimizer];

/** A metric by name: a built-in on one output `field`, or a Python metric registered in the worker package. */
export const MetricSpecSchema = z.object({
  name: MetricNameSchema,
  /** Output field compared by `exact_match`, `contains` and `f1`. @default the signature's only output */
  field: z.string().min(1).optional(),
});
export type MetricSpec = z.infer<typeof MetricSpecSchema>;

const Examples = z.array(z.record(z.string(), z.unknown())).min(1).max(1000);

const compileFields = {
  optimizer: z.enum([
    DspyOptimizer.BootstrapFewShot,
    DspyOptimizer.BootstrapFewShotWithRandomSearch,
    DspyOptimizer.MIPROv2,
    DspyOptimizer.COPRO,
  ]),
  /** The program to compile. @default 'Predict' */
  module: z.enum(['Predict', 'ChainOfThought']).optional(),
  /** Parsed by the signature engine at decode time: a bad one never reaches the optimizer pool. */
  signature: SignatureTextSchema,
  instructions: z.string().optional(),
  /** Start from this program state (DSPy's `dump_state()` JSON). */
  state: z.record(z.string(), z.unknown()).optional(),
  /** Examples: every input of the signature, plus the labels the metric compares. */
  trainset: Examples,
  /** Scores candidates and the result. @default the trainset */
  valset: Examples.optional(),
  metric: MetricSpecSchema,
  /** Optimizer settings, checked per optimizer by the worker (`max_bootstrapped_demos`, `breadth`, …). */
  settings: z.record(z.string(), z.unknown()).optional(),
};

/** Body of `dspex.rpc.optimize.compile`. */
export const CompileRequestSchema = z.object({
  ...compileFields,
  /** @default a generated id */
  run_id: RunIdSchema.optional(),
  /** Pool that runs the optimizer. @default 'optimizer' */
  pool: PoolNameSchema.optional(),
  /** Write the compiled state to this variable (created if missing), with the score, by the run id. */
  variable: VarNameSchema.optional(),
});
export type CompileRequest = z.infer<typeof CompileRequestSchema>;

/** Body of the worker op, `<prefix>.pool.<pool>`: `{op: "compile", run_id, ...}`. */
export const WorkerCompileRequestSchema = z.object({
  op: z.literal('compile'),
  run_id: RunIdSchema,
  ...compileFields,
});
export type WorkerCompileRequest = z.infer<typeof WorkerCompileRequestSchema>;

/** How a run ended (a worker's reply) or where it is (an event). */
export const RunStatus = {
  Running: 'running',
  Completed: 'completed',
  Cancelled: 'cancelled',
  Failed: 'failed',
} as const;
export type RunStatus = (typeof RunStatus)[keyof typeof RunStatus];

/** Reply of the worker op and of `dspex.rpc.optimize.compile`. */
export const CompileReplySchema = z.object({
  run_id: RunIdSchema,
  optimizer: z.string(),
  status: z.enum([RunStatus.Completed, RunStatus.Cancelled]),
  /** The compiled program's state (completed runs only). */
  state: z.record(z.string(), z.unknown()).optional(),
  /** Mean metric of the compiled program on the valset, 0..1 (completed runs only). */
  score: z.number().optional(),
  /** Metric calls made. */
  evaluations: z.number().int().nonnegative(),
  worker: z.string(),
  latency_ms: z.number().nonnegative(),
  /** Where the state was written, when the request named a variable. */
  variable: z.object({ name: VarNameSchema, revision: z.number().int().positive() }).optional(),
});
export type CompileReply = z.infer<typeof CompileReplySchema>;

/** `<prefix>.events.optimize.<run_id>`: progress of a run (at most every 250 ms, and at the end). */
export const OptimizeEventSchema = z.object({
  run_id: RunIdSchema,
  worker: z.string(),
  optimizer: z.string(),
  status: z.enum([RunStatus.Running, RunStatus.Completed, RunStatus.Cancelled, RunStatus.Failed]),
  /** Metric calls so far. */
  done: z.number().int().nonnegative(),
  /** Estimated metric calls of the whole run (bootstraps stop early, so runs may end below it). */
  total: z.number().int().nonnegative(),
  /** Best program score reported by DSPy's evaluations so far, 0..1. */
  best_score: z.number().nullable(),
  last_score: z.number().nullable(),
  at: z.number(),
  error: z.string().optional(),
});
export type OptimizeEvent = z.infer<typeof OptimizeEventSchema>;

/** Body of `dspex.rpc.optimize.cancel` (and of `<prefix>.optimize.cancel.<run_id>`, where it may be `{}`). */
export const CancelRequestSchema = z.object({ run_id: RunIdSchema });
export type CancelRequest = z.infer<typeof CancelRequestSchema>;

/** Reply of a cancel: the worker running the run acknowledges it. */
export const CancelReplySchema = z.object({
  run_id: RunIdSchema,
  worker: z.string(),
  cancelled: z.literal(true),
});
export type CancelReply = z.infer<typeof CancelReplySchema>;

/** Fixture names of the optimization messages (registered in `messageSchemas`). */
export const optimizeMessageSchemas = {
  compile_request: CompileRequestSchema,
  worker_compile_request: WorkerCompileRequestSchema,
  compile_reply: CompileReplySchema,
  optimize_event: OptimizeEventSchema,
  cancel_request: CancelRequestSchema,
  cancel_reply: CancelReplySchema,
} as const;
