/**
 * Issue 16: values are never changed silently and every accepted signature round-trips.
 * Trees of the grammar are generated directly (every type kind; literal values from the whole range
 * the grammar holds: any well-formed text, non-negative safe integers, any finite non-negative
 * double, true, false, null), printed, and parsed back to the same tree. Generated signature text
 * (test/harness/signature-gen.ts) that parses reads back from its canonical text to the same fields.
 * The Python twin is python/tests/test_signature_roundtrip.py.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SignatureParseError } from '../../../src/errors.js';
import { formatLiteral, formatSignature, formatType, makeUnion } from '../../../src/signature/format.js';
import { parseSignatureUncached, parseTypeText } from '../../../src/signature/parser.js';
import {
  ANY,
  BOOL,
  FLOAT,
  INT,
  MAX_SIGNATURE_LENGTH,
  MAX_TYPE_DEPTH,
  STR,
  typeDepth,
  type FieldSpec,
  type LiteralValue,
  type TypeNode,
} from '../../../src/signature/types.js';
import { wholeGrammar } from '../../harness/signature-gen.js';

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const texts = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 12 }).filter((s) => !LONE_SURROGATE.test(s)),
  fc.constantFrom(
    '->',
    'a->b',
    '-',
    '>',
    "'",
    '"',
    '\'"',
    '\\',
    '\x00',
    '\x85',
    '\u2028',
    '#',
    '\n',
    '😀',
    'ﬁ',
  ),
);
const numbers = fc.oneof(
  fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  fc.double({ min: 0, noNaN: true, noDefaultInfinity: true }).filter((x) => !Object.is(x, -0)),
  fc.constantFrom(1e-7, 1e21, 2 ** 53, 1e308, 5e-324, 0.1, Number.MAX_SAFE_INTEGER),
);
const literalValues: fc.Arbitrary<LiteralValue> = fc.oneof(fc.constant(null), fc.boolean(), numbers, texts);

function literal(values: readonly LiteralValue[]): TypeNode {
  const out: LiteralValue[] = [];
  for (const v of values) if (!out.includes(v)) out.push(v);
  return { kind: 'literal', values: out };
}

const scalars = fc.constantFrom(STR, INT, FLOAT, BOOL, ANY);
const literals = fc.array(literalValues, { minLength: 1, maxLength: 4 }).map(literal);
const node = (n: TypeNode): TypeNode => n;
const dspyTypes: fc.Arbitrary<TypeNode> = fc.oneof(
  fc
    .constantFrom('Image', 'Audio', 'File', 'ToolCalls', 'Code', 'Reasoning' as const)
    .map((name) => node({ kind: 'dspy', name })),
  fc
    .stringMatching(/^[A-Za-z0-9_+#.-]{1,32}$/)
    .map((language) => node({ kind: 'dspy', name: 'Code', language })),
);

const { type: types } = fc.letrec<{ type: TypeNode; inner: TypeNode }>((tie) => ({
  type: fc.oneof({ depthSize: 'small' }, scalars, literals, dspyTypes, tie('inner')),
  inner: fc.oneof(
    tie('type').map((item) => node({ kind: 'list', item })),
    tie('type').map((value) => node({ kind: 'dict', value })),
    fc.oneof(scalars, literals).map((item) => node({ kind: 'set', item })),
    fc
      .array(tie('type'), { minLength: 1, maxLength: 3 })
      .map((items) => node({ kind: 'tuple', items, variadic: false })),
    tie('type').map((item) => node({ kind: 'tuple', items: [item], variadic: true })),
    tie('type').map((inner) => makeUnion([inner, null]) ?? inner),
    fc.array(tie('type'), { minLength: 2, maxLength: 3 }).map((ms) => makeUnion(ms) ?? ANY),
  ),
}));

const names = [
  'q',
  'answer',
  'context',
  'items',
  'json',
  'str',
  'list',
  'Literal',
  'dspy',
  'typing',
  'match',
  'café',
  '名前',
];
const signatures = fc
  .tuple(fc.shuffledSubarray(names, { minLength: 1, maxLength: 7 }), fc.nat(), fc.nat(4), fc.nat(4))
  .chain(([chosen, at, history, tools]) => {
    const split = at % chosen.length;
    return fc.tuple(fc.array(types, { minLength: chosen.length, maxLength: chosen.length })).map(([ts]) => {
      const fields: FieldSpec[] = chosen.map((name, i) => {
        let type = ts[i] as TypeNode;
        if (i === 0 && i < split && history === 0) type = { kind: 'dspy', name: 'History' };
        if (i === split - 1 && i > 0 && tools === 0)
          type = { kind: 'list', item: { kind: 'dspy', name: 'Tool' } };
        return { name, role: i < split ? 'input' : 'output', type, typeText: formatType(type) };
      });
      return {
        inputs: fields.filter((f) => f.role === 'input'),
        outputs: fields.filter((f) => f.role === 'output'),
      };
    });
  })
  .filter(
    (sig) =>
      formatSignature(sig).length <= MAX_SIGNATURE_LENGTH &&
      [...sig.inputs, ...sig.outputs].every((f) => typeDepth(f.type) <= MAX_TYPE_DEPTH),
  );

const shape = (fields: readonly FieldSpec[]): unknown[] => fields.map((f) => [f.name, f.role, f.type]);

describe('round trip of the canonical text', () => {
  it('prints every tree as a text that parses back to the same tree and prints the same again', () => {
    fc.assert(
      fc.property(signatures, (sig) => {
        const text = formatSignature(sig);
        const parsed = parseSignatureUncached(text);
        expect(shape([...parsed.inputs, ...parsed.outputs])).toEqual(shape([...sig.inputs, ...sig.outputs]));
        expect(formatSignature(parsed)).toBe(text);
      }),
      { numRuns: 1500, seed: 16 },
    );
  });

  it('prints every literal value so that it reads back as the same value, on one line, with no arrow', () => {
    fc.assert(
      fc.property(literalValues, (value) => {
        const text = formatLiteral(value);
        expect(text).not.toMatch(/[\n\r]|->/);
        const parsed = parseTypeText(`Literal[${text}]`);
        expect(parsed).toEqual({ kind: 'literal', values: [value] });
      }),
      { numRuns: 3000, seed: 16 },
    );
  });

  it('reads every generated signature it accepts back from its canonical text to the same fields', () => {
    let accepted = 0;
    fc.assert(
      fc.property(wholeGrammar, (text) => {
        let parsed;
        try {
          parsed = parseSignatureUncached(text);
        } catch (error) {
          expect(error).toBeInstanceOf(SignatureParseError);
          return;
        }
        accepted++;
        const canonical = formatSignature(parsed);
        const again = parseSignatureUncached(canonical);
        expect(shape([...again.inputs, ...again.outputs])).toEqual(
          shape([...parsed.inputs, ...parsed.outputs]),
        );
        expect(formatSignature(again)).toBe(canonical);
      }),
      { numRuns: 3000, seed: 16 },
    );
    expect(accepted).toBeGreaterThan(1000);
  });

  it('keeps the values the issue found changed: exact integers, small and large floats, NUL', () => {
    const cases: Array<[string, string]> = [
      ['Literal[0.0000001]', 'Literal[1e-7]'],
      ['Literal[1000000000000000000000.0]', 'Literal[1e+21]'],
      ['Literal[9007199254740991]', 'Literal[9007199254740991]'],
      ["Literal['\\x00', 'a-\\x3eb']", "Literal['\\x00', 'a-\\x3eb']"],
    ];
    for (const [text, canonical] of cases) {
      expect(formatType(parseTypeText(text))).toBe(canonical);
      expect(parseTypeText(canonical)).toEqual(parseTypeText(text));
    }
    expect(() => parseTypeText('Literal[9007199254740993]')).toThrow(/at most 9007199254740991/);
    expect(() => parseTypeText('Literal[1000000000000000000000]')).toThrow(SignatureParseError);
  });
});
