/**
 * Generated signature text across the whole grammar (docs/signatures.md), as fast-check arbitraries:
 * the TS twin of python/tests/signature_gen.py. `wellFormed` builds text from a fixed vocabulary
 * (field names plain, non-English and type-shadowing; every type constructor, nested; Python literal
 * forms; whitespace, comments, line continuations, trailing commas); `withOneRefusal` puts one
 * specimen of a kind DSPy accepts and the grammar refuses on purpose (or both refuse) into one;
 * `nearMiss` inserts, deletes or replaces pieces. No name in the vocabulary has import side effects
 * (DSPy's resolver, the reference, imports the modules names spell).
 */
import fc from 'fast-check';

const GOOD_NAMES = [
  'q',
  'a',
  'question',
  'answer',
  'context',
  'x1',
  'items',
  'json',
  'str',
  'list',
  'dict',
  'int',
  'Literal',
  'dspy',
  'typing',
  'match',
  'case',
  'type',
  'café',
  '名前',
  'über',
  'Ωmega',
];
const SCALARS = ['str', 'int', 'float', 'bool', 'Any', 'Text', 'typing.Text', 'typing.Any'];
const TS_SPELLINGS = ['string', 'number', 'boolean', 'any'];
const BARE = ['list', 'dict', 'tuple', 'set', 'List', 'Dict', 'Tuple', 'Set', 'typing.List', 'typing.Dict'];
const DSPY = [
  'dspy.Image',
  'dspy.Audio',
  'dspy.File',
  'dspy.ToolCalls',
  'dspy.Code',
  'dspy.Reasoning',
  "dspy.Code['python']",
  "dspy.Code['c++']",
];
const SPACES = [' ', ' ', ' ', '', '  ', '\t', '\n', '\r\n', '\f', ' # note\n', ' \\\n'];
const LITERALS = [
  "'a'",
  '"b"',
  "'it\\'s'",
  '"say \\"hi\\""',
  "u'x'",
  "U'y'",
  "r'\\d'",
  "R'\\n'",
  "'''tri\nple'''",
  '"""t"""',
  "'a' 'b'",
  "'a' u'b'",
  "'\\n\\t'",
  "'\\x41'",
  "'\\u00e9'",
  "'\\U0001F600'",
  "'\\101'",
  "'\\0'",
  "'\\a\\v'",
  "'\x01'",
  "'\x7f'",
  "'é'",
  "'😀'",
  "'\u2028'",
  "''",
  "('p')",
  "'a-\\x3eb'",
  ...['0', '1', '42', '1_000', '0x1f', '0o7', '0b1', '00', '1.5', '2.0', '.5', '1.', '1e5', '1E-7'],
  ...['0.0000001', '1e21', '1e19', '9007199254740992.0', '9007199254740991', 'True', 'False', 'None'],
];

/** Specimens of kinds DSPy accepts that the grammar refuses on purpose, by refusal code, and of kinds both refuse. */
export const REFUSED_TYPES: Readonly<Record<string, readonly string[]>> = {
  'unknown-type': ['bytes', 'Self', 'Sequence[int]', 'frozenset[int]', 'complex', 'object'],
  'none-type': ['None', 'NoneType', 'Union[None]', 'Optional[None]', 'None | None'],
  'dotted-name': ['typing.Sequence[int]', 'collections.OrderedDict', 'dspy.adapters.types.Image'],
  'dspy-type': ['dspy.Type', 'dspy.ToolCallResults'],
  'not-nfkc': ['\uff49\uff4e\uff54', '\u017ftr'],
  'dict-key': ['dict[int, str]', "dict[Literal['k'], int]", 'Dict[bool, str]'],
  'type-arguments': ['list[int, str]', 'dict[(str, int)]', 'tuple[()]', 'set[int, str]'],
  'set-item': ['set[list[int]]', 'set[dict[str, int]]', 'set[dspy.Image]'],
  'literal-value': ['Literal[int]', "Literal[Literal['a']]"],
  'forward-reference': ["list['int']", "Optional['str']", "dict[str, 'float']"],
  'not-json': ["Literal[b'x']", 'Literal[1j]', 'Literal[...]', 'Literal[1e400]'],
  'unsafe-integer': ['Literal[9007199254740993]', 'Literal[0x20000000000001]'],
  escape: ["Literal['\\N{BULLET}']", "Literal['\\d']", "Literal['a\\q']"],
  'code-language': ["dspy.Code['has space']", "dspy.Code['']"],
  'both refuse': ['Literal[-1]', "Literal[f'x']", 'Literal[007]', 'int()', 'Optional', 'Literal'],
};
const BAD_NAMES = [
  '\ufb01eld',
  '\uff51x',
  'class',
  'None',
  'True',
  '_x',
  '_',
  'fields',
  'instructions',
  '1a',
];

const pick = <T>(items: readonly T[]): fc.Arbitrary<T> => fc.constantFrom(...items);
const space = pick(SPACES);

/** A well-formed type expression of the grammar, any constructor, nested up to `depth` more levels. */
export function typeText(depth = 4): fc.Arbitrary<string> {
  const leaf = fc.oneof(pick(SCALARS), pick(SCALARS), pick(TS_SPELLINGS), pick(BARE), pick(DSPY));
  if (depth === 0) return leaf;
  const inner = typeText(depth - 1);
  const comma = fc.oneof(
    pick([',', ', ', ', ']),
    space.map((s) => `,${s}`),
  );
  const trailing = pick(['', '', '', ',']);
  const wrap = (names: readonly string[], args: fc.Arbitrary<string>): fc.Arbitrary<string> =>
    fc.tuple(pick(names), args, trailing).map(([n, a, t]) => `${n}[${a}${t}]`);
  const many = (arb: fc.Arbitrary<string>, min: number, max: number): fc.Arbitrary<string> =>
    fc.tuple(fc.array(arb, { minLength: min, maxLength: max }), comma).map(([xs, c]) => xs.join(c));
  return fc.oneof(
    { weight: 3, arbitrary: leaf },
    wrap(['list', 'List', 'typing.List'], inner),
    wrap(
      ['set', 'Set', 'typing.Set'],
      pick(['str', 'int', 'Text', "Literal['a', 1]", 'tuple[int, str]', 'Optional[int]', 'int | str', 'Any']),
    ),
    wrap(
      ['dict', 'Dict'],
      fc.tuple(pick(['str', 'Text', 'string']), comma, inner).map((p) => p.join('')),
    ),
    wrap(['Optional', 'typing.Optional'], inner),
    wrap(['Union', 'typing.Union'], many(inner, 1, 3)),
    wrap(['Literal', 'typing.Literal'], many(pick(LITERALS), 1, 3)),
    fc.tuple(inner, space, inner).map(([a, s, b]) => `${a}${s}|${s}${b}`),
    fc.tuple(inner, space).map(([a, s]) => `${a}${s}|${s}None`),
    inner.map((t) => (BARE.includes(t) || t === 'dspy.Code' ? `list[${t}]` : `${t}[]`)),
    fc.tuple(inner, space).map(([t, s]) => `(${s}${t}${s})`),
    wrap(
      ['tuple', 'Tuple'],
      fc.tuple(inner, comma).map(([t, c]) => `${t}${c}...`),
    ),
    wrap(['tuple', 'Tuple', 'typing.Tuple'], many(inner, 1, 3)),
    fc.tuple(pick(['list[%]', 'dict[str, %]', 'Optional[%]']), pick(DSPY)).map(([w, d]) => w.replace('%', d)),
  );
}

function field(name: string, role: 'input' | 'output'): fc.Arbitrary<string> {
  const typed = fc.tuple(pick(['', ' ']), space, typeText(), fc.nat(12)).map(([before, s, t, roll]) => {
    const special = ['dspy.History', 'list[dspy.Tool]', 'dspy.Tool', 'Optional[dspy.Tool]'][
      roll % 4
    ] as string;
    return `${name}${before}:${s}${role === 'input' && roll < 2 ? special : t}`;
  });
  return fc.oneof(fc.constant(name), typed, typed);
}

const parts: fc.Arbitrary<{ inputs: string[]; outputs: string[] }> = fc
  .tuple(fc.shuffledSubarray(GOOD_NAMES, { minLength: 6, maxLength: 6 }), fc.nat(3), fc.nat(3))
  .chain(([names, nIn, nOut]) =>
    fc.record({
      inputs: fc.tuple(...names.slice(0, nIn).map((n) => field(n, 'input'))),
      outputs: fc.tuple(...names.slice(3, 3 + nOut).map((n) => field(n, 'output'))),
    }),
  );

function join(sig: { inputs: string[]; outputs: string[] }): fc.Arbitrary<string> {
  const side = (fields: string[]): fc.Arbitrary<string> =>
    fc
      .tuple(pick([', ', ',', ' , ']), space, pick(['', '', '', ',']))
      .map(([sep, s, t]) => fields.join(sep === ',' ? `,${s}` : sep) + (fields.length > 0 ? t : ''));
  return fc
    .tuple(
      side(sig.inputs),
      side(sig.outputs),
      pick(['->', ' -> ', ' -> ']),
      space,
      pick(['', '', '\n', ' ']),
    )
    .map(([i, o, arrow, lead, end]) => `${lead.replace(/^ +/, '')}${i}${arrow}${o}${end}`);
}

/** A well-formed signature (DSPy accepts it, or the grammar accepts it as an extension). */
export const wellFormed: fc.Arbitrary<string> = parts.chain(join);

/** A well-formed signature with one specimen of a refused kind in it. */
export const withOneRefusal: fc.Arbitrary<string> = fc
  .tuple(
    parts,
    fc.nat(7),
    fc.nat(),
    pick(Object.keys(REFUSED_TYPES)),
    fc.nat(),
    pick(['{}', '{}', 'list[{}]', 'Optional[{}]', '{} | int', 'dict[str, {}]', 'tuple[int, {}]']),
  )
  .chain(([sig, kind, at, refusal, index, wrapper]) => {
    const inputs = [...sig.inputs];
    const outputs = sig.outputs.length > 0 ? [...sig.outputs] : ['answer_'];
    const side = at % 2 === 0 && inputs.length > 0 ? inputs : outputs;
    const i = at % side.length;
    const name = (side[i] as string).split(':')[0]?.trim() ?? 'x';
    const specimens = REFUSED_TYPES[refusal] as readonly string[];
    const nth = <T>(items: readonly T[]): T => items[index % items.length] as T;
    if (kind <= 3) side[i] = `${name}: ${wrapper.replace('{}', nth(specimens))}`;
    else if (kind === 4) side[i] = nth(BAD_NAMES) + (side[i] as string).slice(name.length);
    else if (kind === 5) side[i] = `${side[i] as string}${nth([' = 1', '=None', ' = "x"'])}`;
    else if (kind === 6) side.splice(i, 0, nth(['*args', '**kw', '*', '/']));
    else if (side === outputs)
      side.splice(i, 0, nth(['h: dspy.History', 't: dspy.Tool', 't: list[dspy.Tool]']));
    else side.splice(i, 0, nth(['h: dspy.History, h2: dspy.History', 'h: list[dspy.History]', name]));
    return join({ inputs, outputs });
  });

const PIECES = [
  ...[':', ',', '|', '[', ']', '[]', '->', '-', '.', '(', ')', '=', '*', '#', "'a'", '"b"', "'", '0', '1.5'],
  ...['1a', ' ', '\t', '\n', '\x0b', '\u00a0', 'é', '😀', '\uff49', '\u200b', '\\', 'None', 'dspy.'],
  ...['typing.', '...', "u'", '0x', '_', 'str', 'Literal[', 'list[', ',]'],
];

/** A well-formed signature with one to three pieces inserted, deleted or replaced. */
export const nearMiss: fc.Arbitrary<string> = fc
  .tuple(
    wellFormed,
    fc.array(fc.tuple(fc.nat(), fc.nat(2), pick(PIECES), fc.integer({ min: 1, max: 4 })), {
      minLength: 1,
      maxLength: 3,
    }),
  )
  .map(([text, edits]) =>
    edits.reduce((t, [at, op, piece, n]) => {
      const i = at % (t.length + 1);
      if (op === 0) return t.slice(0, i) + piece + t.slice(i);
      if (op === 1) return t.slice(0, i) + t.slice(i + n);
      return t.slice(0, i) + piece + t.slice(i + piece.length);
    }, text),
  );

/** Half well-formed signatures, a quarter with one refused specimen, a quarter near misses. */
export const wholeGrammar: fc.Arbitrary<string> = fc.oneof(wellFormed, wellFormed, withOneRefusal, nearMiss);
