import { describe, expect, it } from 'vitest';
import { SignatureParseError } from '../../../src/errors.js';
import {
  clearSignatureMemo,
  formatType,
  parseSignature,
  parseTypeText,
} from '../../../src/signature/index.js';
import { parseSignatureUncached } from '../../../src/signature/parser.js';

describe('parseSignature', () => {
  it('returns the same frozen object for the same text', () => {
    clearSignatureMemo();
    const first = parseSignature('question -> answer');
    expect(parseSignature('question -> answer')).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    expect(Object.isFrozen(first.inputs[0])).toBe(true);
  });

  it('attaches instructions without re-parsing', () => {
    const parsed = parseSignature('q -> a', { instructions: 'Answer.' });
    expect(parsed.instructions).toBe('Answer.');
    expect(parsed.inputs).toBe(parseSignature('q -> a').inputs);
  });

  it('builds the tagged type tree', () => {
    const parsed = parseSignatureUncached("x: Optional[list[Literal['a', 1]]] -> y");
    expect(parsed.inputs[0]?.type).toEqual({
      kind: 'optional',
      inner: { kind: 'list', item: { kind: 'literal', values: ['a', 1] } },
    });
  });

  it('reports the column and what it expected', () => {
    let error: unknown;
    try {
      parseSignature('question: str context: str -> answer');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SignatureParseError);
    expect(error).toMatchObject({ column: 15, expected: "',' or '->'", code: 'bad_request' });
    expect((error as Error).message).toBe("signature column 15: expected ',' or '->', found 'context'");
  });

  it('reports the earliest problem in the text', () => {
    expect(() => parseSignature('a: typing.Sequence[str] -> b')).toThrow(/column 4/);
    expect(() => parseSignature("a: 'int' -> b")).toThrow("found the string 'int'");
  });
});

describe('parseTypeText', () => {
  it('normalises spellings to the canonical Python form', () => {
    const cases: Array<[string, string]> = [
      ['string[]', 'list[str]'],
      ['None | int', 'Optional[int]'],
      ['Union[int, Union[str, None]]', 'Optional[Union[int, str]]'],
      ['Dict[string, number[]]', 'dict[str, list[float]]'],
      [`Literal["it's", 'a\\'b', 'x"\\'', 2.5]`, `Literal["it's", "a'b", 'x"\\'', 2.5]`],
    ];
    for (const [text, canonical] of cases) expect(formatType(parseTypeText(text))).toBe(canonical);
  });

  it('rejects trailing text', () => {
    expect(() => parseTypeText('int str')).toThrow(/column 5/);
  });
});
