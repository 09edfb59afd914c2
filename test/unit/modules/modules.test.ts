import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  ChainOfThought,
  DspexError,
  Predict,
  ReAct,
  signature,
  tool,
  type PredictRequest,
} from '../../../src/index.js';
import { runBatch } from '../../../src/modules/batch.js';
import { fieldPrefix } from '../../../src/modules/state.js';

/** An executor that records requests and answers from the signature's own outputs. */
function recorder(outputs: Record<string, unknown>) {
  const requests: PredictRequest[] = [];
  return {
    requests,
    predict: (request: PredictRequest) => {
      requests.push(request);
      return Promise.resolve({ outputs, worker: 'w', latency_ms: 1 });
    },
  };
}

describe('module requests', () => {
  it('merges per-call config over module config and sends demos until a state is loaded', async () => {
    const ex = recorder({ answer: 'a' });
    const p = new Predict(signature('question -> answer'), {
      executor: ex,
      config: { temperature: 0.2, lm: 'openai/a' },
      demos: [{ question: 'q', answer: 'a' }],
    });
    await p.call({ question: 'x' }, { config: { max_tokens: 9, lm: 'openai/b' } });
    expect(ex.requests[0]).toMatchObject({
      config: { temperature: 0.2, max_tokens: 9, lm: 'openai/b' },
      demos: [{ question: 'q', answer: 'a' }],
    });
    p.loadState(p.dumpState());
    p.demos = [{ question: 'q2', answer: 'a2' }];
    await p.call({ question: 'x' });
    expect(ex.requests[1]!.demos).toBeUndefined();
    expect((ex.requests[1]!.state as { demos: unknown }).demos).toEqual([{ question: 'q2', answer: 'a2' }]);
  });

  it('sends ReAct tools by name and schema and max_iters as an option', async () => {
    const ex = recorder({ trajectory: {}, reasoning: 'r', answer: 'a' });
    const t = tool({ name: 'look', description: 'looks', args: z.object({ q: z.string() }), run: () => 'x' });
    const agent = new ReAct(signature('question -> answer'), { tools: [t], maxIters: 3 });
    await expect(agent.call({ question: 'x' }, { executor: ex })).rejects.toThrow(/serves no tools/);
    const registered: string[] = [];
    await agent.call(
      { question: 'x' },
      { executor: { ...ex, tools: { register: (x) => registered.push(x.name) } } },
    );
    expect(registered).toEqual(['look']);
    expect(ex.requests.at(-1)).toMatchObject({
      module: 'ReAct',
      options: { max_iters: 3 },
      tools: [
        {
          name: 'look',
          description: 'looks',
          parameters: { type: 'object', properties: { q: { type: 'string' } } },
        },
      ],
    });
  });

  it('rejects a tool name that is not a subject token', () => {
    expect(() => tool({ name: 'a.b', description: '', args: z.object({}), run: () => 1 })).toThrow(
      DspexError,
    );
    expect(() => tool({ name: 'finish', description: '', args: z.object({}), run: () => 1 })).toThrow(
      DspexError,
    );
  });

  it('rejects a state whose predictors are not the module ones', () => {
    const cot = new ChainOfThought(signature('question -> answer'));
    expect(() => cot.loadState({ other: {} } as never)).toThrow(/entry "predict"/);
    expect(() => new ReAct(signature('q -> a')).dumpState()).toThrow(/no state loaded/);
  });
});

describe('runBatch', () => {
  it('keeps order and turns failures into errors, never more than `concurrency` at once', async () => {
    let inflight = 0;
    let peak = 0;
    const results = await runBatch(
      [1, 2, 3, 4, 5],
      async (n) => {
        inflight++;
        peak = Math.max(peak, inflight);
        await new Promise((r) => setTimeout(r, 5 * (6 - n)));
        inflight--;
        if (n === 2) throw new Error('two');
        return n * 10;
      },
      { concurrency: 2 },
    );
    expect(results.slice(0, 1)).toEqual([10]);
    expect(results[1]).toBeInstanceOf(DspexError);
    expect(results.slice(2)).toEqual([30, 40, 50]);
    expect(peak).toBe(2);
  });
});

describe('fieldPrefix', () => {
  it.each([
    ['question', 'Question:'],
    ['context_text', 'Context Text:'],
    ['camelCaseText', 'Camel Case Text:'],
    ['text2number', 'Text 2 Number:'],
    ['HTMLParser', 'HTML Parser:'],
  ])('labels %s as DSPy does', (name, prefix) => {
    expect(fieldPrefix(name)).toBe(prefix);
  });
});
