/**
 * Issue 16, end to end: DSPy's own types through `dspex.rpc.predict`, a real DSPy worker and a real
 * LM call. The worker reaches the local OpenAI-compatible server through litellm
 * (`dspy.LM('openai/…', api_base=…)`), so DSPy's ChatAdapter formats the request as it would for a
 * hosted model, and the server records it: an image input arrives as an `image_url` content part
 * holding the caller's data URI or URL, and a `dspy.History` as the earlier user and assistant turns
 * before the new question.
 */
import type { NatsConnection } from '@nats-io/nats-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Runtime } from '../../src/runtime/runtime.js';
import { client, startNats, type NatsServer } from '../harness/nats.js';
import { startOpenAiServer, textOf, type ContentPart, type OpenAiServer } from '../harness/openai-server.js';
import { startRuntime } from '../harness/runtime.js';
import { callJson } from '../harness/wire.js';

const MODEL = 'openai/vision-test';
// A 1x1 PNG.
const PNG =
  'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';

describe("DSPy's types end to end through a worker and an LM", () => {
  let srv: NatsServer;
  let lm: OpenAiServer;
  let rt: Runtime;
  let nc: NatsConnection & AsyncDisposable;

  beforeAll(async () => {
    srv = await startNats();
    lm = await startOpenAiServer();
    rt = await startRuntime(srv.url, {
      pools: {
        general: {
          size: 1,
          lm: MODEL,
          env: { DSPEX_LM_API_BASE: lm.baseUrl, DSPEX_LM_API_KEY: 'x', DSPEX_MEMORY_CACHE: '0' },
        },
      },
    });
    nc = await client(srv.url);
  }, 180_000);
  afterAll(async () => {
    await nc?.close();
    await rt?.stop();
    await lm?.close();
    await srv?.stop();
  });

  const predict = (body: Record<string, unknown>) =>
    callJson(nc, 'dspex.rpc.predict', { module: 'Predict', config: { cache: false }, ...body });

  const lastRequest = () => {
    const messages = lm.requests.at(-1)?.body.messages ?? [];
    return messages.map((m) => ({ role: m.role, content: m.content, text: textOf(m.content) }));
  };

  it('sends an image input to the model as an image_url part, for a data URI and for a URL', async () => {
    for (const photo of [PNG, 'https://example.com/cat.png']) {
      const before = lm.count();
      const reply = await predict({
        signature: 'photo: dspy.Image, question -> answer',
        inputs: { photo, question: 'What is in the picture?' },
      });
      expect(reply.status, JSON.stringify(reply.body)).toBe(0);
      expect(lm.count() - before).toBe(1);
      expect(typeof (reply.body.outputs as { answer: unknown }).answer).toBe('string');
      const user = lastRequest().find((m) => m.role === 'user');
      const parts = user?.content as ContentPart[];
      expect(Array.isArray(parts)).toBe(true);
      expect(parts).toContainEqual({ type: 'image_url', image_url: { url: photo } });
      expect(user?.text).toContain('What is in the picture?');
    }
  });

  it('carries a conversation in dspy.History: earlier turns go to the model before the new question', async () => {
    const signature = 'question, history: dspy.History -> answer';
    const turns: Array<Record<string, unknown>> = [];
    for (const question of ['What is the capital of France?', 'And of Germany?', 'Which is bigger?']) {
      const reply = await predict({ signature, inputs: { question, history: { messages: turns } } });
      expect(reply.status, JSON.stringify(reply.body)).toBe(0);
      const answer = (reply.body.outputs as { answer: string }).answer;
      expect(answer).toBe(`answer for ${question}`);
      const sent = lastRequest().filter((m) => m.role !== 'system');
      // One user/assistant pair per earlier turn, then the new question.
      expect(sent.map((m) => m.role)).toEqual([...turns.flatMap(() => ['user', 'assistant']), 'user']);
      turns.forEach((turn, i) => {
        expect(sent[2 * i]?.text).toContain(turn.question as string);
        expect(sent[2 * i + 1]?.text).toContain(turn.answer as string);
      });
      expect(sent.at(-1)?.text).toContain(question);
      turns.push({ question, answer });
    }
    expect(turns).toHaveLength(3);
  });

  it('refuses a bad image before any worker or model sees it, naming the field', async () => {
    const before = lm.count();
    for (const photo of ['/etc/passwd', 'file:///etc/passwd', 'data:text/plain;base64,aGk=']) {
      const reply = await predict({ signature: 'photo: dspy.Image -> answer', inputs: { photo } });
      expect(reply.status).toBe(422);
      expect(reply.body.error?.details?.field).toBe('inputs.photo');
    }
    expect(lm.count()).toBe(before);
  });
});
