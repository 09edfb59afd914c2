/**
 * Recursive-descent parser for DSPy signature strings:
 *
 * ```
 * signature := fields '->' fields
 * fields    := [field (',' field)* [',']]
 * field     := name [':' type]
 * type      := postfix ('|' postfix)*
 * postfix   := primary ('[' ']')*
 * primary   := scalar | None | list['[' type ']'] | dict['[' str ',' type ']'] | Optional '[' type ']'
 *            | Union '[' type (',' type)* ']' | Literal '[' value (',' value)* ']'
 * ```
 *
 * It accepts what dspy 3.4.1 accepts for these types (trailing commas, empty sides, `X | None`,
 * `List`/`Dict`), plus TypeScript spellings (`string`, `number`, `boolean`, `any`, `T[]`) that
 * {@link formatType} turns back into Python. Things DSPy accepts but silently mangles (defaults,
 * `*args`, duplicate inputs, `dict[int, …]`) are rejected, and so is anything past the limits in
 * `types.ts` (text length, field count, type nesting). Nothing is looked up by name: the Python worker
 * parses with the same grammar (`python/dspex_worker/signature_grammar.py`), never with DSPy's.
 */
import { SignatureParseError } from '../errors.js';
import { tokenize, type Token, type TokenKind } from './tokenizer.js';
import {
  ANY,
  BOOL,
  FLOAT,
  INT,
  MAX_SIGNATURE_FIELDS,
  MAX_SIGNATURE_LENGTH,
  MAX_TYPE_DEPTH,
  STR,
  fieldNameProblem,
  formatLiteral,
  formatType,
  makeUnion,
  typeDepth,
  type FieldSpec,
  type LiteralValue,
  type ParsedSignature,
  type TypeNode,
} from './types.js';

const SCALARS: Readonly<Record<string, TypeNode>> = {
  str: STR,
  string: STR,
  int: INT,
  float: FLOAT,
  number: FLOAT,
  bool: BOOL,
  boolean: BOOL,
  Any: ANY,
  any: ANY,
};

const TYPE_EXPECTED =
  'a type (str, int, float, bool, Any, list[...], dict[str, ...], Optional[...], Literal[...])';

const PYTHON_CONSTANTS: Readonly<Record<string, LiteralValue>> = { True: true, False: false, None: null };

/** Marker for `None` while a union is being read; only valid as a union member. */
const NONE = null;

class Parser {
  private pos = 0;
  private openBrackets = 0;
  constructor(
    private readonly text: string,
    private readonly tokens: readonly Token[],
  ) {}

  get peek(): Token {
    return this.tokens[this.pos] as Token;
  }

  next(): Token {
    const token = this.peek;
    if (token.kind !== 'eof') this.pos++;
    return token;
  }

  fail(token: Token, expected: string): never {
    if (token.error !== undefined) throw token.error;
    const found =
      token.kind === 'eof'
        ? 'end of signature'
        : token.kind === 'string'
          ? `the string ${formatLiteral(token.text)}`
          : `'${token.text}'`;
    throw new SignatureParseError(
      this.text,
      token.column,
      expected,
      `signature column ${token.column}: expected ${expected}, found ${found}`,
    );
  }

  expect(kind: TokenKind, expected: string): Token {
    if (this.peek.kind !== kind) this.fail(this.peek, expected);
    return this.next();
  }

  /** A type bracket was opened: bounds the recursion (`Union[Union[...]]` nests no type). */
  enter(bracket: Token): void {
    this.openBrackets++;
    if (this.openBrackets > MAX_TYPE_DEPTH)
      this.fail(bracket, `at most ${MAX_TYPE_DEPTH} nested type brackets`);
  }

  leave(): void {
    this.openBrackets--;
  }

  signature(): { inputs: FieldSpec[]; outputs: FieldSpec[] } {
    const seen = new Map<string, FieldSpec['role']>();
    const inputs = this.fields('input', 'arrow', seen);
    this.expect('arrow', "',' or '->'");
    const outputs = this.fields('output', 'eof', seen);
    return { inputs, outputs };
  }

  fields(role: FieldSpec['role'], end: TokenKind, seen: Map<string, FieldSpec['role']>): FieldSpec[] {
    const fields: FieldSpec[] = [];
    const after = end === 'arrow' ? "',' or '->'" : "',' or end of signature";
    while (this.peek.kind !== end) {
      const nameToken = this.peek;
      if (nameToken.kind !== 'ident') this.fail(nameToken, 'a field name');
      this.next();
      const problem = fieldNameProblem(nameToken.text);
      if (problem !== undefined) this.fail(nameToken, problem);
      const previous = seen.get(nameToken.text);
      if (previous !== undefined) {
        this.fail(nameToken, `a field name not already used (it is an ${previous} already)`);
      }
      if (seen.size >= MAX_SIGNATURE_FIELDS) this.fail(nameToken, `at most ${MAX_SIGNATURE_FIELDS} fields`);
      seen.set(nameToken.text, role);
      let type = STR;
      if (this.peek.kind === 'colon') {
        this.next();
        type = this.fieldType();
      }
      fields.push({ name: nameToken.text, role, type, typeText: formatType(type) });
      if (this.peek.kind === 'comma') this.next();
      else if (this.peek.kind !== end) this.fail(this.peek, after);
    }
    return fields;
  }

  /** A type that must not be a bare `None`, nested at most {@link MAX_TYPE_DEPTH} deep. */
  fieldType(): TypeNode {
    const start = this.peek;
    const type = this.union();
    if (type === NONE) this.fail(start, `${TYPE_EXPECTED} other than None`);
    if (typeDepth(type) > MAX_TYPE_DEPTH) this.fail(start, `a type nested at most ${MAX_TYPE_DEPTH} deep`);
    return type;
  }

  union(): TypeNode | null {
    const members = [this.postfix()];
    while (this.peek.kind === 'pipe') {
      this.next();
      members.push(this.postfix());
    }
    return members.length === 1 ? (members[0] ?? NONE) : makeUnion(members);
  }

  postfix(): TypeNode | null {
    const start = this.peek;
    let type = this.primary();
    let depth = type === NONE ? 0 : typeDepth(type);
    while (this.peek.kind === 'lbracket') {
      if (type === NONE) this.fail(start, TYPE_EXPECTED);
      const bracket = this.next();
      this.expect('rbracket', "']' (only 'T[]' may follow a complete type)");
      type = { kind: 'list', item: type };
      if (++depth > MAX_TYPE_DEPTH) this.fail(bracket, `a type nested at most ${MAX_TYPE_DEPTH} deep`);
    }
    return type;
  }

  primary(): TypeNode | null {
    const token = this.peek;
    if (token.kind !== 'ident') this.fail(token, TYPE_EXPECTED);
    this.next();
    // Own properties only: `constructor` or `toString` must not find Object.prototype's members.
    if (Object.hasOwn(SCALARS, token.text)) return SCALARS[token.text] as TypeNode;
    switch (token.text) {
      case 'None':
        return NONE;
      case 'list':
      case 'List': {
        if (!this.subscripted()) return { kind: 'list', item: ANY };
        const item = this.closeWith(this.fieldType(), 'list');
        this.leave();
        return { kind: 'list', item };
      }
      case 'dict':
      case 'Dict': {
        if (!this.subscripted()) return { kind: 'dict', value: ANY };
        const value = this.dictArgs();
        this.leave();
        return { kind: 'dict', value };
      }
      case 'Optional': {
        this.enter(this.expect('lbracket', "'[' after Optional"));
        const inner = this.closeWith(this.fieldType(), 'Optional');
        this.leave();
        return makeUnion([inner, NONE]);
      }
      case 'Union':
        return this.unionArgs();
      case 'Literal':
        return this.literalArgs();
      default:
        return this.fail(token, TYPE_EXPECTED);
    }
  }

  subscripted(): boolean {
    if (this.peek.kind !== 'lbracket') return false;
    // `list[]` is the TypeScript-style postfix on a bare `list`, which DSPy rejects too.
    if (this.tokens[this.pos + 1]?.kind === 'rbracket')
      this.fail(this.tokens[this.pos + 1] as Token, 'a type');
    this.enter(this.next());
    return true;
  }

  closeWith(type: TypeNode, what: string): TypeNode {
    this.expect('rbracket', `']' (${what} takes one type)`);
    return type;
  }

  dictArgs(): TypeNode {
    const keyToken = this.peek;
    const key = this.fieldType();
    if (key.kind !== 'str') this.fail(keyToken, 'str as the dict key type (JSON object keys are strings)');
    this.expect('comma', "',' and the dict value type");
    return this.closeWith(this.fieldType(), 'dict');
  }

  unionArgs(): TypeNode {
    this.enter(this.expect('lbracket', "'[' after Union"));
    const start = this.peek;
    const members = [this.union()];
    while (this.peek.kind === 'comma') {
      this.next();
      members.push(this.union());
    }
    this.expect('rbracket', "',' or ']'");
    this.leave();
    return makeUnion(members) ?? this.fail(start, `${TYPE_EXPECTED} other than None`);
  }

  literalArgs(): TypeNode {
    this.enter(this.expect('lbracket', "'[' after Literal"));
    const values: LiteralValue[] = [];
    for (;;) {
      const value = this.literalValue();
      // typing.Literal drops repeated values.
      if (!values.some((v) => v === value)) values.push(value);
      if (this.peek.kind !== 'comma') break;
      this.next();
    }
    this.expect('rbracket', "',' or ']'");
    this.leave();
    return { kind: 'literal', values };
  }

  literalValue(): LiteralValue {
    const token = this.next();
    if (token.kind === 'string') return token.text;
    if (token.kind === 'number') return Number(token.text);
    if (token.kind === 'ident' && Object.hasOwn(PYTHON_CONSTANTS, token.text))
      return PYTHON_CONSTANTS[token.text] ?? null;
    if (token.kind === 'minus') {
      return this.fail(token, 'a literal value (DSPy cannot parse negative numbers in Literal)');
    }
    return this.fail(token, 'a literal value (a quoted string, a number, True, False or None)');
  }
}

/**
 * Parses a signature string without the memo. Use {@link parseSignature}; this is exported for
 * benchmarks and for the memo itself.
 * @throws {SignatureParseError} with the 1-based column and what was expected there.
 */
export function parseSignatureUncached(text: string): ParsedSignature {
  checkLength(text);
  checkArrows(text);
  const { inputs, outputs } = new Parser(text, tokenize(text)).signature();
  return { text, inputs, outputs };
}

/**
 * Parses one type, e.g. `list[str]` or `number[]` (the object form's type strings).
 * @throws {SignatureParseError} with a column relative to `text`.
 */
export function parseTypeText(text: string): TypeNode {
  checkLength(text);
  const parser = new Parser(text, tokenize(text));
  const type = parser.fieldType();
  parser.expect('eof', "'|' or end of type");
  return type;
}

function checkLength(text: string): void {
  if (text.length > MAX_SIGNATURE_LENGTH) {
    throw new SignatureParseError(
      text,
      MAX_SIGNATURE_LENGTH + 1,
      `at most ${MAX_SIGNATURE_LENGTH} characters`,
      `signature: expected at most ${MAX_SIGNATURE_LENGTH} characters, found ${text.length}`,
    );
  }
}

/** DSPy splits on '->' before anything else, so a second one anywhere (even in a string) is an error. */
function checkArrows(text: string): void {
  const first = text.indexOf('->');
  if (first === -1) {
    throw new SignatureParseError(
      text,
      text.length + 1,
      "'->' between inputs and outputs",
      `signature column ${text.length + 1}: expected '->' between inputs and outputs, found end of signature`,
    );
  }
  const second = text.indexOf('->', first + 2);
  if (second !== -1) {
    throw new SignatureParseError(
      text,
      second + 1,
      "exactly one '->'",
      `signature column ${second + 1}: expected exactly one '->', found a second one`,
    );
  }
}
