/**
 * The pipeline DSL: a builder whose result is the same data `dspex.rpc.pipeline.run` accepts, plus
 * the inline TypeScript functions that cannot cross the wire.
 *
 * @example
 * ```ts
 * const qa = pipeline('qa')
 *   .stage('retrieve', fn(async ({ q }) => ({ passages: await search(q) })), { inputs: { q: input('question') } })
 *   .stage('answer', predict('ChainOfThought', 'context: list[str], question -> answer'), {
 *     inputs: { context: from('retrieve', 'passages'), question: input('question') },
 *   });
 * for await (const event of await rt.pipelines.run(qa, { question: 'Why is the sky blue?' })) console.log(event);
 * ```
 */
import { ValidationError } from '../errors.js';
import {
  PipelineSpecSchema,
  type FailurePolicy,
  type InputRef,
  type PipelineSpec,
  type StageSpecInput,
  type TransformOp,
} from '../protocol/pipelines.js';
import type { CallConfig } from '../protocol/schemas.js';
import type { StageFunction } from './stage-executor.js';

/** What a stage does, without its wiring. */
export type StageWork =
  | DistributiveOmit<Extract<StageSpecInput, { kind: 'predict' | 'llm' | 'transform' }>, WiringKeys>
  | { kind: 'fn'; fn: string }
  | { kind: 'inline'; fn: StageFunction };
type WiringKeys = 'id' | 'inputs' | 'map' | 'timeout_ms' | 'retries' | 'backoff_ms';
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** How a stage is wired and run. */
export interface StageOptions {
  /** Each input of the stage and where it comes from: {@link input}, {@link from} or {@link value}. */
  inputs?: Record<string, InputRef>;
  /** Fan-out over the list input of this name (or `{over, concurrency}`). */
  map?: string | { over: string; concurrency?: number };
  /** Time one attempt may take. @default the node's `pipelines.stageTimeoutMs` */
  timeoutMs?: number;
  /** Further attempts after a retryable failure. @default the node's `pipelines.retries` */
  retries?: number;
  /** First wait before a retry, doubled each time. @default the node's `pipelines.backoffMs` */
  backoffMs?: number;
}

/** Reads a pipeline input. */
export function input(name: string): InputRef {
  return { input: name };
}
/** Reads an output of an earlier stage (the whole output map when `output` is omitted). */
export function from(stage: string, output?: string): InputRef {
  return output === undefined ? { stage } : { stage, output };
}
/** A constant. */
export function value(v: unknown): InputRef {
  return { value: v };
}

/** A DSPy module stage, run on a worker. */
export function predict(
  module: string,
  signature: string,
  options: {
    config?: CallConfig;
    demos?: Array<Record<string, unknown>>;
    instructions?: string;
    options?: Record<string, unknown>;
    pool?: string;
  } = {},
): StageWork {
  return { kind: 'predict', module, signature, ...options };
}
/** A direct LLM call (`Predict` on the node's direct HTTP adapter). */
export function llm(
  signature: string,
  options: { instructions?: string; config?: CallConfig } = {},
): StageWork {
  return { kind: 'llm', signature, ...options };
}
/**
 * A TypeScript stage: a function registered on the nodes by name (`rt.pipelines.register`), or an
 * inline function (such a pipeline runs on this node only and cannot be sent over the wire).
 */
export function fn(f: string | StageFunction): StageWork {
  return typeof f === 'string' ? { kind: 'fn', fn: f } : { kind: 'inline', fn: f };
}
/** A built-in transform (`join`, `split`, `flatten`, `template`, `pick`, `identity`). */
export function transform(op: TransformOp, args?: Record<string, unknown>): StageWork {
  return { kind: 'transform', op, ...(args !== undefined && { args }) };
}

/** Name under which an inline function of stage `id` is looked up during its run. */
export const inlineName = (id: string): string => `inline-${id}`;

/** A pipeline under construction; each method returns a new pipeline. */
export class Pipeline {
  private constructor(
    readonly name: string,
    private readonly stages: readonly StageSpecInput[],
    /** Inline functions by their run-local name. */
    readonly functions: ReadonlyMap<string, StageFunction>,
    private readonly failurePolicy: FailurePolicy | undefined,
    private readonly outputMap: Record<string, InputRef> | undefined,
  ) {}

  static create(name: string): Pipeline {
    return new Pipeline(name, [], new Map(), undefined, undefined);
  }

  /** Adds a stage. Its inputs may read from stages added before or after it; cycles are refused at run time. */
  stage(id: string, work: StageWork, options: StageOptions = {}): Pipeline {
    const wiring = {
      id,
      inputs: options.inputs ?? {},
      ...(options.map !== undefined && {
        map: typeof options.map === 'string' ? { over: options.map } : options.map,
      }),
      ...(options.timeoutMs !== undefined && { timeout_ms: options.timeoutMs }),
      ...(options.retries !== undefined && { retries: options.retries }),
      ...(options.backoffMs !== undefined && { backoff_ms: options.backoffMs }),
    };
    const functions = new Map(this.functions);
    let spec: StageSpecInput;
    if (work.kind === 'inline') {
      functions.set(inlineName(id), work.fn);
      spec = { ...wiring, kind: 'fn', fn: inlineName(id) };
    } else {
      spec = { ...wiring, ...work };
    }
    return new Pipeline(this.name, [...this.stages, spec], functions, this.failurePolicy, this.outputMap);
  }

  /** `fail_fast` (default) or `continue` (partial results, each failure named). */
  policy(policy: FailurePolicy): Pipeline {
    return new Pipeline(this.name, this.stages, this.functions, policy, this.outputMap);
  }

  /** The run's outputs; by default the outputs of every stage nothing reads from. */
  outputs(outputs: Record<string, InputRef>): Pipeline {
    return new Pipeline(this.name, this.stages, this.functions, this.failurePolicy, outputs);
  }

  /** The pipeline as data (shape checked; graph checks happen at run time). */
  get spec(): PipelineSpec {
    const result = PipelineSpecSchema.safeParse({
      name: this.name,
      stages: this.stages,
      ...(this.failurePolicy !== undefined && { policy: this.failurePolicy }),
      ...(this.outputMap !== undefined && { outputs: this.outputMap }),
    });
    if (result.success) return result.data;
    const issue = result.error.issues[0]!;
    throw new ValidationError(`pipeline.${issue.path.map(String).join('.')}`, issue.message);
  }

  /** True when every stage can cross the wire (no inline functions). */
  get portable(): boolean {
    return this.functions.size === 0;
  }

  /** The wire form; refused for a pipeline with inline functions, naming the first such stage. */
  toJSON(): PipelineSpec {
    const spec = this.spec;
    const index = spec.stages.findIndex((s) => s.kind === 'fn' && this.functions.has(s.fn));
    if (index >= 0) {
      throw new ValidationError(
        `pipeline.stages.${index}.fn`,
        `stage "${spec.stages[index]!.id}" is an inline function, which cannot cross the wire; register it by name`,
      );
    }
    return spec;
  }
}

/** Starts a pipeline definition. */
export function pipeline(name: string): Pipeline {
  return Pipeline.create(name);
}
