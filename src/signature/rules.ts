/**
 * The rules of the signature grammar that are not parsing itself: the words of the grammar, where
 * DSPy's types may stand, which set items are allowed, and the checks on the whole text (length, one
 * `->`). The Python worker's `signature_rules.py` has the same rules.
 */
import { SignatureParseError } from '../errors.js';
import { Refusal } from './refusals.js';
import {
  ANY,
  BOOL,
  FLOAT,
  INT,
  MAX_SIGNATURE_LENGTH,
  STR,
  assertNever,
  containsDspy,
  type FieldSpec,
  type LiteralValue,
  type TypeNode,
} from './types.js';

export const SCALARS: Readonly<Record<string, TypeNode>> = {
  str: STR,
  Text: STR,
  string: STR,
  int: INT,
  float: FLOAT,
  number: FLOAT,
  bool: BOOL,
  boolean: BOOL,
  Any: ANY,
  any: ANY,
};

/** The names `typing.<name>` may use. */
export const TYPING_WORDS: ReadonlySet<string> = new Set([
  'Any',
  'Text',
  'List',
  'Dict',
  'Tuple',
  'Set',
  'Optional',
  'Union',
  'Literal',
]);

export const TYPE_EXPECTED =
  'a type (str, int, float, bool, Any, list[...], dict[str, ...], tuple[...], set[...], Optional[...], Literal[...], dspy.<Type>)';

export const PYTHON_CONSTANTS: Readonly<Record<string, LiteralValue>> = {
  True: true,
  False: false,
  None: null,
};

/** `dspy.Code['<language>']`: what the prompt names the language with. */
export const CODE_LANGUAGE = /^[A-Za-z0-9_+#.-]{1,32}$/;

/** Why a type cannot be where it is in a field of `role` (and `historySeen`), or `undefined`. */
export function placementProblem(
  type: TypeNode,
  role: FieldSpec['role'],
  historySeen: boolean,
): string | undefined {
  if (containsDspy(type, 'History')) {
    if (role !== 'input' || type.kind !== 'dspy') {
      return 'dspy.History only as the whole type of an input field (DSPy formats that field as the conversation)';
    }
    if (historySeen) return 'at most one dspy.History field';
  }
  if (role === 'output' && containsDspy(type, 'Tool')) {
    return 'no dspy.Tool in an output (a model answers with dspy.ToolCalls)';
  }
  return undefined;
}

/** Whether values of `node` can be set members (Python hashes them). */
export function hashable(node: TypeNode): boolean {
  switch (node.kind) {
    case 'tuple':
      return node.items.every(hashable);
    case 'optional':
      return hashable(node.inner);
    case 'union':
      return node.members.every(hashable);
    case 'list':
    case 'set':
    case 'dict':
    case 'dspy':
      return false;
    case 'str':
    case 'int':
    case 'float':
    case 'bool':
    case 'any':
    case 'literal':
      return true;
    default:
      return assertNever(node);
  }
}

/** Refuses text longer than the limit. */
export function checkLength(text: string): void {
  if (text.length > MAX_SIGNATURE_LENGTH) {
    throw new SignatureParseError(
      text,
      MAX_SIGNATURE_LENGTH + 1,
      `at most ${MAX_SIGNATURE_LENGTH} characters`,
      `signature: expected at most ${MAX_SIGNATURE_LENGTH} characters, found ${text.length}`,
      Refusal.Limit,
    );
  }
}

/** DSPy splits on '->' before anything else, so a second one anywhere (even in a string) is an error. */
export function checkArrows(text: string): void {
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
