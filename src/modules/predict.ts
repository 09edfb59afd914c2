import type { Signature } from '../signature/index.js';
import { RemoteModule, type ModuleOptions } from './module.js';
import { defaultInstructions, predictorState, type ModuleState } from './state.js';

/**
 * `dspy.Predict` on a worker.
 *
 * @example
 * ```ts
 * const qa = new Predict(signature('question: str -> answer: str'), { executor: runtime });
 * const { answer } = await qa.call({ question: 'What is 2+2?' });
 * ```
 */
export class Predict<I, O> extends RemoteModule<I, O> {
  constructor(sig: Signature<I, O>, options: ModuleOptions = {}) {
    super('Predict', sig, sig, options);
  }

  /** A bare Predict's state is its own predictor map (DSPy names it `self`). */
  get predictorNames(): readonly string[] {
    return ['self'];
  }

  protected defaultState(demos: Array<Record<string, unknown>>): ModuleState {
    const sig = this.signature;
    const instructions = sig.instructions ?? defaultInstructions(sig.inputs, sig.outputs);
    return predictorState(instructions, [...sig.inputs, ...sig.outputs], demos);
  }
}
