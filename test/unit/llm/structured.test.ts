import { describe, expect, it } from 'vitest';
import { isDspexError } from '../../../src/errors.js';
import { DirectAdapter } from '../../../src/llm/direct-adapter.js';
import { HttpChatModel } from '../../../src/llm/http-chat.js';
import { resolveModel } from '../../../src/llm/model-name.js';
import { buildMessages, extractAnswer, systemPrompt } from '../../../src/llm/prompt.js';
import { RateLimiter } from '../../../src/llm/rate-limiter.js';
import { signature } from '../../../src/signature/index.js';

/** A chat model whose HTTP layer answers from a list (an injected fetch, no network). */
function scripted(answers: string[]) {
  const bodies: Array<{ messages: Array<{ role: string; content: string }> }> = [];
  const fetch = (_url: string | URL | Request, init?: RequestInit): Promise<Response> => {
    bodies.push(JSON.parse(init?.body as string) as (typeof bodies)[number]);
    const content = answers.shift() ?? '{}';
    return Promise.resolve(
      new Response(JSON.stringify({ choices: [{ message: { content }, finish_reason: 'stop' }] }), {
        status: 200,
      }),
    );
  };
  const chat = new HttpChatModel({
    model: resolveModel('openai/m', { apiBase: 'http://unused.invalid/v1', env: {} }),
    format: 'json_schema',
    timeoutMs: 1000,
    maxRetries: 0,
    backoff: { baseMs: 1, maxMs: 1 },
    limiter: new RateLimiter({}),
    fetch: fetch,
  });
  return { chat, bodies };
}
const context = { deadline: Date.now() + 60_000, trace: undefined, session: undefined, pool: 'general' };

describe('prompt format', () => {
  const sig = signature('question: str, context: list[str] -> answer: str, confidence: float', {
    instructions: 'Answer briefly.',
  });

  it('lists instructions, typed input and output fields and the JSON shape in the system message', () => {
    expect(systemPrompt(sig)).toBe(
      [
        'Answer briefly.',
        '',
        'Input fields:',
        '- `question` (str)',
        '- `context` (list[str])',
        'Output fields:',
        '- `answer` (str)',
        '- `confidence` (float)',
        '',
        'Answer with one JSON object and nothing else: {"answer": <str>, "confidence": <float>}',
      ].join('\n'),
    );
  });

  it('puts inputs in field blocks and demos as user/assistant pairs', () => {
    const messages = buildMessages(sig, { question: 'Q?', context: ['a', 'b'] }, [
      { question: 'd', context: [], answer: 'x', confidence: 1 },
    ]);
    expect(messages.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'user']);
    expect(messages[2]!.content).toBe('{"answer":"x","confidence":1}');
    expect(messages[3]!.content).toBe('[[ ## question ## ]]\nQ?\n\n[[ ## context ## ]]\n["a","b"]');
  });

  it('reads a fenced or embedded JSON object, or DSPy field blocks', () => {
    expect(extractAnswer(sig, '```json\n{"answer": "a"}\n```')).toEqual({ answer: 'a' });
    expect(extractAnswer(sig, 'Here: {"answer": "b", "confidence": 0.1} done')).toMatchObject({
      answer: 'b',
    });
    expect(
      extractAnswer(sig, '[[ ## answer ## ]]\nc\n\n[[ ## confidence ## ]]\n0.3\n\n[[ ## completed ## ]]'),
    ).toEqual({
      answer: 'c',
      confidence: '0.3',
    });
    expect(() => extractAnswer(sig, 'no idea')).toThrow(/outputs/);
  });
});

describe('structured re-ask', () => {
  const body = {
    module: 'Predict',
    signature: 'question -> answer, year: int',
    inputs: { question: 'When?' },
  };

  it('re-asks with the validation error and returns the corrected, typed answer', async () => {
    const { chat, bodies } = scripted([
      '{"answer": "then", "year": "long ago"}',
      '{"answer": "then", "year": "1789"}',
    ]);
    const reply = await new DirectAdapter({ chat, maxAttempts: 3, nodeId: 'n' }).predict(body, context);
    expect(reply.outputs).toEqual({ answer: 'then', year: 1789 });
    expect(bodies).toHaveLength(2);
    expect(bodies[1]!.messages.at(-1)!.content).toContain('outputs.year: expected integer');
    expect(reply.usage).toMatchObject({ attempts: 2 });
  });

  it('fails with 422 naming the field once the attempts are spent', async () => {
    const { chat, bodies } = scripted(['{"answer": "a"}', '{"answer": "b"}']);
    const error = await new DirectAdapter({ chat, maxAttempts: 2, nodeId: 'n' })
      .predict(body, context)
      .catch((e: unknown) => e);
    expect(isDspexError(error) && error.status).toBe(422);
    expect(isDspexError(error) && error.details?.field).toBe('outputs.year');
    expect(bodies).toHaveLength(2);
  });

  it('checks inputs before any LM call', async () => {
    const { chat, bodies } = scripted([]);
    const error = await new DirectAdapter({ chat, maxAttempts: 2, nodeId: 'n' })
      .predict({ ...body, inputs: { question: 1 } }, context)
      .catch((e: unknown) => e);
    expect(isDspexError(error) && error.details?.field).toBe('inputs.question');
    expect(bodies).toHaveLength(0);
  });
});
