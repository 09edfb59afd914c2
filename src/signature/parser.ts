/**
 * Recursive-descent parser for signature strings: the grammar of docs/signatures.md (EBNF there),
 * implemented line for line by the Python worker (`python/dspex_worker/signature_grammar.py`).
 *
 * It accepts what dspy 3.4.1 accepts for these types, plus a few spellings DSPy refuses and the
 * grammar documents as extensions (`string`, `number`, `boolean`, `any`, `T[]`, bare `List`, `Dict`,
 * `Set`, `Tuple`). What DSPy accepts but the grammar refuses on purpose fails with a
 * {@link Refusal} code in the error. Nothing is looked up by name: the only names are the words of
 * the grammar, `dspy.<Type>` and `typing.<word>`.
 */
import { SignatureParseError } from '../errors.js';
import { formatLiteral, formatType, makeUnion } from './format.js';
import { numberValue } from './literals.js';
import { fieldNameProblem, nfkcProblem } from './names.js';
import { Refusal } from './refusals.js';
import {
  CODE_LANGUAGE,
  PYTHON_CONSTANTS,
  SCALARS,
  TYPE_EXPECTED,
  TYPING_WORDS,
  checkArrows,
  checkLength,
  hashable,
  placementProblem,
} from './rules.js';
import { tokenize, type Token, type TokenKind } from './tokenizer.js';
import {
  ANY,
  DSPY_TYPES,
  MAX_SIGNATURE_FIELDS,
  MAX_TYPE_DEPTH,
  STR,
  assertNever,
  containsDspy,
  typeDepth,
  type DspyTypeName,
  type FieldSpec,
  type LiteralValue,
  type ParsedSignature,
  type TypeNode,
} from './types.js';

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

  fail(token: Token, expected: string, refusal?: string): never {
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
      refusal,
    );
  }

  expect(kind: TokenKind, expected: string): Token {
    if (this.peek.kind !== kind) this.fail(this.peek, expected);
    return this.next();
  }

  /** A bracket or parenthesis was opened: bounds the recursion (`Union[Union[...]]` nests no type). */
  enter(bracket: Token): void {
    this.openBrackets++;
    if (this.openBrackets > MAX_TYPE_DEPTH)
      this.fail(bracket, `at most ${MAX_TYPE_DEPTH} nested type brackets`, Refusal.Limit);
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
    let historySeen = false;
    while (this.peek.kind !== end) {
      const nameToken = this.peek;
      if (nameToken.kind === 'star' || nameToken.kind === 'slash') {
        this.fail(nameToken, 'a field name (no *args, **kwargs, * or / marker)', Refusal.StarParameter);
      }
      if (nameToken.kind !== 'ident') this.fail(nameToken, 'a field name');
      this.next();
      const problem = fieldNameProblem(nameToken.text);
      if (problem !== undefined) {
        this.fail(nameToken, problem, nfkcProblem(nameToken.text) === problem ? Refusal.NotNfkc : undefined);
      }
      const previous = seen.get(nameToken.text);
      if (previous !== undefined) {
        this.fail(
          nameToken,
          `a field name not already used (it is an ${previous} already)`,
          Refusal.DuplicateField,
        );
      }
      if (seen.size >= MAX_SIGNATURE_FIELDS)
        this.fail(nameToken, `at most ${MAX_SIGNATURE_FIELDS} fields`, Refusal.Limit);
      seen.set(nameToken.text, role);
      let type = STR;
      if (this.peek.kind === 'colon') {
        this.next();
        const start = this.peek;
        type = this.fieldType();
        const misplaced = placementProblem(type, role, historySeen);
        if (misplaced !== undefined) this.fail(start, misplaced, Refusal.DspyPlacement);
        historySeen ||= containsDspy(type, 'History');
      }
      if (this.peek.kind === 'equals') {
        this.fail(this.peek, `${after} (no default values: DSPy ignores them)`, Refusal.DefaultValue);
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
    if (type === NONE) this.fail(start, `${TYPE_EXPECTED} other than None`, Refusal.NoneType);
    if (typeDepth(type) > MAX_TYPE_DEPTH)
      this.fail(start, `a type nested at most ${MAX_TYPE_DEPTH} deep`, Refusal.Limit);
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
      if (++depth > MAX_TYPE_DEPTH)
        this.fail(bracket, `a type nested at most ${MAX_TYPE_DEPTH} deep`, Refusal.Limit);
    }
    return type;
  }

  primary(): TypeNode | null {
    const token = this.peek;
    if (token.kind === 'lparen') return this.parenthesised();
    if (token.kind === 'string') {
      this.fail(token, `${TYPE_EXPECTED}, not a quoted name (a forward reference)`, Refusal.ForwardReference);
    }
    if (token.kind !== 'ident') this.fail(token, TYPE_EXPECTED);
    this.next();
    if (this.peek.kind === 'dot') return this.dotted(token);
    return this.word(token, token.text);
  }

  /** `(T)` is `T`; `()` and `(T, U)` are tuples, which are no types. */
  parenthesised(): TypeNode | null {
    const open = this.next();
    if (this.peek.kind === 'rparen') {
      this.fail(this.peek, `${TYPE_EXPECTED} inside the parentheses`, Refusal.TypeArguments);
    }
    this.enter(open);
    const inner = this.union();
    if (this.peek.kind === 'comma') {
      this.fail(this.peek, "')' (a parenthesised tuple is not a type: write X[a, b])", Refusal.TypeArguments);
    }
    this.expect('rparen', "')'");
    this.leave();
    return inner;
  }

  /** `dspy.<Type>` or `typing.<word>`; any other dotted path is refused. */
  dotted(first: Token): TypeNode | null {
    const parts = [first.text];
    while (this.peek.kind === 'dot') {
      this.next();
      const part = this.peek;
      if (part.kind !== 'ident') this.fail(part, 'a name after the dot');
      this.next();
      parts.push(part.text);
    }
    const [head, name] = parts;
    if (parts.length === 2 && head === 'typing' && name !== undefined && TYPING_WORDS.has(name)) {
      return this.word(first, name);
    }
    if (parts.length === 2 && head === 'dspy') {
      if ((DSPY_TYPES as readonly string[]).includes(name ?? '')) return this.dspyType(name as DspyTypeName);
      this.fail(first, `one of the DSPy types dspy.${DSPY_TYPES.join(', dspy.')}`, Refusal.DspyType);
    }
    return this.fail(
      first,
      `${TYPE_EXPECTED}; of dotted names only dspy.<Type> and typing.<name>`,
      Refusal.DottedName,
    );
  }

  dspyType(name: DspyTypeName): TypeNode {
    if (name !== 'Code' || this.peek.kind !== 'lbracket') return { kind: 'dspy', name };
    this.enter(this.next());
    const language = this.peek;
    if (language.kind !== 'string' || language.prefix !== '') {
      this.fail(language, "the language as a quoted string, e.g. dspy.Code['python']");
    }
    this.next();
    if (!CODE_LANGUAGE.test(language.text)) {
      this.fail(language, 'a language of 1-32 letters, digits, _ + # . or -', Refusal.CodeLanguage);
    }
    this.closeArgs('dspy.Code takes one language');
    return { kind: 'dspy', name, language: language.text };
  }

  /** A grammar word (`token` is where it starts, for errors). */
  word(token: Token, name: string): TypeNode | null {
    // Own properties only: `constructor` or `toString` must not find Object.prototype's members.
    if (Object.hasOwn(SCALARS, name)) return SCALARS[name] as TypeNode;
    switch (name) {
      case 'None':
        return NONE;
      case 'list':
      case 'List':
        return { kind: 'list', item: this.oneArg('list') ?? ANY };
      case 'set':
      case 'Set':
        return this.setArgs();
      case 'dict':
      case 'Dict':
        return this.dictArgs();
      case 'tuple':
      case 'Tuple':
        return this.tupleArgs();
      case 'Optional': {
        if (this.peek.kind !== 'lbracket') this.fail(this.peek, "'[' after Optional");
        const inner = this.oneArg('Optional') as TypeNode;
        return makeUnion([inner, NONE]);
      }
      case 'Union':
        return this.unionArgs();
      case 'Literal':
        return this.literalArgs();
      case 'NoneType':
        return this.fail(token, `${TYPE_EXPECTED} other than NoneType`, Refusal.NoneType);
      default: {
        const nfkc = nfkcProblem(name);
        if (nfkc !== undefined) return this.fail(token, nfkc, Refusal.NotNfkc);
        return this.fail(token, TYPE_EXPECTED, Refusal.UnknownType);
      }
    }
  }

  /** `[` if present; `list[]` (the TypeScript postfix on a bare `list`) is refused, as by DSPy. */
  openArgs(): boolean {
    if (this.peek.kind !== 'lbracket') return false;
    const following = this.tokens[this.pos + 1];
    if (following?.kind === 'rbracket') this.fail(following, 'a type');
    this.enter(this.next());
    return true;
  }

  /** After the last argument: an optional trailing comma, then `]`. */
  closeArgs(what: string): void {
    if (this.peek.kind === 'comma' && this.tokens[this.pos + 1]?.kind === 'rbracket') this.next();
    if (this.peek.kind === 'comma') this.fail(this.peek, `']' (${what})`, Refusal.TypeArguments);
    this.expect('rbracket', `']' (${what})`);
    this.leave();
  }

  /** `[T]` for list, set and Optional; undefined when no bracket follows. */
  oneArg(what: string): TypeNode | undefined {
    if (!this.openArgs()) return undefined;
    const item = this.fieldType();
    this.closeArgs(`${what} takes one type`);
    return item;
  }

  setArgs(): TypeNode {
    if (!this.openArgs()) return { kind: 'set', item: ANY };
    const start = this.peek;
    const item = this.fieldType();
    if (!hashable(item)) {
      this.fail(
        start,
        'a set item type whose values can be set members (not a list, dict, set or DSPy type)',
        Refusal.SetItem,
      );
    }
    this.closeArgs('set takes one type');
    return { kind: 'set', item };
  }

  dictArgs(): TypeNode {
    if (!this.openArgs()) return { kind: 'dict', value: ANY };
    const keyToken = this.peek;
    const key = this.fieldType();
    if (key.kind !== 'str') {
      this.fail(keyToken, 'str as the dict key type (JSON object keys are strings)', Refusal.DictKey);
    }
    if (this.peek.kind !== 'comma')
      this.fail(this.peek, "',' and the dict value type", Refusal.TypeArguments);
    this.next();
    const value = this.fieldType();
    this.closeArgs('dict takes a key and a value type');
    return { kind: 'dict', value };
  }

  tupleArgs(): TypeNode {
    if (!this.openArgs()) return { kind: 'tuple', items: [ANY], variadic: true };
    const items = [this.fieldType()];
    if (this.peek.kind === 'comma' && this.tokens[this.pos + 1]?.kind === 'ellipsis') {
      this.next();
      this.next();
      this.closeArgs('tuple[T, ...] takes one type before the ...');
      return { kind: 'tuple', items, variadic: true };
    }
    while (this.peek.kind === 'comma' && this.tokens[this.pos + 1]?.kind !== 'rbracket') {
      this.next();
      items.push(this.fieldType());
    }
    this.closeArgs("',' or ']'");
    return { kind: 'tuple', items, variadic: false };
  }

  unionArgs(): TypeNode {
    this.enter(this.expect('lbracket', "'[' after Union"));
    const start = this.peek;
    const members = [this.union()];
    while (this.peek.kind === 'comma' && this.tokens[this.pos + 1]?.kind !== 'rbracket') {
      this.next();
      members.push(this.union());
    }
    this.closeArgs("',' or ']'");
    return makeUnion(members) ?? this.fail(start, `${TYPE_EXPECTED} other than None`, Refusal.NoneType);
  }

  literalArgs(): TypeNode {
    this.enter(this.expect('lbracket', "'[' after Literal"));
    const values: LiteralValue[] = [];
    for (;;) {
      const value = this.literalValue();
      // typing.Literal drops repeated values.
      if (!values.some((v) => v === value)) values.push(value);
      if (this.peek.kind !== 'comma' || this.tokens[this.pos + 1]?.kind === 'rbracket') break;
      this.next();
    }
    this.closeArgs("',' or ']'");
    return { kind: 'literal', values };
  }

  literalValue(): LiteralValue {
    const token = this.next();
    switch (token.kind) {
      case 'string':
        return this.strings(token);
      case 'number': {
        const n = numberValue(token.text);
        return n.ok ? n.value : this.fail(token, n.expected, n.refusal);
      }
      case 'lparen': {
        this.enter(token);
        const value = this.literalValue();
        if (this.peek.kind === 'comma') {
          this.fail(this.peek, "')' (a parenthesised tuple: write Literal[a, b])", Refusal.TypeArguments);
        }
        this.expect('rparen', "')'");
        this.leave();
        return value;
      }
      case 'ellipsis':
        return this.fail(token, 'a literal value JSON can hold (not ...)', Refusal.NotJson);
      case 'minus':
      case 'plus':
        return this.fail(token, 'a literal value (DSPy cannot parse signed numbers in Literal)');
      case 'ident':
        if (Object.hasOwn(PYTHON_CONSTANTS, token.text)) return PYTHON_CONSTANTS[token.text] ?? null;
        return this.fail(
          token,
          'a literal value (a quoted string, a number, True, False or None), not a type',
          Refusal.LiteralValue,
        );
      case 'arrow':
      case 'colon':
      case 'comma':
      case 'dot':
      case 'eof':
      case 'equals':
      case 'error':
      case 'lbracket':
      case 'pipe':
      case 'rbracket':
      case 'rparen':
      case 'slash':
      case 'star':
        return this.fail(token, 'a literal value (a quoted string, a number, True, False or None)');
      default:
        return assertNever(token.kind);
    }
  }

  /** Adjacent string literals are one value, as in Python (`'a' 'b'` is `'ab'`). */
  strings(first: Token): string {
    let value = '';
    for (let token: Token | undefined = first; token !== undefined;) {
      const prefix = token.prefix ?? '';
      if (prefix.includes('b')) this.fail(token, 'a text string (JSON has no bytes)', Refusal.NotJson);
      if (prefix.includes('f')) this.fail(token, 'a literal value (an f-string is an expression)');
      value += token.text;
      token = this.peek.kind === 'string' ? this.next() : undefined;
    }
    return value;
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
