/**
 * Splits signature text into tokens with 1-based columns. Whitespace (newlines included) only
 * separates tokens, as it does inside a Python parameter list.
 */
import { SignatureParseError } from '../errors.js';

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
  | 'minus'
  | 'error'
  | 'eof';

export interface Token {
  readonly kind: TokenKind;
  /** Source text of the token; for `string` the decoded value. */
  readonly text: string;
  /** 1-based column of the token's first character. */
  readonly column: number;
  /** For `error`: what the parser throws if it gets this far. */
  readonly error?: SignatureParseError;
}

const punctuation: Readonly<Record<string, TokenKind>> = {
  ':': 'colon',
  ',': 'comma',
  '|': 'pipe',
  '[': 'lbracket',
  ']': 'rbracket',
};

const escapes: Readonly<Record<string, string>> = {
  '\\': '\\',
  "'": "'",
  '"': '"',
  n: '\n',
  r: '\r',
  t: '\t',
};

const isIdentStart = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95; // A-Z a-z _
const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isSpace = (c: number): boolean => c === 32 || c === 9 || c === 10 || c === 13 || c === 12 || c === 11;

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

function scan(text: string, tokens: Token[]): void {
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (isSpace(c)) {
      i++;
      continue;
    }
    const start = i;
    const ch = text[i] as string;
    if (isIdentStart(c)) {
      i++;
      while (i < n && (isIdentStart(text.charCodeAt(i)) || isDigit(text.charCodeAt(i)))) i++;
      tokens.push({ kind: 'ident', text: text.slice(start, i), column: start + 1 });
    } else if (isDigit(c)) {
      i++;
      while (i < n && isDigit(text.charCodeAt(i))) i++;
      if (text[i] === '.' && isDigit(text.charCodeAt(i + 1))) {
        i += 2;
        while (i < n && isDigit(text.charCodeAt(i))) i++;
      }
      if (i < n && isIdentStart(text.charCodeAt(i))) {
        throw new SignatureParseError(
          text,
          start + 1,
          'a decimal number or an identifier',
          `signature column ${start + 1}: expected a decimal number or an identifier, found '${text.slice(start, i + 1)}'`,
        );
      }
      tokens.push({ kind: 'number', text: text.slice(start, i), column: start + 1 });
    } else if (ch === "'" || ch === '"') {
      i = readString(text, i, tokens);
    } else if (ch === '-') {
      const arrow = text[i + 1] === '>';
      tokens.push({ kind: arrow ? 'arrow' : 'minus', text: arrow ? '->' : '-', column: start + 1 });
      i += arrow ? 2 : 1;
    } else {
      const kind = punctuation[ch];
      if (kind === undefined) {
        throw new SignatureParseError(
          text,
          start + 1,
          'a field name, a type or one of : , | [ ] ->',
          `signature column ${start + 1}: unexpected character '${ch}'`,
        );
      }
      tokens.push({ kind, text: ch, column: start + 1 });
      i++;
    }
  }
}

function readString(text: string, start: number, tokens: Token[]): number {
  const quote = text[start];
  let value = '';
  let i = start + 1;
  while (i < text.length) {
    const ch = text[i] as string;
    if (ch === quote) {
      tokens.push({ kind: 'string', text: value, column: start + 1 });
      return i + 1;
    }
    if (ch === '\n') break;
    if (ch === '\\') {
      const decoded = escapes[text[i + 1] ?? ''];
      if (decoded === undefined) {
        throw new SignatureParseError(text, i + 1, 'one of the escapes \\\\ \\\' \\" \\n \\r \\t');
      }
      value += decoded;
      i += 2;
      continue;
    }
    value += ch;
    i++;
  }
  throw new SignatureParseError(text, start + 1, `a closing ${quote} for this string`);
}
