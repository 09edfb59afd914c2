import { describe, expectTypeOf, it } from 'vitest';
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
  signature,
  tool,
  type Trajectory,
} from '../../../src/index.js';

const qa = signature('question: str -> answer: str, confidence: float');
type In = { question: string };
/** Resolved result of a module's call. */
type Out<M extends { call: (...args: never[]) => Promise<unknown> }> = Awaited<ReturnType<M['call']>>;

describe('typed outputs of the modules', () => {
  it('adds trajectory and reasoning to ReAct outputs', () => {
    const _agent = new ReAct(qa);
    expectTypeOf<Parameters<(typeof _agent)['call']>[0]>().toEqualTypeOf<In>();
    expectTypeOf<Out<typeof _agent>>().toEqualTypeOf<
      { trajectory: Trajectory; reasoning: string } & { answer: string; confidence: number }
    >();
  });

  it('adds rationale to MultiChainComparison outputs and takes completions per call', () => {
    const _mcc = new MultiChainComparison(qa, { M: 2 });
    expectTypeOf<Out<typeof _mcc>>().toEqualTypeOf<
      { rationale: string } & { answer: string; confidence: number }
    >();
    expectTypeOf<NonNullable<Parameters<(typeof _mcc)['call']>[1]>['completions']>().toEqualTypeOf<
      Array<Record<string, unknown>> | undefined
    >();
  });

  it('keeps the wrapped module outputs for BestOfN and Refine', () => {
    const _best = new BestOfN(new Predict(qa), { N: 3, threshold: 1, reward: Rewards.nonEmpty('answer') });
    expectTypeOf<Out<typeof _best>>().toEqualTypeOf<{
      answer: string;
      confidence: number;
    }>();
    const _refine = new Refine(new ChainOfThought(qa), {
      N: 2,
      threshold: 1,
      reward: Rewards.nonEmpty('answer'),
    });
    expectTypeOf<Out<typeof _refine>>().toEqualTypeOf<
      { reasoning: string } & { answer: string; confidence: number }
    >();
  });

  it('returns one value or DspexError per batch item', () => {
    const p = new Predict(qa);
    expectTypeOf<Awaited<ReturnType<(typeof p)['batch']>>>().toEqualTypeOf<
      Array<{ answer: string; confidence: number } | DspexError>
    >();
    // @ts-expect-error: inputs are checked against the signature
    void p.batch([{ question: 1 }]);
  });

  it('types a tool run from its zod args', () => {
    const _t = tool({
      name: 'add',
      description: 'adds',
      args: z.object({ a: z.number(), b: z.number() }),
      run: ({ a, b }) => {
        expectTypeOf(a).toEqualTypeOf<number>();
        return a + b;
      },
    });
    expectTypeOf<ReturnType<(typeof _t)['run']>>().toEqualTypeOf<number | Promise<number>>();
  });

  it('types a composed module by its forward', () => {
    class Two extends Module<In, { answer: string }> {
      a = new Predict(qa);
      async forward(inputs: In) {
        return { answer: (await this.a.call(inputs)).answer };
      }
    }
    expectTypeOf<Out<Two>>().toEqualTypeOf<{ answer: string }>();
  });
});
