/**
 * The parsed form of a signature: field specs and the tagged union of field types, plus the one
 * canonical spelling of each type (`typeText`) shared with the Python parity fixtures.
 */

/** A value allowed inside `Literal[...]`. */
export type LiteralValue = string | number | boolean | null;

/**
 * The type of a signature field. Dict keys are always strings (JSON object keys), so `dict` only
 * carries its value type.
 */
export type TypeNode =
  | { readonly kind: 'str' }
  | { readonly kind: 'int' }
  | { readonly kind: 'float' }
  | { readonly kind: 'bool' }
  | { readonly kind: 'any' }
  | { readonly kind: 'list'; readonly item: TypeNode }
  | { readonly kind: 'dict'; readonly value: TypeNode }
  | { readonly kind: 'optional'; readonly inner: TypeNode }
  | { readonly kind: 'literal'; readonly values: readonly LiteralValue[] }
  | { readonly kind: 'union'; readonly members: readonly TypeNode[] };

export type TypeKind = TypeNode['kind'];

/** One field of a signature. */
export interface FieldSpec {
  readonly name: string;
  readonly role: 'input' | 'output';
  readonly type: TypeNode;
  /** Canonical Python spelling of `type`, e.g. `list[str]`, `Optional[int]`, `Literal['a', 'b']`. */
  readonly typeText: string;
  readonly description?: string;
}

/** The result of parsing a signature string. */
export interface ParsedSignature {
  /** The source text as given. */
  readonly text: string;
  readonly instructions?: string;
  readonly inputs: readonly FieldSpec[];
  readonly outputs: readonly FieldSpec[];
}

/**
 * Limits of the signature grammar, equal on both sides of the wire (the Python worker's
 * `signature_types.py` holds the same numbers; docs/security.md lists them).
 */
/** Longest signature or type text, in UTF-16 code units (`text.length`). */
export const MAX_SIGNATURE_LENGTH = 4096;
/** Most fields of one signature, inputs and outputs together. */
export const MAX_SIGNATURE_FIELDS = 64;
/** Deepest type (`list[list[int]]` is 3 deep), and most type brackets open at once. */
export const MAX_TYPE_DEPTH = 10;

export const STR: TypeNode = { kind: 'str' };
export const INT: TypeNode = { kind: 'int' };
export const FLOAT: TypeNode = { kind: 'float' };
export const BOOL: TypeNode = { kind: 'bool' };
export const ANY: TypeNode = { kind: 'any' };

/** Python keywords: `def f(class)` is a syntax error, so DSPy rejects them as field names. */
export const PYTHON_KEYWORDS = [
  'False',
  'None',
  'True',
  'and',
  'as',
  'assert',
  'async',
  'await',
  'break',
  'class',
  'continue',
  'def',
  'del',
  'elif',
  'else',
  'except',
  'finally',
  'for',
  'from',
  'global',
  'if',
  'import',
  'in',
  'is',
  'lambda',
  'nonlocal',
  'not',
  'or',
  'pass',
  'raise',
  'return',
  'try',
  'while',
  'with',
  'yield',
] as const;

/**
 * Names that clash with members of DSPy's `Signature` class or pydantic's `BaseModel`: dspy 3.4.1
 * raises on each of them (found by trying every public member name).
 */
export const RESERVED_FIELD_NAMES = [
  'fields',
  'input_fields',
  'instructions',
  'model_config',
  'model_dump',
  'model_dump_json',
  'model_validate',
  'model_validate_json',
  'model_validate_strings',
  'output_fields',
  'signature',
] as const;

const keywordSet: ReadonlySet<string> = new Set(PYTHON_KEYWORDS);
const reservedSet: ReadonlySet<string> = new Set(RESERVED_FIELD_NAMES);

/** Why `name` cannot be a field name, or `undefined` when it can. */
export function fieldNameProblem(name: string): string | undefined {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return 'an ASCII identifier';
  // pydantic treats leading-underscore attributes as private and refuses them as fields.
  if (name.startsWith('_')) return 'a field name not starting with an underscore';
  if (keywordSet.has(name)) return `a field name that is not a Python keyword ('${name}')`;
  if (reservedSet.has(name)) return `a field name DSPy does not reserve ('${name}')`;
  return undefined;
}

/** Builds a union the way Python's `typing` does: flattened, deduplicated, `None` as `Optional`. */
export function makeUnion(members: readonly (TypeNode | null)[]): TypeNode | null {
  const flat: TypeNode[] = [];
  const seen = new Set<string>();
  let hasNone = false;
  const add = (node: TypeNode | null): void => {
    if (node === null) {
      hasNone = true;
      return;
    }
    if (node.kind === 'union') return node.members.forEach(add);
    if (node.kind === 'optional') {
      hasNone = true;
      return add(node.inner);
    }
    const key = formatType(node);
    if (!seen.has(key)) {
      seen.add(key);
      flat.push(node);
    }
  };
  members.forEach(add);
  const [first] = flat;
  if (first === undefined) return null;
  const core: TypeNode = flat.length === 1 ? first : { kind: 'union', members: flat };
  return hasNone ? { kind: 'optional', inner: core } : core;
}

/** How deep a type nests: 1 for a scalar or a Literal, one more per list, dict or Optional around it. */
export function typeDepth(node: TypeNode): number {
  switch (node.kind) {
    case 'list':
      return 1 + typeDepth(node.item);
    case 'dict':
      return 1 + typeDepth(node.value);
    case 'optional':
      return 1 + typeDepth(node.inner);
    case 'union':
      return Math.max(...node.members.map(typeDepth));
    case 'str':
    case 'int':
    case 'float':
    case 'bool':
    case 'any':
    case 'literal':
      return 1;
    default:
      return assertNever(node);
  }
}

/** The canonical Python spelling of a type (what `toString()` emits and the fixtures record). */
export function formatType(node: TypeNode): string {
  switch (node.kind) {
    case 'str':
    case 'int':
    case 'float':
    case 'bool':
      return node.kind;
    case 'any':
      return 'Any';
    case 'list':
      return `list[${formatType(node.item)}]`;
    case 'dict':
      return `dict[str, ${formatType(node.value)}]`;
    case 'optional':
      return `Optional[${formatType(node.inner)}]`;
    case 'literal':
      return `Literal[${node.values.map(formatLiteral).join(', ')}]`;
    case 'union':
      return `Union[${node.members.map(formatType).join(', ')}]`;
    default:
      return assertNever(node);
  }
}

/** A literal value as Python's `repr` writes it. */
export function formatLiteral(value: LiteralValue): string {
  if (value === null) return 'None';
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (typeof value === 'number') return String(value);
  const quote = value.includes("'") && !value.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of value) {
    if (ch === '\\') out += '\\\\';
    else if (ch === quote) out += `\\${quote}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else out += ch;
  }
  return out + quote;
}

export function assertNever(value: never): never {
  throw new Error(`unexpected value: ${JSON.stringify(value)}`);
}
