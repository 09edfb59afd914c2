import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { isSignatureParseError, isValidationError, ValidationError } from '../../../src/errors.js';
import { signature, typeToZod, withReasoning, parseTypeText } from '../../../src/signature/index.js';

function validationError(fn: () => unknown): ValidationError {
  try {
    fn();
  } catch (error) {
    if (isValidationError(error)) return error;
    throw error;
  }
  throw new Error('expected a ValidationError');
}

const qa = signature('question: str, context: str -> answer: str, confidence: float');

describe('validateInputs', () => {
  it('returns valid inputs unchanged', () => {
    const inputs = { question: 'Why?', context: 'Because.' };
    expect(qa.validateInputs(inputs)).toEqual(inputs);
  });

  it('names the field and both types when a value has the wrong type', () => {
    const error = validationError(() => qa.validateInputs({ question: 42, context: 'c' }));
    expect(error.field).toBe('inputs.question');
    expect(error.message).toBe('inputs.question: expected string, got integer');
    expect(error.code).toBe('validation_failed');
    expect(error.status).toBe(422);
  });

  it('rejects missing required fields and unknown fields', () => {
    expect(validationError(() => qa.validateInputs({ question: 'q' })).field).toBe('inputs.context');
    const extra = validationError(() => qa.validateInputs({ question: 'q', context: 'c', temperature: 1 }));
    expect(extra.field).toBe('inputs.temperature');
  });

  it('rejects a non-object', () => {
    expect(validationError(() => qa.validateInputs('hi')).message).toBe(
      'inputs: expected object, got string',
    );
    expect(validationError(() => qa.validateInputs([1])).message).toBe('inputs: expected object, got array');
  });

  it('points into nested values', () => {
    const sig = signature('docs: list[dict[str, list[int]]] -> n: int');
    const error = validationError(() => sig.validateInputs({ docs: [{ a: [1] }, { b: [2, 'x'] }] }));
    expect(error.field).toBe('inputs.docs[1].b[1]');
    expect(error.message).toBe('inputs.docs[1].b[1]: expected integer, got string');
  });

  it('lets optional inputs be omitted or null', () => {
    const sig = signature('q: str, k: Optional[int] -> a');
    expect(sig.validateInputs({ q: 'x' })).toEqual({ q: 'x' });
    expect(sig.validateInputs({ q: 'x', k: null })).toEqual({ q: 'x', k: null });
    expect(validationError(() => sig.validateInputs({ q: 'x', k: 1.5 })).message).toBe(
      'inputs.k: expected integer or null, got number',
    );
  });

  it('checks literals and unions', () => {
    const sig = signature("mode: Literal['fast', 'slow'], v: int | str -> a");
    expect(sig.validateInputs({ mode: 'fast', v: 3 })).toEqual({ mode: 'fast', v: 3 });
    expect(validationError(() => sig.validateInputs({ mode: 'medium', v: 3 })).message).toBe(
      "inputs.mode: expected one of 'fast', 'slow', got string",
    );
    expect(validationError(() => sig.validateInputs({ mode: 'fast', v: true })).field).toBe('inputs.v');
  });
});

describe('parseOutputs', () => {
  it('coerces numeric text from an LLM', () => {
    expect(qa.parseOutputs({ answer: 'Paris', confidence: '0.9' })).toEqual({
      answer: 'Paris',
      confidence: 0.9,
    });
  });

  it('coerces ints, bools, and JSON text for lists and dicts', () => {
    const sig = signature('q -> n: int, ok: bool, no: bool, tags: list[str], scores: dict[str, float]');
    expect(
      sig.parseOutputs({ n: '3', ok: 'true', no: 'False', tags: '["a", "b"]', scores: '{"x": "1.5"}' }),
    ).toEqual({ n: 3, ok: true, no: false, tags: ['a', 'b'], scores: { x: 1.5 } });
  });

  it('names the output field when coercion is impossible', () => {
    const error = validationError(() => qa.parseOutputs({ answer: 'a', confidence: 'very' }));
    expect(error.field).toBe('outputs.confidence');
    expect(validationError(() => qa.parseOutputs({ confidence: 1 })).field).toBe('outputs.answer');
    expect(validationError(() => signature('q -> n: int').parseOutputs({ n: '3.5' })).field).toBe(
      'outputs.n',
    );
  });

  it('drops undeclared keys and fills missing optional outputs with null', () => {
    const sig = signature('q -> a, hint: Optional[str]');
    expect(sig.parseOutputs({ a: 'x', reasoning: '...' })).toEqual({ a: 'x', hint: null });
  });

  it('matches literals written the Python way and prefers exact union members', () => {
    const sig = signature("q -> label: Literal['pos', 'neg'], flag: Literal[True, None], v: int | str");
    expect(sig.parseOutputs({ label: " 'neg' ", flag: 'None', v: '3' })).toEqual({
      label: 'neg',
      flag: null,
      v: '3',
    });
  });

  it('accepts a JSON object as text', () => {
    expect(qa.parseOutputs('{"answer": "a", "confidence": 1}')).toEqual({ answer: 'a', confidence: 1 });
  });
});

describe('zod schemas', () => {
  it('rejects unknown input keys and allows omitting optional ones', () => {
    const sig = signature('q: str, k: Optional[int] -> a');
    expect(sig.inputSchema.safeParse({ q: 'x' }).success).toBe(true);
    expect(sig.inputSchema.safeParse({ q: 'x', z: 1 }).success).toBe(false);
    expect(sig.outputSchema.safeParse({ a: 'y' }).success).toBe(true);
  });

  it('agrees with the built-in validator on every kind of type', () => {
    const types = [
      'str',
      'int',
      'float',
      'bool',
      'Any',
      'list[int]',
      'dict[str, bool]',
      'Optional[str]',
      "Literal['a', 1, True, None]",
      'Union[int, str]',
      'list[Optional[dict[str, list[float]]]]',
    ];
    const values: unknown[] = [
      'a',
      1,
      1.5,
      true,
      null,
      [],
      [1, 2],
      [1, 'x'],
      {},
      { k: true },
      { k: 1 },
      [{ x: [1.5] }],
      [null],
      'x',
      Number.NaN,
    ];
    for (const text of types) {
      const sig = signature({ inputs: { v: text }, outputs: {} });
      const schema = typeToZod(parseTypeText(text));
      for (const value of values) {
        let ours = true;
        try {
          sig.validateInputs({ v: value });
        } catch {
          ours = false;
        }
        expect([text, value, ours], 'validator and zod disagree').toEqual([
          text,
          value,
          schema.safeParse(value).success,
        ]);
      }
    }
  });
});

describe('object form', () => {
  const classify = signature({
    instructions: 'Classify the sentiment.',
    inputs: {
      text: z.string().min(1).describe('the review'),
      lang: { type: 'str | None', desc: 'ISO code' },
    },
    outputs: { label: z.enum(['pos', 'neg']), score: { type: 'float', desc: 'between 0 and 1' } },
  });

  it('derives field specs with descriptions from zod and {type, desc}', () => {
    expect(classify.inputs.map((f) => [f.name, f.typeText, f.description])).toEqual([
      ['text', 'str', 'the review'],
      ['lang', 'Optional[str]', 'ISO code'],
    ]);
    expect(classify.outputs.map((f) => f.typeText)).toEqual(["Literal['pos', 'neg']", 'float']);
  });

  it('prints a DSPy string and a JSON form carrying what the string cannot', () => {
    expect(classify.toString()).toBe(
      "text, lang: Optional[str] -> label: Literal['pos', 'neg'], score: float",
    );
    expect(classify.toJSON()).toEqual({
      signature: "text, lang: Optional[str] -> label: Literal['pos', 'neg'], score: float",
      instructions: 'Classify the sentiment.',
      descriptions: { text: 'the review', lang: 'ISO code', score: 'between 0 and 1' },
    });
  });

  it('keeps zod refinements when validating', () => {
    const error = validationError(() => classify.validateInputs({ text: '' }));
    expect(error.field).toBe('inputs.text');
    expect(classify.parseOutputs({ label: 'pos', score: '0.5' })).toEqual({ label: 'pos', score: 0.5 });
    expect(validationError(() => classify.parseOutputs({ label: 'meh', score: 1 })).field).toBe(
      'outputs.label',
    );
  });

  it('rejects bad type strings, duplicate names and reserved names', () => {
    const bad = (fn: () => unknown): unknown => {
      try {
        fn();
      } catch (error) {
        return error;
      }
      return undefined;
    };
    const typeError = bad(() => signature({ inputs: { a: 'list[strr]' }, outputs: {} }));
    expect(isSignatureParseError(typeError) && typeError.column).toBe(6);
    expect(isSignatureParseError(bad(() => signature({ inputs: { a: 'str' }, outputs: { a: 'int' } })))).toBe(
      true,
    );
    expect(isSignatureParseError(bad(() => signature({ inputs: { class: 'str' }, outputs: {} })))).toBe(true);
    expect(isSignatureParseError(bad(() => signature({ inputs: { d: z.date() }, outputs: {} })))).toBe(true);
  });
});

describe('derived signatures', () => {
  it('withReasoning prepends a reasoning output as ChainOfThought does', () => {
    const cot = withReasoning(signature('question -> answer: int'));
    expect(cot.outputs.map((f) => f.name)).toEqual(['reasoning', 'answer']);
    expect(cot.toString()).toBe('question -> reasoning, answer: int');
    expect(cot.parseOutputs({ reasoning: 'r', answer: '4' })).toEqual({ reasoning: 'r', answer: 4 });
    expect(() => withReasoning(cot)).toThrow(/twice/);
  });

  it('withInstructions keeps the fields', () => {
    const sig = qa.withInstructions('Be brief.');
    expect(sig.instructions).toBe('Be brief.');
    expect(sig.toString()).toBe(qa.toString());
  });

  it('returns the same signature object for the same string', () => {
    expect(signature('q -> a')).toBe(signature('q -> a'));
  });
});
