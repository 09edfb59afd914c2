/**
 * The parsed form of a signature: field specs and the tagged union of field types, the grammar's
 * limits, and how unions are built. The canonical spelling of a type is in `format.ts`.
 */

/**
 * A value allowed inside `Literal[...]`: a JSON value. A number is an integer when it is a safe
 * integer (`2.0` is `2`, as in JSON), else a float.
 */
export type LiteralValue = string | number | boolean | null;

/** DSPy's own types a signature may name as `dspy.<Name>` (docs/signatures.md gives their wire forms). */
export const DSPY_TYPES = [
  'Image',
  'Audio',
  'File',
  'History',
  'Tool',
  'ToolCalls',
  'Code',
  'Reasoning',
] as const;
export type DspyTypeName = (typeof DSPY_TYPES)[number];

/**
 * The type of a signature field. Dict keys are always strings (JSON object keys), so `dict` only
 * carries its value type. A `tuple` is fixed-length (`tuple[int, str]`) or, when `variadic`, any
 * length of its one item type (`tuple[int, ...]`); tuples and sets travel as JSON arrays.
 */
export type TypeNode =
  | { readonly kind: 'str' }
  | { readonly kind: 'int' }
  | { readonly kind: 'float' }
  | { readonly kind: 'bool' }
  | { readonly kind: 'any' }
  | { readonly kind: 'list'; readonly item: TypeNode }
  | { readonly kind: 'set'; readonly item: TypeNode }
  | { readonly kind: 'tuple'; readonly items: readonly TypeNode[]; readonly variadic: boolean }
  | { readonly kind: 'dict'; readonly value: TypeNode }
  | { readonly kind: 'optional'; readonly inner: TypeNode }
  | { readonly kind: 'literal'; readonly values: readonly LiteralValue[] }
  | { readonly kind: 'union'; readonly members: readonly TypeNode[] }
  /** `dspy.Image`, …; `language` only for `dspy.Code['<language>']`. */
  | { readonly kind: 'dspy'; readonly name: DspyTypeName; readonly language?: string };

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
 * `signature_types.py` holds the same numbers; docs/signatures.md lists them).
 */
/** Longest signature or type text, in UTF-16 code units (`text.length`). */
export const MAX_SIGNATURE_LENGTH = 4096;
/** Most fields of one signature, inputs and outputs together. */
export const MAX_SIGNATURE_FIELDS = 64;
/** Deepest type (`list[list[int]]` is 3 deep), and most type brackets open at once. */
export const MAX_TYPE_DEPTH = 10;
/** Largest integer magnitude in `Literal[...]`: what a JSON (IEEE double) number holds exactly. */
export const MAX_SAFE_LITERAL = Number.MAX_SAFE_INTEGER;

export const STR: TypeNode = { kind: 'str' };
export const INT: TypeNode = { kind: 'int' };
export const FLOAT: TypeNode = { kind: 'float' };
export const BOOL: TypeNode = { kind: 'bool' };
export const ANY: TypeNode = { kind: 'any' };

/**
 * How deep a type nests: 1 for a scalar, a Literal or a DSPy type, one more per list, set, tuple,
 * dict or Optional around it.
 */
export function typeDepth(node: TypeNode): number {
  switch (node.kind) {
    case 'list':
    case 'set':
      return 1 + typeDepth(node.item);
    case 'tuple':
      return 1 + Math.max(0, ...node.items.map(typeDepth));
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
    case 'dspy':
      return 1;
    default:
      return assertNever(node);
  }
}

/** Whether `node` is or contains the DSPy type `name` (any DSPy type when `name` is undefined). */
export function containsDspy(node: TypeNode, name?: DspyTypeName): boolean {
  switch (node.kind) {
    case 'dspy':
      return name === undefined || node.name === name;
    case 'list':
    case 'set':
      return containsDspy(node.item, name);
    case 'tuple':
      return node.items.some((t) => containsDspy(t, name));
    case 'dict':
      return containsDspy(node.value, name);
    case 'optional':
      return containsDspy(node.inner, name);
    case 'union':
      return node.members.some((t) => containsDspy(t, name));
    case 'str':
    case 'int':
    case 'float':
    case 'bool':
    case 'any':
    case 'literal':
      return false;
    default:
      return assertNever(node);
  }
}

export function assertNever(value: never): never {
  throw new Error(`unexpected value: ${JSON.stringify(value)}`);
}
