/**
 * What an attacker puts in type positions, as fast-check arbitraries (the TS twin of
 * python/tests/hostile.py), and canary secrets to plant in a node's and its workers' environment.
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';

const run = randomBytes(6).toString('hex');

/** Environment entries an operator would export (docs/operations.md), with unguessable values. */
export const CANARIES: Readonly<Record<string, string>> = {
  DSPEX_NODE_PASSWORD: `canary-node-${run}`,
  DSPEX_WORKER_PASSWORD: `canary-worker-${run}`,
  DSPEX_CLIENT_PASSWORD: `canary-client-${run}`,
  OPENAI_API_KEY: `canary-key-${run}`,
};

/** Every canary (and the random part they share) found in `data`. */
export function leaks(data: Uint8Array | string): string[] {
  const text = typeof data === 'string' ? data : Buffer.from(data).toString('utf8');
  return [...Object.values(CANARIES), run].filter((secret) => text.includes(secret));
}

const modules = ['os', 'sys', 'builtins', 'pydantic', 'typing', 'subprocess', 'importlib', 'dspy', 'json'];
const attributes = ['environ', 'argv', 'ImportString', 'eval', '__import__', '__dict__', '__globals__'];
const atoms = [
  'os.environ',
  'sys.argv',
  'builtins.eval',
  '__import__',
  'pydantic.ImportString',
  'ImportString',
  "typing.ForwardRef('os.environ')",
  "__import__('os').environ",
  'NoneType',
  'bytes',
  'frozenset',
  'constructor',
  'toString',
  '__proto__',
  'оs.environ', // Cyrillic o
  'ｏｓ',
  'os．environ',
];

/** The dotted names the grammar allows (docs/signatures.md): never hostile. */
const ALLOWED_DOTTED =
  /^(?:dspy\.(?:Image|Audio|File|History|Tool|ToolCalls|Code|Reasoning)|typing\.(?:Any|Text|List|Dict|Tuple|Set|Optional|Union|Literal))$/;

const identifier = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,10}$/);
const dotted = fc
  .array(fc.oneof(fc.constantFrom(...modules), fc.constantFrom(...attributes), identifier), {
    minLength: 2,
    maxLength: 4,
  })
  .map((parts) => parts.join('.'))
  .filter((name) => !ALLOWED_DOTTED.test(name));
const atom = fc.oneof(fc.constantFrom(...atoms), dotted);

/** A type expression with at least one name outside the grammar, possibly inside a constructor. */
export const hostileType: fc.Arbitrary<string> = fc
  .tuple(
    atom,
    fc.constantFrom(
      '%',
      'list[%]',
      'dict[str, %]',
      'Optional[%]',
      'Union[int, %]',
      '% | None',
      '%[]',
      'Literal[%]',
    ),
  )
  .map(([inner, wrapper]) => wrapper.replace('%', inner));

/** A signature with one hostile type, as input `q` or output `a`. */
export const hostileSignature: fc.Arbitrary<string> = fc
  .tuple(hostileType, fc.boolean())
  .map(([type, asInput]) => (asInput ? `q: ${type} -> a` : `q -> a: ${type}`));
