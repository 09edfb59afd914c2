/**
 * Parse once: a bounded LRU of parsed signatures keyed by the exact text, shared by `signature()`
 * and the runtime's per-request {@link parseSignature}.
 */
import { LRUCache } from 'lru-cache';
import { formatSignature } from './format.js';
import { parseSignatureUncached } from './parser.js';
import type { ParsedSignature } from './types.js';

/** How many distinct signature strings stay parsed. */
export const SIGNATURE_MEMO_SIZE = 1024;

const memo = new LRUCache<string, ParsedSignature>({ max: SIGNATURE_MEMO_SIZE });

/**
 * Parses a DSPy signature string, memoised: the same text returns the same frozen object.
 *
 * @example
 * ```ts
 * const parsed = parseSignature('question: str, k: int -> answers: list[str]');
 * parsed.outputs[0]; // { name: 'answers', role: 'output', type: { kind: 'list', … }, typeText: 'list[str]' }
 * ```
 * @throws {SignatureParseError} naming the 1-based column and what was expected there.
 */
export function parseSignature(text: string, options: { instructions?: string } = {}): ParsedSignature {
  let parsed = memo.get(text);
  if (parsed === undefined) {
    parsed = deepFreeze(parseSignatureUncached(text));
    memo.set(text, parsed);
  }
  return options.instructions === undefined
    ? parsed
    : Object.freeze({ ...parsed, instructions: options.instructions });
}

const canonicalMemo = new WeakMap<ParsedSignature, string>();

/**
 * The canonical text of a signature string (what `toString()` prints and the node sends to
 * workers), memoised with the parse.
 * @throws {SignatureParseError} as {@link parseSignature}.
 */
export function canonicalSignature(text: string): string {
  const parsed = parseSignature(text);
  let canonical = canonicalMemo.get(parsed);
  if (canonical === undefined) {
    canonical = formatSignature(parsed);
    canonicalMemo.set(parsed, canonical);
  }
  return canonical;
}

/** Empties the memo (tests and benchmarks). */
export function clearSignatureMemo(): void {
  memo.clear();
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
