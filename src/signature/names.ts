/**
 * Identifiers of the signature grammar, exactly as Python reads them: ASCII letters, digits and `_`,
 * plus the non-ASCII characters Python 3.11 allows in identifiers (`identifier-table.ts`). Python
 * reads an identifier in its NFKC form (`ﬁeld` is `field`); the grammar refuses an identifier that
 * NFKC changes instead of renaming it, so the field a caller sends inputs for is the one it wrote.
 */
import { XID_CONTINUE, XID_START } from './identifier-table.js';

function decode(lines: readonly string[]): Uint32Array {
  const bounds: number[] = [];
  let previous = 0x7f;
  for (const line of lines) {
    for (const entry of line.split(' ')) {
      const [gap, length] = entry.split('.');
      const lo = previous + 1 + parseInt(gap ?? '', 36);
      previous = lo + parseInt(length ?? '', 36);
      bounds.push(lo, previous);
    }
  }
  return Uint32Array.from(bounds);
}

let tables: { start: Uint32Array; cont: Uint32Array } | undefined;

function inRanges(bounds: Uint32Array, cp: number): boolean {
  let lo = 0;
  let hi = bounds.length / 2 - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (cp < (bounds[2 * mid] as number)) hi = mid - 1;
    else if (cp > (bounds[2 * mid + 1] as number)) lo = mid + 1;
    else return true;
  }
  return false;
}

const isAsciiStart = (cp: number): boolean => (cp >= 65 && cp <= 90) || (cp >= 97 && cp <= 122) || cp === 95; // A-Z a-z _
export const isDigit = (cp: number): boolean => cp >= 48 && cp <= 57;

/** Whether code point `cp` may begin an identifier (Python's `isidentifier()` rule). */
export function isIdentStart(cp: number): boolean {
  if (cp < 0x80) return isAsciiStart(cp);
  tables ??= { start: decode(XID_START), cont: decode(XID_CONTINUE) };
  return inRanges(tables.start, cp);
}

/** Whether code point `cp` may continue an identifier. */
export function isIdentContinue(cp: number): boolean {
  if (cp < 0x80) return isAsciiStart(cp) || isDigit(cp);
  tables ??= { start: decode(XID_START), cont: decode(XID_CONTINUE) };
  return inRanges(tables.cont, cp);
}

/** Python keywords (not the soft ones): `def f(class)` is a syntax error, so DSPy rejects them as names. */
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

const ASCII_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const keywordSet: ReadonlySet<string> = new Set(PYTHON_KEYWORDS);
const reservedSet: ReadonlySet<string> = new Set(RESERVED_FIELD_NAMES);

/** What an identifier that NFKC changes should be written as, or `undefined` when it is in NFKC form. */
export function nfkcProblem(name: string): string | undefined {
  if (ASCII_IDENTIFIER.test(name)) return undefined; // ASCII text is its own NFKC form
  const normal = name.normalize('NFKC');
  if (normal === name) return undefined;
  return `an identifier in NFKC form (Python reads '${name}' as '${normal}'; write '${normal}')`;
}

/** Whether `name` is one identifier token (Python's rule; NFKC form not checked). */
export function isIdentifier(name: string): boolean {
  if (ASCII_IDENTIFIER.test(name)) return true;
  let first = true;
  for (const ch of name) {
    const cp = ch.codePointAt(0) as number;
    if (!(first ? isIdentStart(cp) : isIdentContinue(cp))) return false;
    first = false;
  }
  return !first;
}

/** Why `name` cannot be a field name (what was expected instead), or `undefined` when it can. */
export function fieldNameProblem(name: string): string | undefined {
  if (!isIdentifier(name)) return 'an identifier';
  const nfkc = nfkcProblem(name);
  if (nfkc !== undefined) return nfkc;
  // pydantic treats leading-underscore attributes as private and refuses them as fields.
  if (name.startsWith('_')) return 'a field name not starting with an underscore';
  if (keywordSet.has(name)) return `a field name that is not a Python keyword ('${name}')`;
  if (reservedSet.has(name)) return `a field name DSPy does not reserve ('${name}')`;
  return undefined;
}
