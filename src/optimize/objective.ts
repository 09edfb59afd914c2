/**
 * The usual objective of a search: run predicts on a devset with a candidate's values and score the
 * outputs with a TS metric. Predicts go through the runtime, so they spread over the pool's workers.
 */
import type { PredictReply, PredictRequest } from '../protocol/schemas.js';
import type { Candidate } from './space.js';

/** Scores a candidate on the first `budget` examples of a devset (higher is better). */
export type Objective = (candidate: Candidate, budget: number) => Promise<number>;

/** Options of {@link devsetObjective}. */
export interface DevsetObjectiveOptions<E> {
  /** Runs one predict: `rt.predict` bound to its runtime, or a client's. */
  predict: (request: PredictRequest) => Promise<PredictReply>;
  devset: readonly E[];
  /** The predict request of one example under one candidate (its values as config, instructions, inputs…). */
  request: (candidate: Candidate, example: E) => PredictRequest;
  /** Score of one example's outputs, usually 0..1. */
  metric: (example: E, outputs: Record<string, unknown>) => number;
  /** Predicts of one evaluation in flight at once. @default 4 */
  concurrency?: number;
}

/**
 * An {@link Objective}: the mean metric over the first `budget` examples (all when `budget` is
 * larger than the devset). A failed predict fails the evaluation (the trial is recorded as failed).
 *
 * @example
 * ```ts
 * const objective = devsetObjective({
 *   predict: (r) => rt.predict(r), devset,
 *   request: (c, ex) => ({ module: 'Predict', signature: 'question -> answer', inputs: ex.inputs,
 *                          config: { temperature: c.temperature as number } }),
 *   metric: (ex, out) => (String(out.answer).includes(ex.answer) ? 1 : 0),
 * });
 * ```
 */
export function devsetObjective<E>(o: DevsetObjectiveOptions<E>): Objective {
  const concurrency = Math.max(1, o.concurrency ?? 4);
  return async (candidate, budget) => {
    const examples = o.devset.slice(0, Math.max(1, budget));
    const scores = new Array<number>(examples.length).fill(0);
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < examples.length) {
        const i = next++;
        const example = examples[i]!;
        const reply = await o.predict(o.request(candidate, example));
        scores[i] = o.metric(example, reply.outputs);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, examples.length) }, lane));
    return scores.reduce((a, b) => a + b, 0) / examples.length;
  };
}
