import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SignatureParseError } from '../../../src/errors.js';
import { parseSignatureUncached, parseTypeText } from '../../../src/signature/parser.js';
import { MAX_SIGNATURE_FIELDS, MAX_SIGNATURE_LENGTH, MAX_TYPE_DEPTH } from '../../../src/signature/types.js';

const nested = (depth: number): string => 'list['.repeat(depth - 1) + 'int' + ']'.repeat(depth - 1);
const fields = (n: number): string => Array.from({ length: n }, (_, i) => `f${i}`).join(', ');

function parseError(text: string): SignatureParseError {
  try {
    parseSignatureUncached(text);
  } catch (error) {
    if (error instanceof SignatureParseError) return error;
    throw error;
  }
  throw new Error(`accepted: ${text.slice(0, 60)}`);
}

describe('limits of the signature grammar (the same numbers as python/dspex_worker/signature_types.py)', () => {
  it(`accepts ${MAX_SIGNATURE_LENGTH} characters and refuses one more`, () => {
    const text = 'q -> a'.padEnd(MAX_SIGNATURE_LENGTH);
    expect(parseSignatureUncached(text).outputs).toHaveLength(1);
    const error = parseError(`${text} `);
    expect(error.column).toBe(MAX_SIGNATURE_LENGTH + 1);
    expect(error.message).toBe(
      `signature: expected at most ${MAX_SIGNATURE_LENGTH} characters, found ${MAX_SIGNATURE_LENGTH + 1}`,
    );
  });

  it(`accepts ${MAX_SIGNATURE_FIELDS} fields and refuses one more, at its name`, () => {
    expect(parseSignatureUncached(`${fields(MAX_SIGNATURE_FIELDS - 1)} -> a`).inputs).toHaveLength(
      MAX_SIGNATURE_FIELDS - 1,
    );
    const text = `${fields(MAX_SIGNATURE_FIELDS)} -> a`;
    expect(parseError(text)).toMatchObject({ column: text.indexOf('a') + 1, expected: 'at most 64 fields' });
  });

  it(`accepts types ${MAX_TYPE_DEPTH} deep and refuses deeper ones, however they nest`, () => {
    expect(parseTypeText(nested(MAX_TYPE_DEPTH))).toBeDefined();
    expect(parseTypeText(`int${'[]'.repeat(MAX_TYPE_DEPTH - 1)}`)).toBeDefined();
    for (const text of [
      `q: ${nested(MAX_TYPE_DEPTH + 1)} -> a`,
      `q: int${'[]'.repeat(MAX_TYPE_DEPTH)} -> a`,
      `q: ${'Union['.repeat(MAX_TYPE_DEPTH + 1)}int${']'.repeat(MAX_TYPE_DEPTH + 1)} -> a`,
      `q: ${'Optional['.repeat(MAX_TYPE_DEPTH + 1)}int${']'.repeat(MAX_TYPE_DEPTH + 1)} -> a`,
      `q: ${'Union['.repeat(600)}int${']'.repeat(600)} -> a`,
      `q: int${'[]'.repeat(2000)} -> a`,
    ]) {
      expect(parseError(text).expected).toMatch(/nested|characters/);
    }
  });

  it('refuses names that only exist on a JavaScript prototype with a parse error', () => {
    for (const name of ['constructor', 'toString', '__proto__', 'valueOf', 'hasOwnProperty']) {
      expect(parseError(`q: ${name} -> a`).column).toBe(4);
      expect(parseError(`q: list[${name}] -> a`).column).toBe(9);
      expect(() => parseTypeText(name)).toThrow(SignatureParseError);
    }
  });

  it('either parses any text or throws a SignatureParseError, never anything else', () => {
    const piece = fc.constantFrom(
      ...['q', 'a', ':', ',', '|', '[', ']', '->', '-', 'list', 'dict', 'Optional', 'Union', 'Literal'],
      ...['None', 'str', 'int', "'x'", '1', '1.5', 'constructor', '__proto__', 'os.environ', '😀', ' '],
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: 'binary', maxLength: 60 }),
          fc.array(piece).map((p) => p.join('')),
        ),
        (text) => {
          try {
            parseSignatureUncached(text);
          } catch (error) {
            expect(error).toBeInstanceOf(SignatureParseError);
          }
        },
      ),
      { numRuns: 2000, seed: 9 },
    );
  });
});
