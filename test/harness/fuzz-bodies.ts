/**
 * Generators of hostile request bodies for the public endpoints (fast-check): a valid body per
 * endpoint, then the same body with one field replaced by something hostile (control characters,
 * huge or deeply nested values, wrong types, hostile type strings), extra hostile keys, or a random
 * structure, plus hostile `Dspex-*` header values.
 */
import fc from 'fast-check';
import { controlChar, hostileString, multiLineText } from './hostile.js';

/** A valid body of every public endpoint, by subject under `dspex.rpc.`. */
export const validBodies: Record<string, unknown> = {
  predict: { module: 'Predict', signature: 'question -> answer', inputs: { question: 'hi' } },
  status: {},
  'var.get': { name: 'fz_var' },
  'var.set': { name: 'fz_var', value: 1 },
  'var.define': { name: 'fz_var', spec: { type: 'int', constraints: { min: 0 } }, value: 1 },
  'var.list': { prefix: 'fz' },
  'var.history': { name: 'fz_var', limit: 5 },
  'var.describe': { name: 'fz_var' },
  'var.lease.acquire': { names: ['fz_var'], holder: 'fuzz' },
  'var.lease.release': { names: ['fz_var'], holder: 'fuzz' },
  'session.open': { id: 'fz_session', ttl_ms: 60_000, state: { a: 1 } },
  'session.get': { id: 'fz_session' },
  'session.close': { id: 'fz_session' },
  'pipeline.run': {
    pipeline: {
      name: 'fz',
      stages: [
        { id: 'a', kind: 'predict', module: 'Predict', signature: 'q -> a', inputs: { q: { input: 'q' } } },
        {
          id: 'b',
          kind: 'transform',
          op: 'template',
          args: { template: '{a}!' },
          inputs: { a: { stage: 'a', output: 'a' } },
        },
      ],
    },
    inputs: { q: 'x' },
  },
  'pipeline.get': { run_id: 'fz_run' },
  'optimize.compile': {
    optimizer: 'BootstrapFewShot',
    signature: 'question -> answer',
    trainset: [{ question: 'q', answer: 'answer for q' }],
    metric: { name: 'exact_match', field: 'answer' },
    settings: { max_bootstrapped_demos: 1, max_labeled_demos: 1 },
  },
  'optimize.cancel': { run_id: 'fz_run' },
};

/** Signature texts that try to reach Python names, imports or pydantic through the type resolver. */
export const hostileTypeStrings = [
  'q: os.environ -> a',
  'q: sys.argv -> a',
  'q -> a: pydantic.ImportString',
  "q: __import__('os').environ -> a",
  'q: dict[str, os.environ] -> a',
  'q: builtins.eval -> a',
  'q: typing.Annotated[str, os.environ] -> a',
  'q -> a: dspy.Image',
  'q: subprocess.Popen -> a',
  'q: Literal[os.environ] -> a',
  'q: list[' + 'list['.repeat(300) + 'str' + ']'.repeat(301) + ' -> a',
  'question: str -> answer: int',
  'q -> a: float',
  'a, b, c -> ' + Array.from({ length: 200 }, (_, i) => `o${i}`).join(', '),
];

/** A value nested `depth` deep, as lists or maps. */
const deep = (depth: number, asMap: boolean): unknown => {
  let v: unknown = 'x';
  for (let i = 0; i < depth; i++) v = asMap ? { k: v } : [v];
  return v;
};

/** Values to put where a field is expected. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: hostileString },
  { weight: 2, arbitrary: multiLineText },
  { weight: 2, arbitrary: fc.constantFrom(...hostileTypeStrings) },
  { weight: 1, arbitrary: fc.integer({ min: 20_000, max: 200_000 }).map((n) => 'z'.repeat(n)) },
  {
    weight: 1,
    arbitrary: fc.tuple(fc.integer({ min: 20, max: 3000 }), fc.boolean()).map(([d, m]) => deep(d, m)),
  },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 1000, max: 20_000 }).map((n) => Array.from({ length: n }, (_, i) => i)),
  },
  {
    weight: 3,
    arbitrary: fc.oneof(
      fc.integer(),
      fc.double(),
      fc.boolean(),
      fc.constant(null),
      fc.constant([]),
      fc.constant({}),
      fc.constantFrom(2 ** 64, -(2 ** 63), Number.MAX_SAFE_INTEGER + 2, -0, 1e308),
    ),
  },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
  {
    weight: 1,
    arbitrary: fc.dictionary(hostileString, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 6 }),
  },
);

type Path = Array<string | number>;

function paths(value: unknown, prefix: Path = [], out: Path[] = []): Path[] {
  if (prefix.length > 0) out.push(prefix);
  if (Array.isArray(value)) value.forEach((v, i) => paths(v, [...prefix, i], out));
  else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) paths(v, [...prefix, k], out);
  }
  return out;
}

function setAt(value: unknown, path: Path, to: unknown): unknown {
  const copy = structuredClone(value) as Record<string | number, unknown>;
  let node = copy;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  node[path.at(-1)!] = to;
  return copy;
}

/** Bodies for one endpoint: valid, one field hostile, extra hostile keys, or anything at all. */
export function bodyFor(subject: string): fc.Arbitrary<unknown> {
  const valid = validBodies[subject];
  const fieldPaths = paths(valid);
  const replaced =
    fieldPaths.length === 0
      ? hostileValue
      : fc.tuple(fc.constantFrom(...fieldPaths), hostileValue).map(([path, to]) => setAt(valid, path, to));
  const extraKeys = fc
    .dictionary(
      fc.oneof(hostileString, fc.constantFrom('__proto__', 'constructor', 'op', 'pool')),
      hostileValue,
      {
        minKeys: 1,
        maxKeys: 4,
      },
    )
    .map((extra) => ({ ...(valid as object), ...extra }));
  return fc.oneof(
    { weight: 1, arbitrary: fc.constant(valid) },
    { weight: 6, arbitrary: replaced },
    { weight: 2, arbitrary: extraKeys },
    { weight: 2, arbitrary: fc.oneof(fc.anything({ maxDepth: 3 }), fc.jsonValue({ maxDepth: 4 })) },
  );
}

/** A header value nats.js will send (no CR/LF): hostile, long, or plausible. */
const headerText = fc.oneof(
  hostileString.map((s) => s.replace(/[\r\n]/g, '')),
  fc
    .array(
      controlChar.filter((c) => c !== '\r' && c !== '\n'),
      { minLength: 1, maxLength: 8 },
    )
    .map((a) => a.join('')),
  fc.integer({ min: 200, max: 3000 }).map((n) => 't'.repeat(n)),
);

/** Request headers: mostly plausible (so that bodies are what gets tested), sometimes hostile. */
export const fuzzHeaders: fc.Arbitrary<{ deadline?: string; session?: string; trace?: string }> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ deadline: fc.constant('ok'), trace: fc.constantFrom('t-1', 'fuzz') }) },
  {
    weight: 1,
    arbitrary: fc.record(
      {
        deadline: fc.oneof(
          fc.constant('ok'),
          headerText,
          fc.constantFrom('-1', '0', 'NaN', '1e309', '9'.repeat(40), String(2 ** 64), '0x10', ' 5 ', 'past'),
        ),
        session: fc.oneof(fc.constantFrom('fz_session', 'other-session'), headerText),
        trace: headerText,
      },
      { requiredKeys: [] },
    ),
  },
);
