/**
 * The direct adapter: a predict answered by one OpenAI-compatible HTTP call from Node, typed by
 * the signature. The outputs' JSON schema (from the signature's zod schema) goes out as
 * `response_format` where the provider supports it; the reply is parsed and coerced with
 * `parseOutputs`, and an invalid reply is re-asked with the error, a bounded number of times,
 * before a 422 naming the field.
 */
import { z } from 'zod';
import { DspexError, ErrorCode, ValidationError } from '../errors.js';
import { ModuleName } from '../protocol/modules.js';
import type { PredictReply, PredictRequest } from '../protocol/schemas.js';
import { parseSignature, signature, withReasoning, type Signature } from '../signature/index.js';
import { containsDspy } from '../signature/types.js';
import type { HttpChatModel } from './http-chat.js';
import { buildMessages, extractAnswer, reaskMessage } from './prompt.js';
import {
  AdapterName,
  type AdapterContext,
  type ChatRequest,
  type LlmAdapter,
  type TokenUsage,
} from './types.js';

/** Modules the direct adapter can answer: one LM call each. */
export const DIRECT_MODULES: ReadonlySet<string> = new Set([ModuleName.Predict, ModuleName.ChainOfThought]);

/** `config` keys passed to the provider as request parameters. */
const LM_PARAMS = [
  'temperature',
  'max_tokens',
  'top_p',
  'stop',
  'seed',
  'presence_penalty',
  'frequency_penalty',
];

export interface DirectAdapterOptions {
  chat: HttpChatModel;
  /** Answers asked for per call: the first plus re-asks after invalid answers. @default 3 */
  maxAttempts: number;
  /** Shown as the reply's `worker`. */
  nodeId: string;
}

/**
 * Whether a request's signature names one of DSPy's own types (`dspy.Image`, `dspy.History`, …):
 * only DSPy's adapters format those (image parts, conversation turns), so such calls go to Python.
 */
export function usesDspyTypes(body: Pick<PredictRequest, 'signature'>): boolean {
  const parsed = parseSignature(body.signature);
  return [...parsed.inputs, ...parsed.outputs].some((f) => containsDspy(f.type));
}

/** The signature the module answers (ChainOfThought adds `reasoning` first). */
export function answeringSignature(body: PredictRequest): Signature {
  const base =
    body.instructions === undefined
      ? signature(body.signature)
      : signature(body.signature, { instructions: body.instructions });
  return body.module === ModuleName.ChainOfThought ? withReasoning(base) : base;
}

const schemaMemo = new WeakMap<object, Record<string, unknown> | null>();

/** JSON schema of a signature's outputs, or `null` when zod cannot express it. */
export function outputJsonSchema(sig: Signature): Record<string, unknown> | null {
  let schema = schemaMemo.get(sig);
  if (schema === undefined) {
    try {
      schema = z.toJSONSchema(sig.outputSchema, { unrepresentable: 'any' });
    } catch {
      schema = null;
    }
    schemaMemo.set(sig, schema);
  }
  return schema;
}

export class DirectAdapter implements LlmAdapter {
  readonly name = AdapterName.Direct;

  constructor(private readonly o: DirectAdapterOptions) {}

  async predict(body: PredictRequest, context: AdapterContext): Promise<PredictReply> {
    const started = performance.now();
    if (!DIRECT_MODULES.has(body.module)) {
      throw new DspexError(
        ErrorCode.BadRequest,
        `config.adapter: the direct adapter cannot run ${body.module}`,
        {
          details: { field: 'config.adapter' },
        },
      );
    }
    if (usesDspyTypes(body)) {
      throw new DspexError(
        ErrorCode.BadRequest,
        "config.adapter: the direct adapter cannot send DSPy's own types (dspy.Image, dspy.History, …); use python or auto",
        { details: { field: 'config.adapter' } },
      );
    }
    const sig = answeringSignature(body);
    sig.validateInputs(body.inputs);
    const params: Record<string, unknown> = {};
    for (const key of LM_PARAMS) if (body.config?.[key] !== undefined) params[key] = body.config[key];
    const schema = outputJsonSchema(sig);
    const request: ChatRequest = {
      messages: buildMessages(sig, body.inputs, body.demos),
      params,
      deadline: context.deadline,
      noCache: body.config?.cache === false,
    };
    if (schema !== null) request.schema = { name: 'outputs', schema };
    const usage: TokenUsage = { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 };
    let cached = true;
    let lastError: ValidationError | undefined;
    for (let attempt = 1; attempt <= this.o.maxAttempts; attempt++) {
      const result = await this.o.chat.complete(request, context.signal);
      cached &&= result.cached;
      if (result.usage !== undefined) {
        usage.prompt_tokens += result.usage.prompt_tokens;
        usage.completion_tokens += result.usage.completion_tokens;
        usage.total_tokens += result.usage.total_tokens;
      }
      try {
        const outputs = sig.parseOutputs(extractAnswer(sig, result.content));
        return {
          outputs,
          worker: `direct:${this.o.nodeId}`,
          latency_ms: performance.now() - started,
          usage: { ...usage, adapter: AdapterName.Direct, lm_cached: cached, attempts: attempt },
        };
      } catch (error) {
        if (!(error instanceof ValidationError)) throw error;
        lastError = error;
        request.messages = [
          ...request.messages,
          { role: 'assistant', content: result.content ?? '' },
          { role: 'user', content: reaskMessage(error) },
        ];
      }
    }
    const last = lastError!;
    throw new ValidationError(
      last.field,
      `${last.message.slice(last.field.length + 2)} (the LM's answer, after ${this.o.maxAttempts} attempts)`,
      { details: { attempts: this.o.maxAttempts } },
    );
  }
}
