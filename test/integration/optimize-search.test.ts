import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { devsetObjective, type Candidate, type Runtime } from '../../src/index.js';
import { candidateKey } from '../../src/optimize/space.js';
import { startNats, type NatsServer } from '../harness/nats.js';
import { startRuntime } from '../harness/runtime.js';

// The workers run DSPy's DummyLM: the answer is "answer for <first input>", so a candidate's values
// reach the score through a real predict: `ctx` is the first input, `weight` is appended to it.
const CONTEXTS = ['Paris is in France', 'Rome is in Italy', 'Berlin is in Germany', 'nothing useful'];
const devset = [
  { question: 'Where is the Eiffel tower?', expect: 'Paris' },
  { question: 'Which country has the Louvre?', expect: 'France' },
  { question: 'Capital of France?', expect: 'Paris' },
  { question: 'Where is Montmartre?', expect: 'Paris' },
];
type Example = (typeof devset)[number];

/** 1/3, 2/3 or 1 when the answer names the expected place (by the weight it carries), else 0. */
function metric(example: Example, outputs: Record<string, unknown>): number {
  const answer = String(outputs.answer);
  const weight = Number(/ x(\d)$/.exec(answer)?.[1] ?? 0);
  return answer.includes(example.expect) ? weight / 3 : 0;
}

function objectiveOn(rt: Runtime, names: { ctx: string; weight: string }, counts?: Map<string, number>) {
  const inner = devsetObjective<Example>({
    predict: (r) => rt.predict(r),
    devset,
    request: (c: Candidate, ex) => ({
      module: 'Predict',
      signature: 'context, question -> answer',
      inputs: { context: `${String(c[names.ctx])} x${String(c[names.weight])}`, question: ex.question },
    }),
    metric,
  });
  return async (c: Candidate, budget: number) => {
    const key = `${candidateKey(c)}@${budget}`;
    counts?.set(key, (counts.get(key) ?? 0) + 1);
    return inner(c, budget);
  };
}

async function defineSpace(rt: Runtime, ctx: string, weight: string) {
  await rt.variables.define({
    name: ctx,
    type: 'str',
    initial: 'nothing useful',
    constraints: { enum: CONTEXTS },
  });
  await rt.variables.define({ name: weight, type: 'int', initial: 1, constraints: { min: 1, max: 3 } });
  return {
    [ctx]: { kind: 'categorical' as const, values: CONTEXTS },
    [weight]: { kind: 'int' as const, min: 1, max: 3 },
  };
}

describe('distributed search over variables', () => {
  let srv: NatsServer;
  let a: Runtime;
  let b: Runtime;

  beforeAll(async () => {
    srv = await startNats();
    [a, b] = await Promise.all([
      startRuntime(srv.url, { nodeId: 'search-a', pools: { general: { size: 1 } } }),
      startRuntime(srv.url, { nodeId: 'search-b', pools: { general: { size: 1 } } }),
    ]);
  }, 240_000);
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await srv?.stop();
  });

  it('random search evaluates every candidate once, records trials with scores and writes the best', async () => {
    const space = await defineSpace(a, 'rs_ctx', 'rs_weight');
    const counts = new Map<string, number>();
    const result = await a.optimizer.search({
      space,
      strategy: { kind: 'random', trials: 100 },
      objective: objectiveOn(a, { ctx: 'rs_ctx', weight: 'rs_weight' }, counts),
      concurrency: 3,
      seed: 7,
    });
    expect(result.evaluated).toBe(12); // the whole space (4 × 3), and no more
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    expect(result.best?.candidate).toEqual({ rs_ctx: 'Paris is in France', rs_weight: 3 });
    expect(result.best?.score).toBe(1);
    const [ctx, weight] = await Promise.all([a.variables.get('rs_ctx'), a.variables.get('rs_weight')]);
    expect([ctx.value, weight.value, ctx.score]).toEqual(['Paris is in France', 3, 1]);
    // Each finished trial went into history with its score, by this optimizer.
    const history = await b.variables.history('rs_weight');
    const scored = history.filter((h) => h.score !== undefined);
    expect(scored.length).toBeGreaterThanOrEqual(12);
    expect(new Set(scored.map((h) => h.by))).toEqual(new Set([result.id]));
  });

  it('successive halving keeps the best 1/eta of each rung at a growing budget', async () => {
    const space = await defineSpace(a, 'sh_ctx', 'sh_weight');
    const result = await a.optimizer.search({
      space,
      strategy: { kind: 'successive-halving', candidates: 12, minBudget: 1, maxBudget: 4, eta: 2 },
      objective: objectiveOn(a, { ctx: 'sh_ctx', weight: 'sh_weight' }),
      concurrency: 4,
      seed: 3,
      recordTrials: false,
    });
    const perBudget = (n: number) => result.trials.filter((t) => t.budget === n).length;
    expect([perBudget(1), perBudget(2), perBudget(4)]).toEqual([12, 6, 3]);
    expect(result.best?.budget).toBe(4);
    expect(result.best?.candidate).toEqual({ sh_ctx: 'Paris is in France', sh_weight: 3 });
    expect((await b.variables.get('sh_ctx', { consistency: 'latest' })).value).toBe('Paris is in France');
  });

  it('two optimizers on two nodes share the ledger: no candidate twice, both see all trials, best wins', async () => {
    const space = await defineSpace(a, 'duo_ctx', 'duo_weight');
    const names = { ctx: 'duo_ctx', weight: 'duo_weight' };
    const counts = new Map<string, number>();
    const [ra, rb] = await Promise.all([
      a.optimizer.search({
        space,
        strategy: { kind: 'random', trials: 12 },
        objective: objectiveOn(a, names, counts),
        id: 'opt-a',
        seed: 1,
        concurrency: 2,
      }),
      b.optimizer.search({
        space,
        strategy: { kind: 'random', trials: 12 },
        objective: objectiveOn(b, names, counts),
        id: 'opt-b',
        seed: 1,
        concurrency: 2,
      }),
    ]);
    // One evaluation per candidate across both optimizers, and together they covered the space.
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    expect(counts.size).toBe(12);
    expect(ra.evaluated + rb.evaluated).toBe(12);
    expect(ra.evaluated).toBeGreaterThan(0);
    expect(rb.evaluated).toBeGreaterThan(0);
    // Both see each other's trials and agree on the best; the variables hold it.
    for (const r of [ra, rb]) {
      expect(r.trials).toHaveLength(12);
      expect(new Set(r.trials.map((t) => t.by))).toEqual(new Set(['opt-a', 'opt-b']));
      expect(r.best?.candidate).toEqual({ duo_ctx: 'Paris is in France', duo_weight: 3 });
    }
    const [ctx, weight] = await Promise.all([
      a.variables.get('duo_ctx', { consistency: 'latest' }),
      b.variables.get('duo_weight', { consistency: 'latest' }),
    ]);
    expect([ctx.value, weight.value, weight.score]).toEqual(['Paris is in France', 3, 1]);
    const bys = new Set((await a.variables.history('duo_ctx')).map((h) => h.by));
    expect(bys.has('opt-a') && bys.has('opt-b')).toBe(true);
  });
});
