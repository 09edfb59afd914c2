import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isSignatureParseError } from '../../../src/errors.js';
import { Refusal, formatSignature, parseSignature, signature } from '../../../src/signature/index.js';

interface ValidCase {
  id: string;
  text: string;
  valid: true;
  inputs: Array<[string, string]>;
  outputs: Array<[string, string]>;
  canonical: string;
  instructions?: string;
  ts_only?: boolean;
}
interface InvalidCase {
  id: string;
  text: string;
  valid: false;
  column: number;
  dspy_accepts?: boolean;
  refusal?: string;
}
type Case = ValidCase | InvalidCase;

const file = join(import.meta.dirname, '../../../fixtures/signatures/cases.json');
const cases = (JSON.parse(readFileSync(file, 'utf8')) as { cases: Case[] }).cases;
const valid = cases.filter((c): c is ValidCase => c.valid).map((c) => [c.id, c] as const);
const invalid = cases.filter((c): c is InvalidCase => !c.valid).map((c) => [c.id, c] as const);

const pairs = (fields: readonly { name: string; typeText: string }[]): Array<[string, string]> =>
  fields.map((f) => [f.name, f.typeText]);

describe('signature fixtures shared with the DSPy parity test', () => {
  it('has at least 60 cases with distinct ids, valid and invalid', () => {
    expect(cases.length).toBeGreaterThanOrEqual(60);
    expect(new Set(cases.map((c) => c.id)).size).toBe(cases.length);
    expect(valid.length).toBeGreaterThan(20);
    expect(invalid.length).toBeGreaterThan(20);
  });

  it.each(valid)('parses %s to the expected fields in order', (_id, c) => {
    const parsed = parseSignature(
      c.text,
      c.instructions === undefined ? {} : { instructions: c.instructions },
    );
    expect(pairs(parsed.inputs)).toEqual(c.inputs);
    expect(pairs(parsed.outputs)).toEqual(c.outputs);
    expect(parsed.inputs.every((f) => f.role === 'input')).toBe(true);
    expect(parsed.outputs.every((f) => f.role === 'output')).toBe(true);
    expect(parsed.instructions).toBe(c.instructions);
  });

  it.each(valid)('prints %s in its canonical form, which parses back to the same fields', (_id, c) => {
    const sig = signature(c.text);
    expect(sig.toString()).toBe(c.canonical);
    const again = parseSignature(sig.toString());
    expect(pairs(again.inputs)).toEqual(c.inputs);
    expect(pairs(again.outputs)).toEqual(c.outputs);
  });

  it.each(invalid)('rejects %s with the expected column', (_id, c) => {
    let caught: unknown;
    try {
      parseSignature(c.text);
    } catch (error) {
      caught = error;
    }
    expect(isSignatureParseError(caught)).toBe(true);
    if (!isSignatureParseError(caught)) return;
    expect(caught.column).toBe(c.column);
    expect(caught.expected.length).toBeGreaterThan(0);
    expect(caught.message).toContain(`column ${c.column}`);
    expect(caught.details).toMatchObject({ field: 'signature', column: c.column });
    // What DSPy accepts is refused on purpose, with a documented refusal code.
    if (c.dspy_accepts === true) expect(Object.values(Refusal)).toContain(c.refusal);
    if (c.refusal !== undefined) {
      expect(caught.refusal).toBe(c.refusal);
      expect(caught.details).toMatchObject({ refusal: c.refusal });
    }
  });

  it.each(valid)('reads the canonical form of %s back to itself', (_id, c) => {
    expect(formatSignature(parseSignature(c.canonical))).toBe(c.canonical);
  });
});
