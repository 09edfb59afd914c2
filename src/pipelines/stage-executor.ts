/**
 * What a stage does, by kind: a DSPy module on a worker (through the node's predict path), a direct
 * LLM call, a registered TypeScript function, or a built-in transform. This is the `execute` effect
 * the stage machine is given.
 */
import { DspexError, ErrorCode } from '../errors.js';
import type { StageSpec } from '../protocol/pipelines.js';
import type { PredictReply, PredictRequest } from '../protocol/schemas.js';
import type { ExecuteInput } from './stage-machine.js';
import { runTransform } from './transforms.js';

/** What a TypeScript stage function learns about its call. */
export interface StageFunctionContext {
  runId: string;
  stage: string;
  /** Element index of a mapped stage. */
  item: number | undefined;
  /** 1 for the first attempt. */
  attempt: number;
  /** Aborted when the attempt times out or the run stops. */
  signal: AbortSignal;
  /** Absolute deadline of this attempt, unix ms. */
  deadline: number;
}

/**
 * A TypeScript stage: takes the stage's inputs, returns its outputs (a map). Throw a
 * {@link DspexError} with `retryable: true` for failures worth retrying; anything else fails the
 * stage at once.
 */
export type StageFunction = (
  inputs: Record<string, unknown>,
  context: StageFunctionContext,
) => Record<string, unknown> | Promise<Record<string, unknown>>;

/** The node's predict path: `rt.predict`. */
export type PredictFn = (
  request: PredictRequest,
  options: { deadline: number; trace?: string },
) => Promise<PredictReply>;

export interface StageExecutorDeps {
  predict: PredictFn;
  /** A function stage's function by name (the run's inline functions first, then the node's registry). */
  lookup(name: string): StageFunction | undefined;
}

/** Runs one attempt of one stage unit. */
export async function executeStage(
  spec: StageSpec,
  input: ExecuteInput,
  signal: AbortSignal,
  deps: StageExecutorDeps,
): Promise<Record<string, unknown>> {
  const deadline = Date.now() + input.timeoutMs;
  switch (spec.kind) {
    case 'predict': {
      const reply = await deps.predict(
        {
          module: spec.module,
          signature: spec.signature,
          inputs: input.inputs,
          ...(spec.config !== undefined && { config: spec.config }),
          ...(spec.demos !== undefined && { demos: spec.demos }),
          ...(spec.instructions !== undefined && { instructions: spec.instructions }),
          ...(spec.options !== undefined && { options: spec.options }),
          ...(spec.pool !== undefined && { pool: spec.pool }),
        },
        { deadline, trace: input.runId },
      );
      return reply.outputs;
    }
    case 'llm': {
      const reply = await deps.predict(
        {
          module: 'Predict',
          signature: spec.signature,
          inputs: input.inputs,
          config: { ...spec.config, adapter: 'direct' },
          ...(spec.instructions !== undefined && { instructions: spec.instructions }),
        },
        { deadline, trace: input.runId },
      );
      return reply.outputs;
    }
    case 'fn': {
      const fn = deps.lookup(spec.fn);
      if (fn === undefined) {
        throw new DspexError(ErrorCode.NotFound, `no function "${spec.fn}" is registered on this node`, {
          details: { field: 'fn' },
        });
      }
      const outputs = await fn(input.inputs, {
        runId: input.runId,
        stage: input.stage,
        item: input.item,
        attempt: input.attempt,
        signal,
        deadline,
      });
      if (typeof outputs !== 'object' || outputs === null || Array.isArray(outputs)) {
        throw new DspexError(
          ErrorCode.Internal,
          `function "${spec.fn}" returned ${typeof outputs}, not a map`,
        );
      }
      return outputs;
    }
    case 'transform':
      return runTransform(spec.op, input.inputs, spec.args);
    default: {
      const never: never = spec;
      throw new Error(`unknown stage kind ${String(never)}`);
    }
  }
}
