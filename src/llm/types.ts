/**
 * The vocabulary of the LLM layer: chat messages and completions (what the HTTP adapter speaks)
 * and the one predict-level interface every adapter implements.
 */
import type { PredictReply, PredictRequest } from '../protocol/schemas.js';

/** A tool call the model asked for, OpenAI shape (`arguments` is JSON text). */
export interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

/** One chat message, OpenAI shape. */
export type ChatMessage =
  | { role: 'system'; content: string }
  | { role: 'user'; content: string }
  | { role: 'assistant'; content: string | null; tool_calls?: ToolCall[] }
  | { role: 'tool'; content: string; tool_call_id: string };

/** A tool the model may call: a name, a description and a JSON schema of its arguments. */
export interface ToolDefinition {
  type: 'function';
  function: { name: string; description?: string; parameters: Record<string, unknown> };
}

/** How the model is asked for structured output. */
export const ResponseFormat = { JsonSchema: 'json_schema', JsonObject: 'json_object', Text: 'text' } as const;
export type ResponseFormat = (typeof ResponseFormat)[keyof typeof ResponseFormat];

/** One chat completion request. `params` pass through to the provider (temperature, max_tokens, …). */
export interface ChatRequest {
  /** Provider-side model name; @default the adapter's configured model */
  model?: string;
  messages: ChatMessage[];
  params?: Record<string, unknown>;
  tools?: ToolDefinition[];
  /** JSON schema of the expected answer, sent as `response_format` when the provider supports it. */
  schema?: { name: string; schema: Record<string, unknown> };
  /** Absolute deadline, unix ms: no attempt or retry wait runs past it. */
  deadline?: number;
  /** Skip the LM cache for this request. @default false */
  noCache?: boolean;
}

/** Token counts as OpenAI reports them. */
export interface TokenUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/** A finished completion (the first choice). */
export interface ChatResult {
  content: string | null;
  toolCalls: ToolCall[];
  finishReason: string | null;
  usage: TokenUsage | undefined;
  model: string;
  /** Whether the answer came from the LM cache. */
  cached: boolean;
}

/** One piece of a streamed completion. */
export type ChatDelta =
  | { type: 'content'; text: string }
  | { type: 'tool_call'; index: number; id?: string; name?: string; arguments: string }
  | { type: 'finish'; reason: string | null; usage: TokenUsage | undefined };

/** Adapter names, as `config.adapter` and the `adapter` metric label spell them. */
export const AdapterName = { Direct: 'direct', Python: 'python', Mock: 'mock' } as const;
export type AdapterName = (typeof AdapterName)[keyof typeof AdapterName];

/** What an adapter learns about the call besides its body. */
export interface AdapterContext {
  /** Absolute deadline, unix ms. */
  deadline: number;
  trace: string | undefined;
  session: string | undefined;
  /** Pool the call would run on (Python bridge). */
  pool: string;
  signal?: AbortSignal;
}

/**
 * One way of answering a predict: straight over HTTP (`direct`), through the DSPy worker pools
 * (`python`) or from a script (`mock`). The reply is the `dspex.rpc.predict` reply.
 */
export interface LlmAdapter {
  readonly name: AdapterName;
  predict(request: PredictRequest, context: AdapterContext): Promise<PredictReply>;
}
