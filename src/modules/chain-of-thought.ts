import { withReasoning, type Signature } from '../signature/index.js';
import { RemoteModule, type ModuleOptions } from './module.js';

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
    super(
      'ChainOfThought',
      sig as Signature<I, unknown>,
      withReasoning(sig) as Signature<I, { reasoning: string } & O>,
      options,
    );
  }
}
