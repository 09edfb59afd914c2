/**
 * The HTTP direct adapter's transport: OpenAI-compatible `POST {baseUrl}/chat/completions` from
 * Node's global `fetch`, with per-attempt timeouts, retries on 429/5xx (exponential backoff with
 * full jitter, or the server's `Retry-After`), a per-provider rate limiter, the LM cache, tool
 * calls and SSE streaming.
 */
import { DspexError, ErrorCode, isDspexError } from '../errors.js';
import { backoffDelay, isRetryableStatus, parseRetryAfter, type BackoffOptions } from './backoff.js';
import { lmCacheKey } from './cache-key.js';
import type { ResultCache } from './cache.js';
import type { ResolvedModel } from './model-name.js';
import { estimateTokens, type RateLimiter } from './rate-limiter.js';
import { sseData } from './sse.js';
import type { ChatDelta, ChatRequest, ChatResult, TokenUsage, ToolCall } from './types.js';
import type { ResponseFormat } from './types.js';

export interface HttpChatOptions {
  model: ResolvedModel;
  /** How structured output is requested. */
  format: ResponseFormat;
  /** Time one HTTP attempt may take, ms. */
  timeoutMs: number;
  /** Retries after the first attempt, for 429/5xx/network failures. */
  maxRetries: number;
  backoff: BackoffOptions;
  limiter: RateLimiter;
  cache?: ResultCache<ChatResult> | undefined;
  /** Called before each retry wait (metrics, logs). */
  onRetry?: (status: number | 'network' | 'timeout', delayMs: number) => void;
  fetch?: typeof fetch;
  random?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

interface WireChoice {
  message?: { content?: string | null; tool_calls?: ToolCall[] };
  finish_reason?: string | null;
}
interface WireCompletion {
  model?: string;
  choices?: WireChoice[];
  usage?: TokenUsage;
}
interface WireChunk {
  choices?: Array<{
    delta?: {
      content?: string | null;
      tool_calls?: Array<{ index: number; id?: string; function?: { name?: string; arguments?: string } }>;
    };
    finish_reason?: string | null;
  }>;
  usage?: TokenUsage | null;
}

const sleepMs = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Chat completions against one OpenAI-compatible provider. */
export class HttpChatModel {
  private readonly fetch: typeof fetch;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly o: HttpChatOptions) {
    this.fetch = o.fetch ?? globalThis.fetch;
    this.sleep = o.sleep ?? sleepMs;
  }

  get model(): ResolvedModel {
    return this.o.model;
  }

  /** The request body sent to the provider. */
  body(request: ChatRequest, stream: boolean): Record<string, unknown> {
    const body: Record<string, unknown> = {
      ...request.params,
      model: request.model ?? this.o.model.model,
      messages: request.messages,
    };
    if (request.tools !== undefined && request.tools.length > 0) body.tools = request.tools;
    if (request.schema !== undefined) {
      switch (this.o.format) {
        case 'json_schema':
          body.response_format = {
            type: 'json_schema',
            json_schema: { name: request.schema.name, schema: request.schema.schema },
          };
          break;
        case 'json_object':
          body.response_format = { type: 'json_object' };
          break;
        case 'text':
          break;
        default: {
          const never: never = this.o.format;
          throw new Error(`unknown format ${String(never)}`);
        }
      }
    }
    if (stream) {
      body.stream = true;
      body.stream_options = { include_usage: true };
    }
    return body;
  }

  /** One completion (the first choice), from the cache when an equal request was answered before. */
  async complete(request: ChatRequest, signal?: AbortSignal): Promise<ChatResult> {
    const cache = request.noCache === true ? undefined : this.o.cache;
    const key = cache === undefined ? '' : lmCacheKey(this.o.model.name, request);
    if (cache !== undefined) {
      const hit =
        cache.getLocal(key) ?? (cache.shared ? await cache.getShared(key, isChatResult) : undefined);
      if (hit !== undefined) return { ...hit, cached: true };
    }
    const { response, estimate } = await this.send(this.body(request, false), request, signal);
    const json = (await response.json()) as WireCompletion;
    if (json.usage?.total_tokens !== undefined) this.o.limiter.settle(estimate, json.usage.total_tokens);
    const choice = json.choices?.[0];
    if (choice === undefined) {
      throw new DspexError(ErrorCode.LmError, `${this.o.model.name}: the reply has no choices`, {
        retryable: false,
      });
    }
    const result: ChatResult = {
      content: choice.message?.content ?? null,
      toolCalls: choice.message?.tool_calls ?? [],
      finishReason: choice.finish_reason ?? null,
      usage: json.usage,
      model: json.model ?? this.o.model.model,
      cached: false,
    };
    cache?.set(key, result);
    return result;
  }

  /**
   * A streamed completion: content and tool-call deltas as they arrive, then one `finish`.
   * Retries happen only before the first byte; a stream cut mid-way is an `lm_error`.
   */
  async *stream(request: ChatRequest, signal?: AbortSignal): AsyncGenerator<ChatDelta> {
    const { response } = await this.send(this.body(request, true), request, signal);
    if (response.body === null) {
      throw new DspexError(ErrorCode.LmError, `${this.o.model.name}: empty streaming body`);
    }
    let reason: string | null = null;
    let usage: TokenUsage | undefined;
    for await (const data of sseData(response.body)) {
      if (data.trim() === '[DONE]') break;
      let chunk: WireChunk;
      try {
        chunk = JSON.parse(data) as WireChunk;
      } catch (cause) {
        throw new DspexError(ErrorCode.LmError, `${this.o.model.name}: malformed stream event`, { cause });
      }
      if (chunk.usage) usage = chunk.usage;
      for (const choice of chunk.choices ?? []) {
        const delta = choice.delta;
        if (typeof delta?.content === 'string' && delta.content !== '') {
          yield { type: 'content', text: delta.content };
        }
        for (const call of delta?.tool_calls ?? []) {
          const out: ChatDelta = {
            type: 'tool_call',
            index: call.index,
            arguments: call.function?.arguments ?? '',
          };
          if (call.id !== undefined) out.id = call.id;
          if (call.function?.name !== undefined) out.name = call.function.name;
          yield out;
        }
        if (choice.finish_reason) reason = choice.finish_reason;
      }
    }
    yield { type: 'finish', reason, usage };
  }

  /** POSTs with rate limiting, per-attempt timeouts and retries; resolves with a 2xx response. */
  private async send(
    body: Record<string, unknown>,
    request: ChatRequest,
    signal?: AbortSignal,
  ): Promise<{ response: Response; estimate: number }> {
    const deadline = request.deadline ?? Number.POSITIVE_INFINITY;
    const text = JSON.stringify(body);
    const maxTokens = typeof request.params?.max_tokens === 'number' ? request.params.max_tokens : undefined;
    const estimate = estimateTokens(text, maxTokens);
    await this.o.limiter.acquire(estimate, deadline);
    const url = `${this.o.model.baseUrl}/chat/completions`;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.o.model.apiKey !== undefined) headers.authorization = `Bearer ${this.o.model.apiKey}`;
    for (let attempt = 0; ; attempt++) {
      const left = deadline - Date.now();
      if (left <= 0) throw this.deadlineError();
      const timeout = AbortSignal.timeout(Math.min(this.o.timeoutMs, left));
      const attemptSignal = signal === undefined ? timeout : AbortSignal.any([signal, timeout]);
      let failure: { status: number | 'network' | 'timeout'; retryAfter?: number; error: DspexError };
      try {
        const response = await this.fetch(url, {
          method: 'POST',
          headers,
          body: text,
          signal: attemptSignal,
        });
        if (response.ok) return { response, estimate };
        const detail = (await response.text().catch(() => '')).slice(0, 500);
        const retryable = isRetryableStatus(response.status);
        failure = {
          status: response.status,
          retryAfter: parseRetryAfter(response.headers.get('retry-after')),
          error: new DspexError(
            ErrorCode.LmError,
            `${this.o.model.name}: HTTP ${response.status}${detail === '' ? '' : `: ${detail}`}`,
            { retryable, details: { status: response.status, provider: this.o.model.provider } },
          ),
        };
        if (!retryable) throw failure.error;
      } catch (error) {
        if (isDspexError(error)) throw error;
        if (signal?.aborted === true) {
          throw new DspexError(ErrorCode.DeadlineExceeded, `${this.o.model.name}: call cancelled`, {
            cause: error,
          });
        }
        const timedOut = timeout.aborted;
        failure = {
          status: timedOut ? 'timeout' : 'network',
          error: new DspexError(
            ErrorCode.LmError,
            timedOut
              ? `${this.o.model.name}: no reply within ${Math.min(this.o.timeoutMs, left)} ms`
              : `${this.o.model.name}: ${(error as Error).message}`,
            {
              retryable: true,
              details: { provider: this.o.model.provider, status: timedOut ? 'timeout' : 'network' },
            },
          ),
        };
      }
      if (attempt >= this.o.maxRetries) throw failure.error;
      const delay = failure.retryAfter ?? backoffDelay(attempt + 1, this.o.backoff, this.o.random);
      if (Date.now() + delay >= deadline) throw failure.error;
      this.o.onRetry?.(failure.status, delay);
      await this.sleep(delay);
    }
  }

  private deadlineError(): DspexError {
    return new DspexError(ErrorCode.DeadlineExceeded, `${this.o.model.name}: deadline passed`);
  }
}

function isChatResult(value: unknown): value is ChatResult {
  return typeof value === 'object' && value !== null && 'content' in value && 'toolCalls' in value;
}
