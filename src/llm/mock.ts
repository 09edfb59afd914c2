/**
 * The mock adapter: scripted answers for users' own tests, with no LM and no Python. Usable as a
 * runtime's adapter (`createRuntime({ mock })`) or directly as a module's executor.
 */
import { DspexError, ErrorCode } from '../errors.js';
import { PredictRequestSchema, type PredictReply, type PredictRequest } from '../protocol/schemas.js';
import { signature } from '../signature/index.js';
import { answeringSignature } from './direct-adapter.js';
import { AdapterName, type AdapterContext, type LlmAdapter } from './types.js';

/** One scripted answer: the outputs, or a function of the request giving them. */
export type MockAnswer =
  | Record<string, unknown>
  | ((request: PredictRequest) => Record<string, unknown> | Promise<Record<string, unknown>>);

/** Options of {@link createMockLm}. */
export interface MockLmOptions {
  /**
   * Answers by the substring of the first input value they respond to (checked in order), or
   * `'*'` for any call.
   */
  answers?: Record<string, MockAnswer>;
  /** Answers handed out in order, one per call, after `answers` found no match. */
  sequence?: MockAnswer[];
}

/** A scripted LM: an {@link LlmAdapter} and an executor for modules. */
export interface MockLm extends LlmAdapter {
  /** Every request answered so far, in order. */
  readonly calls: PredictRequest[];
  /** The same contract as `Runtime.predict`, for `Predict(...).call(inputs, { executor: mock })`. */
  predict(request: PredictRequest, context?: Partial<AdapterContext>): Promise<PredictReply>;
}

function firstInput(request: PredictRequest): string {
  const sig = signature(request.signature);
  for (const field of sig.inputs) {
    const value = request.inputs[field.name];
    if (value !== undefined && value !== null)
      return typeof value === 'string' ? value : JSON.stringify(value);
  }
  return '';
}

/**
 * Builds a scripted LM. Outputs are checked and coerced against the signature as an LM's would be,
 * so a script that does not fit the signature fails the test with a 422 naming the field.
 *
 * @example
 * ```ts
 * const mock = createMockLm({ answers: { France: { answer: 'Paris' }, '*': { answer: 'unknown' } } });
 * const qa = Predict('question -> answer');
 * await qa.call({ question: 'Capital of France?' }, { executor: mock }); // { answer: 'Paris' }
 * ```
 */
export function createMockLm(options: MockLmOptions = {}): MockLm {
  const calls: PredictRequest[] = [];
  const sequence = [...(options.sequence ?? [])];
  const answers = Object.entries(options.answers ?? {});
  return {
    name: AdapterName.Mock,
    calls,
    async predict(request) {
      const started = performance.now();
      const body = PredictRequestSchema.parse(request);
      const sig = answeringSignature(body);
      sig.validateInputs(body.inputs);
      calls.push(body);
      const text = firstInput(body);
      const match =
        answers.find(([key]) => key !== '*' && text.includes(key))?.[1] ??
        sequence.shift() ??
        answers.find(([key]) => key === '*')?.[1];
      if (match === undefined) {
        throw new DspexError(ErrorCode.NotFound, `mock LM: no scripted answer for "${text.slice(0, 80)}"`, {
          details: { field: 'inputs' },
        });
      }
      const raw = typeof match === 'function' ? await match(body) : match;
      return {
        outputs: sig.parseOutputs(raw),
        worker: 'mock',
        latency_ms: performance.now() - started,
        usage: { adapter: AdapterName.Mock },
      };
    },
  };
}
