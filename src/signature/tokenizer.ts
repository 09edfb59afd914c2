/**
 * Splits signature text into tokens with 1-based columns (UTF-16 code units). Between tokens, as
 * inside a Python parameter list: spaces, tabs, form feeds, line breaks, a backslash before a line
 * break, and `#` comments that end at a line break. Anything else Python calls whitespace (`\v`,
 * no-break spaces) is an unexpected character, as it is to Python.
 */
import { SignatureParseError } from '../errors.js';
import { isLoneSurrogate, lineBreakAt, readString, scanNumber } from './literals.js';
import { isDigit, isIdentContinue, isIdentStart } from './names.js';
import { Refusal } from './refusals.js';

export type TokenKind =
  | 'ident'
  | 'string'
  | 'number'
  | 'arrow'
  | 'colon'
  | 'comma'
  | 'pipe'
  | 'lbracket'
  | 'rbracket'
  | 'lparen'
  | 'rparen'
  | 'dot'
  | 'ellipsis'
  | 'minus'
  | 'plus'
  | 'equals'
  | 'star'
  | 'slash'
  | 'error'
  | 'eof';

export interface Token {
  readonly kind: TokenKind;
  /** Source text of the token; for `string` the decoded value. */
  readonly text: string;
  /** 1-based column of the token's first character. */
  readonly column: number;
  /** For `string`: its prefix in lower case (`''`, `u`, `r`, `b`, `f`, `rb`, …). */
  readonly prefix?: string;
  /** For `error`: what the parser throws if it gets this far. */
  readonly error?: SignatureParseError;
}

const punctuation: Readonly<Record<string, TokenKind>> = {
  ':': 'colon',
  ',': 'comma',
  '|': 'pipe',
  '[': 'lbracket',
  ']': 'rbracket',
  '(': 'lparen',
  ')': 'rparen',
  '+': 'plus',
  '=': 'equals',
  '*': 'star',
  '/': 'slash',
};

/** Spaces Python skips between tokens (line breaks are handled with `\r\n` as one). */
const isSpace = (c: number): boolean => c === 32 || c === 9 || c === 12;

const STRING_PREFIXES = new Set(['r', 'u', 'b', 'f', 'br', 'rb', 'fr', 'rf']);

/**
 * Tokenises `text`. A character no token can start with ends the list with an `error` token, so
 * that the parser reports whichever problem comes first in the text.
 */
export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  try {
    scan(text, tokens);
  } catch (error) {
    if (!(error instanceof SignatureParseError)) throw error;
    tokens.push({ kind: 'error', text: '', column: error.column, error });
  }
  tokens.push({ kind: 'eof', text: '', column: text.length + 1 });
  return tokens;
}

function unexpected(text: string, i: number, ch: string, refusal?: string): never {
  throw new SignatureParseError(
    text,
    i + 1,
    'a field name, a type or one of : , | [ ] ( ) ->',
    `signature column ${i + 1}: unexpected character '${ch}'`,
    refusal,
  );
}

function scan(text: string, tokens: Token[]): void {
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (isSpace(c)) {
      i++;
      continue;
    }
    if (c === 10 || c === 13) {
      i += lineBreakAt(text, i);
      continue;
    }
    const start = i;
    const ch = text[i] as string;
    if (ch === '\\') {
      const after = lineBreakAt(text, i + 1);
      if (after === 0) unexpected(text, i, ch);
      i += 1 + after;
      continue;
    }
    if (ch === '#') {
      while (i < n && lineBreakAt(text, i) === 0) i++;
      if (i >= n) {
        throw new SignatureParseError(text, start + 1, 'a line break to end this comment');
      }
      continue;
    }
    if (isLoneSurrogate(text, i)) unexpected(text, i, ch, Refusal.NotJson);
    const cp = text.codePointAt(i) as number;
    if (isIdentStart(cp)) {
      i += cp > 0xffff ? 2 : 1;
      while (i < n) {
        const unit = text.charCodeAt(i);
        if (unit < 0x80) {
          if (!isIdentContinue(unit)) break;
          i++;
          continue;
        }
        const next = text.codePointAt(i) as number;
        if (isLoneSurrogate(text, i) || !isIdentContinue(next)) break;
        i += next > 0xffff ? 2 : 1;
      }
      const word = text.slice(start, i);
      const quote = text[i];
      if ((quote === "'" || quote === '"') && STRING_PREFIXES.has(word.toLowerCase())) {
        const literal = readString(text, start, i);
        tokens.push({ kind: 'string', text: literal.value, prefix: literal.prefix, column: start + 1 });
        i = literal.end;
      } else {
        tokens.push({ kind: 'ident', text: word, column: start + 1 });
      }
    } else if (isDigit(c) || (ch === '.' && isDigit(text.charCodeAt(i + 1)))) {
      i = scanNumber(text, i);
      tokens.push({ kind: 'number', text: text.slice(start, i), column: start + 1 });
    } else if (ch === "'" || ch === '"') {
      const literal = readString(text, i, i);
      tokens.push({ kind: 'string', text: literal.value, prefix: '', column: start + 1 });
      i = literal.end;
    } else if (ch === '-') {
      const arrow = text[i + 1] === '>';
      tokens.push({ kind: arrow ? 'arrow' : 'minus', text: arrow ? '->' : '-', column: start + 1 });
      i += arrow ? 2 : 1;
    } else if (ch === '.') {
      const ellipsis = text.startsWith('...', i);
      tokens.push({ kind: ellipsis ? 'ellipsis' : 'dot', text: ellipsis ? '...' : '.', column: start + 1 });
      i += ellipsis ? 3 : 1;
    } else {
      const kind = punctuation[ch];
      if (kind === undefined) unexpected(text, i, String.fromCodePoint(cp));
      tokens.push({ kind, text: ch, column: start + 1 });
      i++;
    }
  }
}
