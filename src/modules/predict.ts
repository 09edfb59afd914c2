import type { Signature } from '../signature/index.js';
import { RemoteModule, type ModuleOptions } from './module.js';

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
}
