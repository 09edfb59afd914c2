/**
 * The canonical spelling of types and signatures: what `toString()` prints, what the node sends to
 * workers, what the parity fixtures record. The Python worker's `signature_types.py` prints the
 * same text for the same tree, and both parsers read it back to the same tree (the round-trip
 * property in test/unit/signature/roundtrip.test.ts and python/tests/test_signature_roundtrip.py).
 */
import {
  assertNever,
  type FieldSpec,
  type LiteralValue,
  type ParsedSignature,
  type TypeNode,
} from './types.js';

/** The canonical Python spelling of a type. */
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
    case 'set':
      return `set[${formatType(node.item)}]`;
    case 'tuple':
      return node.variadic
        ? `tuple[${formatType(node.items[0] as TypeNode)}, ...]`
        : `tuple[${node.items.map(formatType).join(', ')}]`;
    case 'dict':
      return `dict[str, ${formatType(node.value)}]`;
    case 'optional':
      return `Optional[${formatType(node.inner)}]`;
    case 'literal':
      return `Literal[${node.values.map(formatLiteral).join(', ')}]`;
    case 'union':
      return `Union[${node.members.map(formatType).join(', ')}]`;
    case 'dspy':
      return node.language === undefined
        ? `dspy.${node.name}`
        : `dspy.${node.name}[${formatLiteral(node.language)}]`;
    default:
      return assertNever(node);
  }
}

/**
 * A number as both parsers read it back to the same value: a safe integer in decimal, a larger
 * whole number in exponent form (`1e+21`, so it reads back as a float, not a huge integer), any
 * other number as JavaScript's `String(n)` writes it (`0.5`, `1e-7`).
 */
export function formatNumber(n: number): string {
  if (Number.isSafeInteger(n)) return String(n);
  if (Number.isInteger(n)) return n.toExponential();
  return String(n);
}

const hex2 = (cp: number): string => `\\x${cp.toString(16).padStart(2, '0')}`;

/**
 * A literal value in Python syntax. Strings take Python's quote choice (`'` unless the text has a
 * `'` and no `"`); backslash, the quote, `\n` `\r` `\t`, every other C0 and C1 control character
 * and DEL (`\x00`, `\x7f`, `\x85`) and U+2028/U+2029 are escaped, so the text is printable and one
 * line, and a `>` after a `-` is `\x3e` (a signature has exactly one `->`, strings included).
 * Nothing else depends on the Unicode database, so both languages print the same text.
 */
export function formatLiteral(value: LiteralValue): string {
  if (value === null) return 'None';
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (typeof value === 'number') return formatNumber(value);
  const quote = value.includes("'") && !value.includes('"') ? '"' : "'";
  let out = quote;
  let previous = '';
  for (const ch of value) {
    const cp = ch.codePointAt(0) as number;
    const after = previous;
    previous = ch;
    if (ch === '>' && after === '-') out += '\\x3e';
    else if (ch === '\\') out += '\\\\';
    else if (ch === quote) out += `\\${quote}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) out += hex2(cp);
    else if (cp === 0x2028 || cp === 0x2029) out += `\\u${cp.toString(16)}`;
    else out += ch;
  }
  return out + quote;
}

/** `name` for a `str` field (untyped means str to DSPy), else `name: <type>`. */
function formatFields(fields: readonly FieldSpec[]): string {
  return fields.map((f) => (f.type.kind === 'str' ? f.name : `${f.name}: ${formatType(f.type)}`)).join(', ');
}

/** The canonical text of a signature: `a, b: int -> c: list[str]`. */
export function formatSignature(sig: Pick<ParsedSignature, 'inputs' | 'outputs'>): string {
  return [formatFields(sig.inputs), '->', formatFields(sig.outputs)].filter((s) => s !== '').join(' ');
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
