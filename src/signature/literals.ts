/**
 * Python string and number literals, as `Literal[...]` holds them: the string prefixes `u` `r`
 * (and `b` `f`, read so that the parser can refuse them by name), single and triple quotes, every
 * escape Python decodes except `\N{...}`, and the number forms `1_000`, `0x1f`, `0o7`, `0b1`,
 * `1.`, `.5`, `1e-7` (and `1j`, refused by the parser). Columns are 1-based UTF-16 offsets.
 */
import { SignatureParseError } from '../errors.js';
import { isIdentContinue } from './names.js';
import { Refusal } from './refusals.js';

/** A string literal as read: its decoded value, prefix (lower case) and where it ended. */
export interface StringLiteral {
  value: string;
  prefix: string;
  end: number;
}

const SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  '\\': '\\',
  "'": "'",
  '"': '"',
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
};

const isHex = (c: string): boolean => /^[0-9a-fA-F]$/.test(c);
const isOctal = (c: string): boolean => c >= '0' && c <= '7';

/** Length of the line break at `i` (`\r\n` is one), or 0. */
export function lineBreakAt(text: string, i: number): number {
  if (text[i] === '\n') return 1;
  if (text[i] === '\r') return text[i + 1] === '\n' ? 2 : 1;
  return 0;
}

/** A lone UTF-16 surrogate at `i` (JSON text and Python source cannot hold one). */
export function isLoneSurrogate(text: string, i: number): boolean {
  const c = text.charCodeAt(i);
  if (c >= 0xd800 && c <= 0xdbff) {
    const next = text.charCodeAt(i + 1);
    return !(next >= 0xdc00 && next <= 0xdfff);
  }
  return c >= 0xdc00 && c <= 0xdfff;
}

function fail(text: string, i: number, expected: string, refusal?: string, message?: string): never {
  throw new SignatureParseError(
    text,
    i + 1,
    expected,
    message ?? `signature column ${i + 1}: expected ${expected}`,
    refusal,
  );
}

/** Checks a character inside a string literal: no NUL (Python source cannot hold one), no lone surrogate. */
function checkChar(text: string, i: number): void {
  if (text.charCodeAt(i) === 0) fail(text, i, 'no NUL character in the text (write \\x00 in a string)');
  if (isLoneSurrogate(text, i)) fail(text, i, 'no lone UTF-16 surrogate', Refusal.NotJson);
}

/**
 * Reads the string literal whose prefix starts at `start` and whose opening quote is at `quoteAt`
 * (`start === quoteAt` without a prefix). Python joins `\r\n` and `\r` into `\n` inside triple-quoted
 * strings and drops a backslash-newline in a non-raw string.
 */
export function readString(text: string, start: number, quoteAt: number): StringLiteral {
  const prefix = text.slice(start, quoteAt).toLowerCase();
  const raw = prefix.includes('r');
  const q = text[quoteAt] as string;
  const triple = text.startsWith(q.repeat(3), quoteAt);
  let i = quoteAt + (triple ? 3 : 1);
  let value = '';
  const unterminated = (): never =>
    fail(text, start, `a closing ${triple ? q.repeat(3) : q} for this string`);
  for (;;) {
    if (i >= text.length) return unterminated();
    const ch = text[i] as string;
    if (triple ? text.startsWith(q.repeat(3), i) : ch === q) {
      return { value, prefix, end: i + (triple ? 3 : 1) };
    }
    const nl = lineBreakAt(text, i);
    if (nl > 0) {
      if (!triple) return unterminated();
      value += '\n';
      i += nl;
      continue;
    }
    checkChar(text, i);
    if (ch !== '\\') {
      // A surrogate pair is one character.
      const width = (text.codePointAt(i) as number) > 0xffff ? 2 : 1;
      value += text.slice(i, i + width);
      i += width;
      continue;
    }
    if (i + 1 >= text.length) return unterminated();
    const afterNl = lineBreakAt(text, i + 1);
    if (raw) {
      // A raw string keeps the backslash; it still cannot end on it, and it keeps the quote after it.
      if (afterNl > 0) {
        value += '\\\n';
        i += 1 + afterNl;
      } else {
        checkChar(text, i + 1);
        const width = (text.codePointAt(i + 1) as number) > 0xffff ? 2 : 1;
        value += text.slice(i, i + 1 + width);
        i += 1 + width;
      }
      continue;
    }
    if (afterNl > 0) {
      i += 1 + afterNl;
      continue;
    }
    const escaped = readEscape(text, i);
    value += escaped.value;
    i = escaped.end;
  }
}

function readEscape(text: string, at: number): { value: string; end: number } {
  const e = text[at + 1] as string;
  const simple = SIMPLE_ESCAPES[e];
  if (simple !== undefined) return { value: simple, end: at + 2 };
  if (isOctal(e)) {
    let end = at + 2;
    while (end < at + 4 && isOctal(text[end] ?? '')) end++;
    return { value: String.fromCodePoint(parseInt(text.slice(at + 1, end), 8)), end };
  }
  const hexLength = e === 'x' ? 2 : e === 'u' ? 4 : e === 'U' ? 8 : 0;
  if (hexLength > 0) {
    const digits = text.slice(at + 2, at + 2 + hexLength);
    if (digits.length < hexLength || ![...digits].every(isHex)) {
      fail(text, at, `\\${e} and ${hexLength} hexadecimal digits`);
    }
    const cp = parseInt(digits, 16);
    if (cp > 0x10ffff) fail(text, at, 'a Unicode code point up to \\U0010ffff');
    if (cp >= 0xd800 && cp <= 0xdfff) {
      fail(text, at, 'no surrogate code point (JSON text cannot hold a lone one)', Refusal.NotJson);
    }
    return { value: String.fromCodePoint(cp), end: at + 2 + hexLength };
  }
  if (e === 'N') {
    return fail(
      text,
      at,
      'an escape other than \\N{...} (write the character, or \\u / \\U and its code point)',
      Refusal.Escape,
    );
  }
  checkChar(text, at + 1);
  return fail(
    text,
    at,
    "one of Python's string escapes (\\\\ \\' \\\" \\a \\b \\f \\n \\r \\t \\v \\ooo \\xhh \\uhhhh \\Uhhhhhhhh)",
    Refusal.Escape,
  );
}

const DEC = String.raw`[0-9](?:_?[0-9])*`;
const EXPONENT = String.raw`[eE][-+]?${DEC}`;
const INT_FORMS = new RegExp(
  String.raw`^(?:0[xX](?:_?[0-9a-fA-F])+|0[bB](?:_?[01])+|0[oO](?:_?[0-7])+|0(?:_?0)*|[1-9](?:_?[0-9])*)$`,
);
const FLOAT_FORM = new RegExp(
  String.raw`^(?:(?:${DEC}\.(?:${DEC})?|\.${DEC})(?:${EXPONENT})?|${DEC}${EXPONENT})$`,
);

/** A number token's text: from `start` (a digit, or `.` and a digit) up to the next character no number has. */
export function scanNumber(text: string, start: number): number {
  let i = start;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    const ch = text[i] as string;
    if (ch === '.' || isIdentContinue(c)) i++;
    else if (
      (ch === '+' || ch === '-') &&
      /[eE]/.test(text[i - 1] ?? '') &&
      !/^0[xX]/.test(text.slice(start))
    )
      i++;
    else break;
  }
  return i;
}

/** What a number token means: an exact value, or why `Literal` cannot hold it. */
export type NumberValue =
  | { readonly ok: true; readonly value: number }
  | { readonly ok: false; readonly expected: string; readonly refusal?: string };

/**
 * The value of Python number text. Integers are exact (read as BigInt) and refused past
 * ±(2**53 − 1); a float is the nearest double, as in Python; an integral float within the safe
 * range is the integer (JSON has one number type). Imaginary numbers and infinity are refused.
 */
export function numberValue(token: string): NumberValue {
  if (INT_FORMS.test(token)) {
    const text = token.replace(/_/g, '');
    const big = /^0[0-9]/.test(text) ? 0n : BigInt(text);
    if (big > BigInt(Number.MAX_SAFE_INTEGER)) {
      return {
        ok: false,
        expected: `an integer of at most ${Number.MAX_SAFE_INTEGER} (a JSON number holds no larger integer exactly)`,
        refusal: Refusal.UnsafeInteger,
      };
    }
    return { ok: true, value: Number(big) };
  }
  if (FLOAT_FORM.test(token)) {
    const value = Number(token.replace(/_/g, ''));
    if (!Number.isFinite(value)) {
      return { ok: false, expected: 'a finite number (JSON has no infinity)', refusal: Refusal.NotJson };
    }
    return { ok: true, value };
  }
  const body = token.slice(0, -1);
  if (
    /[jJ]$/.test(token) &&
    (INT_FORMS.test(body) || FLOAT_FORM.test(body) || /^[0-9](?:_?[0-9])*$/.test(body))
  ) {
    return { ok: false, expected: 'a real number (JSON has no imaginary numbers)', refusal: Refusal.NotJson };
  }
  return { ok: false, expected: 'a number in Python syntax' };
}
