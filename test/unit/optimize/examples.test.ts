import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DspexError } from '../../../src/errors.js';
import { checkExamples } from '../../../src/optimize/examples.js';

const fieldOf = (f: () => void): { code: string; field: unknown } => {
  try {
    f();
  } catch (error) {
    const e = error as DspexError;
    return { code: e.code, field: e.details?.field };
  }
  return { code: 'none', field: undefined };
};

describe('checkExamples', () => {
  it('accepts examples whose fields have the signature types', () => {
    expect(() =>
      checkExamples('question: str, k: int -> answer: list[str]', 'trainset', [
        { question: 'q', k: 1, answer: ['a'] },
        { question: 'q', k: 2, extra: { any: 'label' } },
      ]),
    ).not.toThrow();
  });

  it('names the example and field of any value of another type (422)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ question: fc.string(), answer: fc.string() }), { minLength: 1, maxLength: 5 }),
        fc.nat(),
        fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.jsonValue(), { maxLength: 3 })),
        fc.constantFrom('question', 'answer'),
        (examples, at, value, field) => {
          const i = at % examples.length;
          const bad = examples.map((e, j) => (j === i ? { ...e, [field]: value } : e));
          expect(fieldOf(() => checkExamples('question -> answer', 'valset', bad))).toEqual({
            code: 'validation_failed',
            field: `valset.${i}.${field}`,
          });
        },
      ),
      { seed: 12 },
    );
  });

  it('refuses an example without an input, or that is not a map (400)', () => {
    expect(fieldOf(() => checkExamples('q, r -> a', 'trainset', [{ q: 'x', a: 'y' }]))).toEqual({
      code: 'bad_request',
      field: 'trainset.0',
    });
    expect(fieldOf(() => checkExamples('q -> a', 'trainset', [{ q: 'x' }, 'no']))).toEqual({
      code: 'bad_request',
      field: 'trainset.1',
    });
    expect(() => checkExamples('q: Optional[str] -> a', 'trainset', [{ a: 'y' }])).not.toThrow();
  });
});
