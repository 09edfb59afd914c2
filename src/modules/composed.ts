import { DspexError, ErrorCode } from '../errors.js';
import { runBatch, type BatchOptions } from './batch.js';
import { RemoteModule, type ModuleCallOptions } from './module.js';
import type { ModuleState, PredictorState } from './state.js';

// Sub-modules of any signature: their input/output types do not matter to the walk.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyRemote = RemoteModule<any, any, any>;

/**
 * A program of several modules, written in TypeScript: extend it, keep sub-modules in properties,
 * and call them from {@link Module.forward}. As in DSPy, the program's state is its sub-modules'
 * states under their property names (`a.predict` for a ChainOfThought in `a`), so a state saved by
 * the same program written in Python DSPy loads here, and the reverse.
 *
 * @example
 * ```ts
 * class Answer extends Module<{ question: string }, { answer: string }> {
 *   rewrite = new Predict(signature('question -> query'), { executor: rt });
 *   answer = new ChainOfThought(signature('query -> answer'), { executor: rt });
 *   async forward({ question }, options) {
 *     const { query } = await this.rewrite.call({ question }, options);
 *     const { answer } = await this.answer.call({ query }, options);
 *     return { answer };
 *   }
 * }
 * ```
 */
export abstract class Module<I, O> {
  /** The program: calls sub-modules (or anything else) and returns the outputs. */
  abstract forward(inputs: I, options: ModuleCallOptions): Promise<O>;

  /** Runs {@link Module.forward}. */
  call(inputs: I, options: ModuleCallOptions = {}): Promise<O> {
    return this.forward(inputs, options);
  }

  /** Runs the program over many inputs, at most `concurrency` at once; one value or error per input, in order. */
  batch(
    inputs: readonly I[],
    options: ModuleCallOptions & BatchOptions = {},
  ): Promise<Array<O | DspexError>> {
    return runBatch(inputs, (item) => this.call(item, options), options);
  }

  /**
   * Every remote module of this program with its dotted property path (`stage`, `inner.stage`,
   * `stages[0]`), in property order, descending into nested {@link Module}s and arrays.
   */
  namedPredictors(): Array<[string, AnyRemote]> {
    const found: Array<[string, AnyRemote]> = [];
    const seen = new Set<unknown>();
    const visit = (name: string, value: unknown): void => {
      if (seen.has(value)) return;
      if (value instanceof RemoteModule) {
        seen.add(value);
        found.push([name, value]);
      } else if (value instanceof Module) {
        seen.add(value);
        for (const [key, child] of Object.entries(value)) visit(`${name}.${key}`, child);
      } else if (Array.isArray(value)) {
        value.forEach((item, i) => visit(`${name}[${i}]`, item));
      }
    };
    seen.add(this);
    for (const [key, value] of Object.entries(this)) visit(key, value);
    return found;
  }

  /** The program's state in DSPy's JSON form: `{<path>.<predictor>: {demos, signature, …}}`. */
  dumpState(): Record<string, PredictorState> {
    const state: Record<string, PredictorState> = {};
    for (const [path, module] of this.namedPredictors()) {
      const sub = module.dumpState();
      for (const name of module.predictorNames) {
        state[name === 'self' ? path : `${path}.${name}`] = (
          name === 'self' ? sub : (sub as Record<string, PredictorState>)[name]
        ) as PredictorState;
      }
    }
    return state;
  }

  /**
   * Loads a program state (`dump_state()` of the same program in Python DSPy, or a `save()` file's
   * content): each sub-module gets its entries. Every predictor must be present.
   */
  loadState(state: ModuleState | string): this {
    const all = (typeof state === 'string' ? JSON.parse(state) : state) as Record<string, unknown>;
    for (const [path, module] of this.namedPredictors()) {
      const names = module.predictorNames;
      const key = (name: string) => (name === 'self' ? path : `${path}.${name}`);
      const missing = names.map(key).find((k) => !(k in all));
      if (missing !== undefined) {
        throw new DspexError(
          ErrorCode.BadRequest,
          `state: no entry "${missing}" for this program's predictors`,
          {
            details: { field: `state.${missing}` },
          },
        );
      }
      if (names.length === 1 && names[0] === 'self') module.loadState(all[path] as ModuleState);
      else module.loadState(Object.fromEntries(names.map((n) => [n, all[key(n)]])) as ModuleState);
    }
    return this;
  }
}
