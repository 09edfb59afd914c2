import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { isDspexError } from '../../src/errors.js';
import { DirectAdapter } from '../../src/llm/direct-adapter.js';
import { HttpChatModel, type HttpChatOptions } from '../../src/llm/http-chat.js';
import { resolveModel } from '../../src/llm/model-name.js';
import { RateLimiter } from '../../src/llm/rate-limiter.js';
import { ResultCache } from '../../src/llm/cache.js';
import type { ChatDelta, ChatResult } from '../../src/llm/types.js';
import { createMetrics } from '../../src/telemetry/metrics.js';
import { startOpenAiServer, type OpenAiServer } from '../harness/openai-server.js';

let lm: OpenAiServer;
beforeAll(async () => {
  lm = await startOpenAiServer();
});
afterAll(async () => {
  await lm.close();
});

function chat(overrides: Partial<HttpChatOptions> = {}): HttpChatModel {
  return new HttpChatModel({
    model: resolveModel('openai/test-model', { apiBase: lm.baseUrl, env: { DSPEX_LM_API_KEY: 'sk-test' } }),
    format: 'json_schema',
    timeoutMs: 5_000,
    maxRetries: 3,
    backoff: { baseMs: 10, maxMs: 50 },
    limiter: new RateLimiter({}),
    ...overrides,
  });
}

async function collect(stream: AsyncIterable<ChatDelta>): Promise<ChatDelta[]> {
  const out: ChatDelta[] = [];
  for await (const d of stream) out.push(d);
  return out;
}

describe('HTTP chat model against a local OpenAI-compatible server', () => {
  it('sends the model, messages, parameters and the API key, and reads the completion', async () => {
    const before = lm.count();
    lm.enqueue({ content: 'hello there' });
    const result = await chat().complete({
      messages: [{ role: 'user', content: 'hi' }],
      params: { temperature: 0.3, max_tokens: 20 },
    });
    expect(result.content).toBe('hello there');
    expect(result.finishReason).toBe('stop');
    expect(result.usage?.total_tokens).toBeGreaterThan(0);
    const req = lm.requests[before]!;
    expect(req.body.model).toBe('test-model');
    expect(req.body.temperature).toBe(0.3);
    expect(req.body.max_tokens).toBe(20);
    expect(req.headers.authorization).toBe('Bearer sk-test');
  });

  it('streams content deltas that join to the full answer, then finish with usage', async () => {
    lm.enqueue({ content: 'The quick brown fox jumps over the lazy dog' });
    const deltas = await collect(chat().stream({ messages: [{ role: 'user', content: 'story' }] }));
    const text = deltas.flatMap((d) => (d.type === 'content' ? [d.text] : [])).join('');
    expect(text).toBe('The quick brown fox jumps over the lazy dog');
    expect(deltas.filter((d) => d.type === 'content').length).toBeGreaterThan(1);
    const last = deltas.at(-1)!;
    expect(last).toMatchObject({ type: 'finish', reason: 'stop' });
    expect(last.type === 'finish' && last.usage?.total_tokens).toBeGreaterThan(0);
    expect(lm.requests.at(-1)!.body.stream).toBe(true);
  });

  it('returns tool calls and sends the tool definitions', async () => {
    lm.enqueue({ toolCalls: [{ name: 'lookup', arguments: { city: 'Paris' } }] });
    const tools = [
      {
        type: 'function' as const,
        function: {
          name: 'lookup',
          parameters: { type: 'object', properties: { city: { type: 'string' } } },
        },
      },
    ];
    const result = await chat().complete({ messages: [{ role: 'user', content: 'weather?' }], tools });
    expect(result.finishReason).toBe('tool_calls');
    expect(result.toolCalls).toHaveLength(1);
    expect(result.toolCalls[0]!.function.name).toBe('lookup');
    expect(JSON.parse(result.toolCalls[0]!.function.arguments)).toEqual({ city: 'Paris' });
    expect(lm.requests.at(-1)!.body.tools).toEqual(tools);
  });

  it('streams tool-call argument deltas', async () => {
    lm.enqueue({ toolCalls: [{ name: 'add', arguments: { a: 1, b: 2 } }] });
    const deltas = await collect(chat().stream({ messages: [{ role: 'user', content: 'add' }] }));
    const calls = deltas.filter((d) => d.type === 'tool_call');
    expect(calls[0]).toMatchObject({ name: 'add', index: 0 });
    const args = calls.map((d) => (d.type === 'tool_call' ? d.arguments : '')).join('');
    expect(JSON.parse(args)).toEqual({ a: 1, b: 2 });
  });

  it('retries a 429 after the Retry-After the server asked for', async () => {
    const before = lm.count();
    lm.enqueue({ status: 429, retryAfter: '1' }, { content: 'finally' });
    const retries: Array<[string | number, number]> = [];
    const started = Date.now();
    const result = await chat({ onRetry: (s, d) => retries.push([s, d]) }).complete({
      messages: [{ role: 'user', content: 'busy?' }],
    });
    expect(result.content).toBe('finally');
    expect(retries).toEqual([[429, 1000]]);
    expect(lm.count() - before).toBe(2);
    // The second attempt came no earlier than the server asked.
    expect(lm.requests[before + 1]!.at - lm.requests[before]!.at).toBeGreaterThanOrEqual(990);
    expect(Date.now() - started).toBeGreaterThanOrEqual(990);
  });

  it('retries 5xx with backoff and gives up after maxRetries with a retryable lm_error', async () => {
    const before = lm.count();
    lm.enqueue({ status: 503 }, { status: 500 }, { status: 502 });
    const error = await chat({ maxRetries: 2 })
      .complete({ messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e);
    expect(isDspexError(error) && error.code).toBe('lm_error');
    expect(isDspexError(error) && error.retryable).toBe(true);
    expect(isDspexError(error) && error.details?.status).toBe(502);
    expect(lm.count() - before).toBe(3);
  });

  it('does not retry a 400 and reports it as a non-retryable lm_error', async () => {
    const before = lm.count();
    lm.enqueue({ status: 400 });
    const error = await chat()
      .complete({ messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e);
    expect(isDspexError(error) && error.retryable).toBe(false);
    expect(lm.count() - before).toBe(1);
  });

  it('times out a slow attempt and retries it', async () => {
    const before = lm.count();
    lm.enqueue({ delayMs: 1_500 }, { content: 'quick now' });
    const result = await chat({ timeoutMs: 300 }).complete({ messages: [{ role: 'user', content: 'x' }] });
    expect(result.content).toBe('quick now');
    expect(lm.count() - before).toBe(2);
  });

  it('fails a call whose deadline passes during a slow reply', async () => {
    lm.enqueue({ delayMs: 2_000 });
    const started = Date.now();
    const error = await chat({ timeoutMs: 10_000 })
      .complete({ messages: [{ role: 'user', content: 'x' }], deadline: Date.now() + 400 })
      .catch((e: unknown) => e);
    expect(isDspexError(error)).toBe(true);
    expect(Date.now() - started).toBeLessThan(1_500);
  });

  it('answers a repeated request from the LM cache without a second HTTP call', async () => {
    const metrics = createMetrics();
    const cache = new ResultCache<ChatResult>({
      entries: 10,
      lookups: metrics.llmCache,
      name: 'lm',
      logger: pino({ level: 'silent' }),
    });
    const model = chat({ cache });
    const before = lm.count();
    lm.setDefault(() => ({ content: 'cached answer' }));
    const request = { messages: [{ role: 'user' as const, content: 'same' }], params: { temperature: 0 } };
    const first = await model.complete(request);
    const second = await model.complete({ ...request, params: { temperature: 0 } });
    const bypass = await model.complete({ ...request, noCache: true });
    lm.setDefault(() => ({}));
    expect(first.cached).toBe(false);
    expect(second).toMatchObject({ content: 'cached answer', cached: true });
    expect(bypass.cached).toBe(false);
    expect(lm.count() - before).toBe(2);
  });
});

describe('direct adapter (structured output) against the local server', () => {
  const context = { deadline: Date.now() + 60_000, trace: undefined, session: undefined, pool: 'general' };

  it('sends the outputs as a JSON schema response_format and returns typed outputs', async () => {
    const adapter = new DirectAdapter({ chat: chat(), maxAttempts: 3, nodeId: 'n-test' });
    const reply = await adapter.predict(
      {
        module: 'Predict',
        signature: 'question: str -> answer: str, score: float, ok: bool, tags: list[str], n: int',
        inputs: { question: 'What is 2+2?' },
      },
      context,
    );
    expect(reply.outputs).toEqual({
      answer: 'answer for What is 2+2?',
      score: 0.5,
      ok: true,
      tags: ['tags for What is 2+2?'],
      n: 42,
    });
    const body = lm.requests.at(-1)!.body;
    expect(body.response_format?.type).toBe('json_schema');
    expect(body.response_format?.json_schema?.schema).toMatchObject({
      type: 'object',
      properties: { score: { type: 'number' }, n: { type: 'integer' } },
    });
    expect(reply.usage).toMatchObject({ adapter: 'direct', attempts: 1 });
  });

  it('parses outputs from text when the provider has no structured output', async () => {
    const adapter = new DirectAdapter({ chat: chat({ format: 'text' }), maxAttempts: 1, nodeId: 'n' });
    lm.enqueue({ content: 'Sure! ```json\n{"answer": "Paris", "confidence": "0.9"}\n```' });
    const reply = await adapter.predict(
      {
        module: 'Predict',
        signature: 'question -> answer, confidence: float',
        inputs: { question: 'Capital?' },
      },
      context,
    );
    expect(reply.outputs).toEqual({ answer: 'Paris', confidence: 0.9 });
    expect(lm.requests.at(-1)!.body.response_format).toBeUndefined();
  });

  it('re-asks an invalid answer with the error and accepts the corrected one', async () => {
    const adapter = new DirectAdapter({ chat: chat(), maxAttempts: 3, nodeId: 'n' });
    const before = lm.count();
    lm.enqueue({ content: '{"answer": "x", "count": "many"}' }, { content: '{"answer": "x", "count": 3}' });
    const reply = await adapter.predict(
      { module: 'Predict', signature: 'question -> answer, count: int', inputs: { question: 'How many?' } },
      context,
    );
    expect(reply.outputs).toEqual({ answer: 'x', count: 3 });
    expect(lm.count() - before).toBe(2);
    const reask = lm.requests.at(-1)!.body.messages!;
    expect(reask.at(-2)).toMatchObject({ role: 'assistant', content: '{"answer": "x", "count": "many"}' });
    expect(reask.at(-1)!.content).toContain('outputs.count');
  });

  it('answers 422 naming the field after the bounded attempts', async () => {
    const adapter = new DirectAdapter({ chat: chat(), maxAttempts: 2, nodeId: 'n' });
    const before = lm.count();
    lm.enqueue({ content: '{"count": "lots"}' }, { content: '{"count": "still lots"}' });
    const error = await adapter
      .predict(
        { module: 'Predict', signature: 'question -> count: int', inputs: { question: 'n?' } },
        context,
      )
      .catch((e: unknown) => e);
    expect(isDspexError(error) && error.status).toBe(422);
    expect(isDspexError(error) && error.details?.field).toBe('outputs.count');
    expect(lm.count() - before).toBe(2);
  });
});
