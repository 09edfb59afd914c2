import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  BestOfN,
  ChainOfThought,
  DspexError,
  Module,
  MultiChainComparison,
  Predict,
  ReAct,
  Refine,
  Rewards,
  reward,
  signature,
  tool,
  type ModuleCallOptions,
  type Runtime,
} from '../../src/index.js';
import { venvPython } from '../harness/runtime.js';
import { sharedNode } from '../harness/shared-node.js';

const run = promisify(execFile);

/** Runs Python DSPy (the worker's venv) on a script; returns its stdout. */
async function python(script: string, ...args: string[]): Promise<string> {
  const { stdout } = await run(venvPython, ['-c', script, ...args], {
    timeout: 120_000,
    env: { ...process.env, LITELLM_LOCAL_MODEL_COST_MAP: 'True' },
  });
  return stdout;
}

const qa = signature('question: str -> answer: str');

describe('DSPy modules over the wire', () => {
  let rt: Runtime;

  beforeAll(async () => {
    ({ rt } = await sharedNode());
  });

  it('runs ReAct with two TypeScript tools called back by the DSPy worker', async () => {
    const calls: string[] = [];
    const weather = tool({
      name: 'get_weather',
      description: 'Current weather of a city',
      args: z.object({ city: z.string() }),
      run: ({ city }) => {
        calls.push(`weather:${city}`);
        return { city, sky: 'sunny', temp_c: 21 };
      },
    });
    const add = tool({
      name: 'add',
      description: 'Adds two integers',
      // The bound is a zod refinement, absent from the JSON schema the model and DSPy see.
      args: z.object({
        a: z
          .number()
          .int()
          .refine((n) => n < 100, 'must be below 100'),
        b: z.number().int(),
      }),
      run: ({ a, b }) => {
        calls.push(`add:${a}+${b}`);
        return a + b;
      },
    });
    const agent = new ReAct(qa, { executor: rt, tools: [weather, add], maxIters: 6 });
    const script = [
      { next_thought: 'check the weather', next_tool_name: 'get_weather', next_tool_args: { city: 'Paris' } },
      { next_thought: 'add the numbers', next_tool_name: 'add', next_tool_args: { a: 2, b: 3 } },
      { next_thought: 'try bad args', next_tool_name: 'add', next_tool_args: { a: 500, b: 3 } },
      { next_thought: 'done', next_tool_name: 'finish', next_tool_args: {} },
      { reasoning: 'the tools answered', answer: 'sunny, and 5' },
    ];
    const out = await agent.call(
      { question: 'Weather in Paris, and 2+3?' },
      { config: { dummy_script: script } },
    );
    expect(out.answer).toBe('sunny, and 5');
    expect(out.reasoning).toBe('the tools answered');
    expect(calls).toEqual(['weather:Paris', 'add:2+3']);
    const t = out.trajectory;
    expect(t.tool_name_0).toBe('get_weather');
    expect(t.observation_0).toEqual({ city: 'Paris', sky: 'sunny', temp_c: 21 });
    expect(t.observation_1).toBe(5);
    // zod rejected the model's arguments: the model sees why, the call goes on.
    expect(String(t.observation_2)).toContain('Execution error in add');
    expect(String(t.observation_2)).toContain('args.a: must be below 100');
    expect(t.tool_name_3).toBe('finish');
    expect(rt.tools.has('get_weather')).toBe(true);
  });

  it('shows a throwing tool to the model as an observation, not a failed call', async () => {
    const broken = tool({
      name: 'broken',
      description: 'Always fails',
      args: z.object({}),
      run: () => {
        throw new Error('database is down');
      },
    });
    const agent = new ReAct(qa, { executor: rt, tools: [broken] });
    const out = await agent.call(
      { question: 'anything' },
      {
        config: {
          dummy_script: [
            { next_thought: 'try it', next_tool_name: 'broken', next_tool_args: {} },
            { next_thought: 'give up', next_tool_name: 'finish', next_tool_args: {} },
            { reasoning: 'the tool failed', answer: 'unknown' },
          ],
        },
      },
    );
    expect(String(out.trajectory.observation_0)).toContain('database is down');
    expect(out.answer).toBe('unknown');
  });

  it('lets a wire client use tools another node registered, by name and JSON schema', async () => {
    const echo = tool({
      name: 'echo',
      description: 'Echoes text',
      args: z.object({ text: z.string() }),
      run: ({ text }) => `echo: ${text}`,
    });
    rt.tools.register(echo);
    const reply = await rt.predict({
      module: 'ReAct',
      signature: 'question -> answer',
      inputs: { question: 'say hi' },
      tools: [echo.spec()],
      config: {
        dummy_script: [
          { next_thought: 'echo', next_tool_name: 'echo', next_tool_args: { text: 'hi' } },
          { next_thought: 'done', next_tool_name: 'finish', next_tool_args: {} },
          { reasoning: 'r', answer: 'hi' },
        ],
      },
    });
    const trajectory = reply.outputs.trajectory as Record<string, unknown>;
    expect(trajectory.observation_0).toBe('echo: hi');
  });

  it('runs a composed module of three stages and exposes their state', async () => {
    class Pipeline extends Module<{ question: string }, { answer: string; checked: boolean }> {
      rewrite = new Predict(signature('question -> query'), { executor: rt });
      answer = new ChainOfThought(signature('query -> answer'), { executor: rt });
      check = new Predict(signature('answer -> ok: bool'), { executor: rt });
      async forward({ question }: { question: string }, options: ModuleCallOptions) {
        const { query } = await this.rewrite.call({ question }, options);
        const { answer } = await this.answer.call({ query }, options);
        const { ok } = await this.check.call({ answer }, options);
        return { answer, checked: ok };
      }
    }
    const program = new Pipeline();
    const out = await program.call({ question: 'What is 2+2?' });
    expect(out).toEqual({ answer: 'answer for query for What is 2+2?', checked: true });
    expect(program.namedPredictors().map(([n]) => n)).toEqual(['rewrite', 'answer', 'check']);
    expect(Object.keys(program.dumpState())).toEqual(['rewrite', 'answer.predict', 'check']);

    const results = await program.batch(
      [{ question: 'a' }, { question: 42 as unknown as string }, { question: 'c' }],
      {
        concurrency: 2,
      },
    );
    expect(results).toHaveLength(3);
    expect(results[0]).toEqual({ answer: 'answer for query for a', checked: true });
    expect(results[1]).toBeInstanceOf(DspexError);
    expect((results[1] as DspexError).code).toBe('validation_failed');
    expect(results[2]).toEqual({ answer: 'answer for query for c', checked: true });
  });

  it('batches a module in order, each item a value or its error', async () => {
    const predict = new Predict(qa, { executor: rt });
    const inputs = Array.from({ length: 7 }, (_, i) => ({ question: `q${i}` }));
    inputs[3] = { question: null as unknown as string };
    const results = await predict.batch(inputs, { concurrency: 3 });
    expect(results.map((r) => (r instanceof DspexError ? r.code : r.answer))).toEqual([
      'answer for q0',
      'answer for q1',
      'answer for q2',
      'validation_failed',
      'answer for q4',
      'answer for q5',
      'answer for q6',
    ]);
  });

  it('compares M chains with MultiChainComparison, given completions or not', async () => {
    const mcc = new MultiChainComparison(qa, { executor: rt, M: 2 });
    const generated = await mcc.call({ question: '2+2?' });
    expect(generated).toEqual({ rationale: 'rationale for 2+2?', answer: 'answer for 2+2?' });
    const given = await mcc.call(
      { question: '2+2?' },
      {
        completions: [
          { reasoning: 'two and two', answer: '4' },
          { rationale: 'sum', answer: '4' },
        ],
        config: { dummy_script: [{ rationale: 'both say 4', answer: '4' }] },
      },
    );
    expect(given).toEqual({ rationale: 'both say 4', answer: '4' });
  });

  it('picks the best attempt with BestOfN and a built-in reward', async () => {
    const best = new BestOfN(new Predict(qa), {
      executor: rt,
      N: 3,
      threshold: 1,
      reward: Rewards.exactMatch('answer', '4'),
    });
    const out = await best.call(
      { question: '2+2?' },
      { config: { dummy_script: [{ answer: 'five' }, { answer: '4' }, { answer: 'never asked' }] } },
    );
    expect(out.answer).toBe('4');
  });

  it('refines with a reward function written in TypeScript', async () => {
    const seen: unknown[] = [];
    const oneWord = reward('one_word', ({ inputs, outputs }) => {
      seen.push({ inputs, outputs });
      return String(outputs.answer).trim().split(/\s+/).length === 1 ? 1 : 0;
    });
    const refine = new Refine(new ChainOfThought(qa), { executor: rt, N: 2, threshold: 1, reward: oneWord });
    const out = await refine.call(
      { question: 'Capital of Belgium?' },
      {
        config: {
          dummy_script: [
            { reasoning: 'r1', answer: 'It is Brussels' },
            { discussion: 'too long', advice: { 'module.predict': 'answer in one word' } },
            { reasoning: 'r2', answer: 'Brussels' },
          ],
        },
      },
    );
    expect(out).toEqual({ reasoning: 'r2', answer: 'Brussels' });
    expect(seen).toHaveLength(2);
    expect(seen[0]).toEqual({
      inputs: { question: 'Capital of Belgium?' },
      outputs: { reasoning: 'r1', answer: 'It is Brussels' },
    });
  });

  it('answers 400 naming the field for module options that do not fit', async () => {
    const bad = async (request: Record<string, unknown>) => {
      try {
        await rt.predict({ signature: 'question -> answer', inputs: { question: 'q' }, ...request } as never);
      } catch (error) {
        expect(error).toBeInstanceOf(DspexError);
        return [(error as DspexError).status, (error as DspexError).details?.field];
      }
      throw new Error('expected a 4xx');
    };
    expect(await bad({ module: 'ReAct', options: { max_iters: 0 } })).toEqual([400, 'options.max_iters']);
    expect(await bad({ module: 'Predict', options: { M: 3 } })).toEqual([400, 'options.M']);
    expect(await bad({ module: 'Predict', tools: [{ name: 'x' }] })).toEqual([400, 'tools']);
    expect(await bad({ module: 'ReAct', tools: [{ name: 'finish' }] })).toEqual([400, 'tools.0.name']);
    expect(await bad({ module: 'BestOfN', options: { N: 2, threshold: 1 } })).toEqual([
      400,
      'options.reward',
    ]);
    expect(
      await bad({
        module: 'Refine',
        options: { N: 2, threshold: 1, reward: { kind: 'builtin', name: 'x' } },
      }),
    ).toEqual([400, 'options.reward.name']);
    expect(
      await bad({
        module: 'BestOfN',
        options: { N: 2, threshold: 1, reward: { kind: 'builtin', name: 'non_empty', field: 'nope' } },
      }),
    ).toEqual([400, 'options.reward.field']);
    expect(await bad({ module: 'MultiChainComparison', options: { M: 2 }, completions: [{}] })).toEqual([
      400,
      'completions',
    ]);
    // The worker checks the state itself (the node passes it on untouched).
    expect(await bad({ module: 'Predict', state: { predict: {} } })).toEqual([400, 'state.signature']);
    expect(await bad({ module: 'ChainOfThought', state: { other: {} } })).toEqual([400, 'state.predict']);
  });

  it('loads a state saved by Python DSPy and runs with it on the worker', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dspex-state-'));
    const file = join(dir, 'program.json');
    await python(
      `
import sys, dspy
class P(dspy.Module):
    def __init__(self):
        super().__init__()
        self.rewrite = dspy.Predict("question -> query")
        self.answer = dspy.ChainOfThought("query -> answer")
        self.check = dspy.Predict("answer -> ok: bool")
p = P()
p.answer.predict.demos = [dspy.Example(query="2+2", reasoning="add", answer="4")]
p.answer.predict.signature = p.answer.predict.signature.with_instructions("Answer tersely.")
p.save(sys.argv[1])
`,
      file,
    );
    class Pipeline extends Module<{ question: string }, { answer: string }> {
      rewrite = new Predict(signature('question -> query'), { executor: rt });
      answer = new ChainOfThought(signature('query -> answer'), { executor: rt });
      check = new Predict(signature('answer -> ok: bool'), { executor: rt });
      async forward({ question }: { question: string }) {
        const { query } = await this.rewrite.call({ question });
        return { answer: (await this.answer.call({ query })).answer };
      }
    }
    const program = new Pipeline().loadState(readFileSync(file, 'utf8'));
    expect(program.answer.demos).toEqual([{ query: '2+2', reasoning: 'add', answer: '4' }]);
    const state = program.dumpState();
    expect(state['answer.predict']?.signature.instructions).toBe('Answer tersely.');
    expect(await program.call({ question: 'x' })).toEqual({ answer: 'answer for query for x' });

    // The reverse: a state dumped here loads in Python DSPy and dumps back the same.
    program.answer.demos = [{ query: '3+3', reasoning: 'add', answer: '6' }];
    writeFileSync(file, JSON.stringify(program.dumpState()));
    const back = await python(
      `
import sys, json, dspy
class P(dspy.Module):
    def __init__(self):
        super().__init__()
        self.rewrite = dspy.Predict("question -> query")
        self.answer = dspy.ChainOfThought("query -> answer")
        self.check = dspy.Predict("answer -> ok: bool")
p = P()
p.load_state(json.load(open(sys.argv[1])))
print(json.dumps(p.dump_state()))
`,
      file,
    );
    expect(JSON.parse(back)).toEqual(program.dumpState());
  });

  it('dumps the default state of fresh modules exactly as Python DSPy does', async () => {
    const out = await python(`
import json, dspy
print(json.dumps({
  "predict": dspy.Predict("question, contextText -> answer, confidence: float").dump_state(),
  "cot": dspy.ChainOfThought("question -> answer").dump_state(),
}))
`);
    const dspy = JSON.parse(out) as Record<string, unknown>;
    expect(new Predict(signature('question, contextText -> answer, confidence: float')).dumpState()).toEqual(
      dspy.predict,
    );
    expect(new ChainOfThought(signature('question -> answer')).dumpState()).toEqual(dspy.cot);
  });
});
