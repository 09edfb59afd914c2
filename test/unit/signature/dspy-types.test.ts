/**
 * DSPy's own types on the node: the wire forms of fixtures/signatures/dspy-values.json (also checked
 * by the worker, python/tests/test_dspy_values.py), their zod schemas, input validation naming the
 * field, and output coercion (compile-time types: inference.test-d.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isValidationError } from '../../../src/errors.js';
import { DSPY_SCHEMAS } from '../../../src/signature/dspy-types.js';
import { signature } from '../../../src/signature/index.js';
import type { DspyTypeName } from '../../../src/signature/types.js';

const file = join(import.meta.dirname, '../../../fixtures/signatures/dspy-values.json');
const types = (
  JSON.parse(readFileSync(file, 'utf8')) as {
    types: Record<string, { valid: unknown[]; invalid: unknown[] }>;
  }
).types;
const cases = Object.entries(types).flatMap(([name, forms]) => [
  ...forms.valid.map((value, i) => [`${name} valid ${i}`, name, value, true] as const),
  ...forms.invalid.map((value, i) => [`${name} invalid ${i}`, name, value, false] as const),
]);

describe("DSPy's types on the wire", () => {
  it('has fixtures for every DSPy type of the grammar', () => {
    expect(Object.keys(types).sort()).toEqual(Object.keys(DSPY_SCHEMAS).sort());
  });

  it.each(cases)('%s', (_id, name, value, ok) => {
    expect(DSPY_SCHEMAS[name as DspyTypeName].safeParse(value).success).toBe(ok);
  });

  it('refuses a bad input naming the field and what an image is', () => {
    const sig = signature('photo: dspy.Image, h: dspy.History -> answer');
    let caught: unknown;
    try {
      sig.validateInputs({ photo: '/etc/passwd', h: { messages: [] } });
    } catch (error) {
      caught = error;
    }
    expect(isValidationError(caught) && caught.field).toBe('inputs.photo');
    expect((caught as Error).message).toContain('image');
    expect(() => sig.validateInputs({ photo: 'https://example.com/a.png', h: { messages: [1] } })).toThrow(
      /inputs\.h\.messages\[0\]/,
    );
  });

  it('checks outputs in their wire forms, reading JSON text for the object forms', () => {
    const sig = signature(
      "q -> img: dspy.Image, calls: dspy.ToolCalls, code: dspy.Code['python'], s: set[int]",
    );
    const out = sig.parseOutputs({
      img: 'https://example.com/a.png',
      calls: '{"tool_calls": [{"name": "search", "args": {"q": "x"}}]}',
      code: 'print(1)',
      s: [1, 2, 2],
    });
    expect(out).toEqual({
      img: 'https://example.com/a.png',
      calls: { tool_calls: [{ name: 'search', args: { q: 'x' } }] },
      code: 'print(1)',
      s: [1, 2],
    });
    expect(() => sig.parseOutputs({ ...out, img: 'not an image' })).toThrow(/outputs\.img/);
  });
});
