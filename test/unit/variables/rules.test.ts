import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { PredictRequest } from '../../../src/protocol/schemas.js';
import type { VarRecord } from '../../../src/protocol/variables.js';
import { createBinding, resolveRefs, varRef } from '../../../src/variables/binding.js';
import { checkConstraints, compileValidator } from '../../../src/variables/constraints.js';
import { findCycle } from '../../../src/variables/graph.js';

describe('variable constraints', () => {
  it('checks type strings, ranges, enums, patterns and lengths, naming the field', () => {
    const v = compileValidator({ type: 'float', constraints: { min: 0, max: 2 } });
    expect(v(1)).toBe(1);
    expect(() => v('hot')).toThrow(/value: .*number/i);
    expect(() => v(2.5)).toThrow('value: 2.5 is above max 2');
    const e = compileValidator({ type: "Literal['a', 'b']" });
    expect(() => e('c')).toThrow(/value/);
    expect(compileValidator({ constraints: { enum: [{ k: 1 }, 2] } })({ k: 1 })).toEqual({ k: 1 });
    const p = compileValidator({ type: 'str', constraints: { pattern: '^gpt-', max_length: 10 } });
    expect(() => p('claude')).toThrow('does not match pattern');
    expect(() => p('gpt-4o-mini-x')).toThrow('above max_length 10');
    expect(() => compileValidator({ type: 'list[int]' })([1, 'x'])).toThrow('value.1');
  });

  it('runs a zod schema and a custom predicate given on the defining node', () => {
    const v = compileValidator(
      {},
      { schema: z.number().int(), predicate: (x) => (x as number) % 2 === 0 || 'must be even' },
    );
    expect(v(4)).toBe(4);
    expect(() => v(3)).toThrow('value: must be even');
    expect(() => v(2.5)).toThrow(/value/);
  });

  it('refuses constraints that cannot hold', () => {
    expect(() => checkConstraints({ min: 3, max: 1 })).toThrow('spec.constraints.min');
    expect(() => checkConstraints({ pattern: '(' })).toThrow('spec.constraints.pattern');
    expect(() => compileValidator({ type: 'list[' })).toThrow('spec.type');
  });
});

describe('dependency cycles', () => {
  const graph: Record<string, string[]> = { b: ['a'], c: ['b'] };
  const inputsOf = (n: string) => graph[n];

  it('finds the cycle a new dependency would close, as a path', () => {
    expect(findCycle('a', ['c'], inputsOf)).toEqual(['a', 'c', 'b', 'a']);
    expect(findCycle('a', ['a'], inputsOf)).toEqual(['a', 'a']);
  });

  it('accepts an acyclic dependency', () => {
    expect(findCycle('d', ['c', 'b'], inputsOf)).toBeUndefined();
  });
});

describe('bindings', () => {
  const records: Record<string, unknown> = {
    temp: 0.9,
    instr: 'Answer tersely.',
    demos: [{ question: 'q', answer: 'a' }],
    state: { demos: [], signature: { instructions: 'S', fields: [] } },
    bad: 7,
  };
  const read = (name: string): Promise<VarRecord | undefined> =>
    Promise.resolve(
      name in records ? { name, value: records[name], spec: {}, node: 'n', at: 0, revision: 1 } : undefined,
    );
  const base: PredictRequest = {
    module: 'Predict',
    signature: 'question -> answer',
    inputs: { question: 'x' },
    config: { max_tokens: 10 },
    demos: [{ question: 'old', answer: 'old' }],
  };

  it('rewrites instructions, config entries and demos from variables', async () => {
    const b = createBinding({ instructions: 'instr', config: { temperature: 'temp' }, demos: 'demos' }, read);
    expect(b.names).toEqual(['instr', 'demos', 'temp']);
    const out = await b.apply(base);
    expect(out).toMatchObject({
      instructions: 'Answer tersely.',
      config: { max_tokens: 10, temperature: 0.9 },
      demos: [{ question: 'q', answer: 'a' }],
    });
    expect(base.config).toEqual({ max_tokens: 10 }); // the module's own request is untouched
  });

  it('sends a whole program state in place of request demos', async () => {
    const out = await createBinding({ state: 'state' }, read).apply(base);
    expect(out.state).toEqual(records.state);
    expect(out.demos).toBeUndefined();
  });

  it('fails clearly on a missing variable or a value of the wrong shape', async () => {
    await expect(createBinding({ config: { temperature: 'nope' } }, read).apply(base)).rejects.toMatchObject({
      code: 'not_found',
      details: { field: 'config.temperature', variable: 'nope' },
    });
    await expect(createBinding({ instructions: 'bad' }, read).apply(base)).rejects.toMatchObject({
      code: 'validation_failed',
    });
  });

  it('resolves refs at any depth', async () => {
    const out = await resolveRefs({ a: [1, { t: varRef('temp') }], s: 'x' }, read);
    expect(out).toEqual({ a: [1, { t: 0.9 }], s: 'x' });
    await expect(resolveRefs({ z: varRef('nope') }, read)).rejects.toThrow('referenced at z');
  });
});
