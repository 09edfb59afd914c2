import { withReasoning, type Signature } from '../signature/index.js';
import { RemoteModule, type ModuleOptions } from './module.js';
import { defaultInstructions, predictorState, type ModuleState } from './state.js';

/**
 * `dspy.ChainOfThought` on a worker: the outputs gain a `reasoning` string before the signature's own.
 *
 * @example
 * ```ts
 * const cot = new ChainOfThought(signature('question -> answer'), { executor: runtime });
 * const { reasoning, answer } = await cot.call({ question: 'Why is the sky blue?' });
 * ```
 */
export class ChainOfThought<I, O> extends RemoteModule<I, { reasoning: string } & O> {
  constructor(sig: Signature<I, O>, options: ModuleOptions = {}) {
    super('ChainOfThought', sig, withReasoning(sig), options);
  }

  get predictorNames(): readonly string[] {
    return ['predict'];
  }

  protected defaultState(demos: Array<Record<string, unknown>>): ModuleState {
    return { predict: chainOfThoughtPredictor(this.signature, demos) };
  }
}

/** The state of `dspy.ChainOfThought(sig).predict` when freshly built. */
export function chainOfThoughtPredictor(
  sig: Signature<unknown, unknown>,
  demos: Array<Record<string, unknown>>,
) {
  const withR = withReasoning(sig);
  const instructions = sig.instructions ?? defaultInstructions(sig.inputs, sig.outputs);
  return predictorState(instructions, [...withR.inputs, ...withR.outputs], demos);
}
