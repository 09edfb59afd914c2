import { z } from 'zod';
import { DspexError, ErrorCode } from '../errors.js';
import type { ToolSpec } from '../protocol/schemas.js';
import type { Signature } from '../signature/index.js';
import { RemoteModule, type Executor, type ModuleCallOptions, type ModuleOptions } from './module.js';
import type { ModuleState } from './state.js';
import type { AnyTool } from './tool.js';

/** ReAct's record of its steps: `thought_<i>`, `tool_name_<i>`, `tool_args_<i>`, `observation_<i>`. */
export type Trajectory = Record<string, unknown>;

/** Options of {@link ReAct}. */
export interface ReActOptions extends ModuleOptions {
  /** Tools written in TypeScript; registered on the executor's runtime before each call. */
  tools?: readonly AnyTool[];
  /** Tools served by other nodes (by name and JSON schema), called like the local ones. */
  remoteTools?: readonly ToolSpec[];
  /** Most reasoning/acting steps before ReAct extracts its answer. @default 20 (DSPy's), at most 50 */
  maxIters?: number;
}

/**
 * `dspy.ReAct` on a worker, with tools written in TypeScript. The worker calls each tool back over
 * `<prefix>.tool.<name>`; arguments are zod-validated here, and a validation error, a thrown error or
 * a timeout reaches the model as the step's observation (as DSPy does for a failing tool), not as a
 * failed call. Outputs gain `trajectory` and `reasoning` (from ReAct's final ChainOfThought).
 *
 * @example
 * ```ts
 * const agent = new ReAct(signature('question -> answer'), { executor: rt, tools: [weather], maxIters: 5 });
 * const { answer, trajectory } = await agent.call({ question: 'Weather in Paris?' });
 * ```
 */
export class ReAct<I, O> extends RemoteModule<I, { trajectory: Trajectory; reasoning: string } & O> {
  private readonly tools: readonly AnyTool[];
  private readonly specs: ToolSpec[];

  constructor(
    sig: Signature<I, O>,
    private readonly reactOptions: ReActOptions = {},
  ) {
    super(
      'ReAct',
      sig,
      sig.prependOutputs({
        trajectory: z.record(z.string(), z.unknown()),
        reasoning: 'str',
      }),
      reactOptions,
    );
    this.tools = reactOptions.tools ?? [];
    this.specs = [...this.tools.map((t) => t.spec()), ...(reactOptions.remoteTools ?? [])];
  }

  get predictorNames(): readonly string[] {
    return ['react', 'extract.predict'];
  }

  /** ReAct's demos belong to one of its two predictors: set them through its state. */
  protected override get demoPredictor(): string | undefined {
    return undefined;
  }

  protected override requestFields(_options: ModuleCallOptions) {
    const fields: { tools: ToolSpec[]; options?: Record<string, unknown> } = { tools: this.specs };
    if (this.reactOptions.maxIters !== undefined) fields.options = { max_iters: this.reactOptions.maxIters };
    return fields;
  }

  protected override beforeCall(executor: Executor): void {
    for (const t of this.tools) {
      if (executor.tools === undefined) {
        throw new DspexError(
          ErrorCode.BadRequest,
          `ReAct: tool "${t.name}" needs a runtime to serve it; this executor serves no tools (use remoteTools)`,
        );
      }
      executor.tools.register(t);
    }
  }

  /**
   * DSPy writes ReAct's agent instructions itself from the tool list, so a fresh ReAct has no state
   * this side can produce: load one (saved by Python DSPy or dumped after loadState) first.
   */
  protected defaultState(): ModuleState {
    throw new DspexError(
      ErrorCode.BadRequest,
      'ReAct: no state loaded; its default state (agent instructions from the tools) is built by DSPy — ' +
        'load one saved by Python DSPy with loadState()',
      { details: { field: 'state' } },
    );
  }
}
