import type { Signature } from '../signature/index.js';
import { RemoteModule, type ModuleCallOptions, type ModuleOptions } from './module.js';
import { defaultInstructions, predictorState, type ModuleState } from './state.js';

/** Options of {@link MultiChainComparison}. */
export interface MultiChainComparisonOptions extends ModuleOptions {
  /** Number of attempts compared. @default 3, at most 16 */
  M?: number;
}

/** Call options of {@link MultiChainComparison}. */
export interface MultiChainCallOptions extends ModuleCallOptions {
  /**
   * The M attempts to compare, each with `reasoning` (or `rationale`) and the signature's last output.
   * Without them the worker first runs ChainOfThought M times (separate rollouts) and compares those.
   */
  completions?: Array<Record<string, unknown>>;
}

/**
 * `dspy.MultiChainComparison` on a worker: compares M reasoning attempts and answers with a
 * `rationale` and the signature's outputs.
 *
 * @example
 * ```ts
 * const mcc = new MultiChainComparison(signature('question -> answer'), { executor: rt, M: 3 });
 * const { rationale, answer } = await mcc.call({ question: '2+2?' });
 * ```
 */
export class MultiChainComparison<I, O> extends RemoteModule<
  I,
  { rationale: string } & O,
  MultiChainCallOptions
> {
  constructor(
    sig: Signature<I, O>,
    private readonly mccOptions: MultiChainComparisonOptions = {},
  ) {
    super('MultiChainComparison', sig, sig.prependOutputs({ rationale: 'str' }), mccOptions);
  }

  get predictorNames(): readonly string[] {
    return ['predict'];
  }

  protected override requestFields(options: MultiChainCallOptions) {
    const fields: { options?: Record<string, unknown>; completions?: Array<Record<string, unknown>> } = {};
    if (this.mccOptions.M !== undefined) fields.options = { M: this.mccOptions.M };
    if (options.completions !== undefined) fields.completions = options.completions;
    return fields;
  }

  /** Only the input fields' labels follow DSPy's naming rule; DSPy keeps its own for the attempts. */
  protected defaultState(demos: Array<Record<string, unknown>>): ModuleState {
    const sig = this.signature;
    const instructions = sig.instructions ?? defaultInstructions(sig.inputs, sig.outputs);
    return { predict: predictorState(instructions, sig.inputs, demos) };
  }
}
