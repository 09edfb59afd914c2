import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DspexError } from '../../../src/errors.js';
import { CompileRequestSchema } from '../../../src/protocol/optimize.js';
import { PipelineRunRequestSchema } from '../../../src/protocol/pipelines.js';
import { parseMessage, PredictRequestSchema, WorkerRequestSchema } from '../../../src/protocol/schemas.js';
import { VarDefineRequestSchema } from '../../../src/protocol/variables.js';
import { hostileSignature, hostileType } from '../../harness/hostile-types.js';

function rejection(fn: () => unknown): DspexError {
  try {
    fn();
  } catch (error) {
    if (error instanceof DspexError) return error;
    throw error;
  }
  throw new Error('accepted');
}

const cases = [
  [
    'predict',
    PredictRequestSchema,
    (s: string) => ({ module: 'Predict', signature: s, inputs: {} }),
    'signature',
  ],
  [
    'worker predict',
    WorkerRequestSchema,
    (s: string) => ({ op: 'predict', module: 'Predict', signature: s, inputs: {} }),
    'signature',
  ],
  [
    'compile',
    CompileRequestSchema,
    (s: string) => ({
      optimizer: 'BootstrapFewShot',
      signature: s,
      trainset: [{ q: 'x' }],
      metric: { name: 'contains' },
    }),
    'signature',
  ],
  [
    'pipeline llm stage',
    PipelineRunRequestSchema,
    (s: string) => ({ pipeline: { name: 'p', stages: [{ id: 's', kind: 'llm', signature: s }] } }),
    'pipeline.stages.0.signature',
  ],
] as const;

describe('signature and type strings are parsed when a message is decoded', () => {
  it.each(cases)('%s: a hostile signature is a 400 naming the field, with column and expectation', (...c) => {
    const [, schema, body, field] = c;
    fc.assert(
      fc.property(hostileSignature, (signature) => {
        const error = rejection(() => parseMessage(schema, body(signature), 'request'));
        expect(error.status).toBe(400);
        expect(error.details?.field).toBe(field);
        expect(typeof error.details?.column).toBe('number');
        expect(typeof error.details?.expected).toBe('string');
      }),
      { numRuns: 200, seed: 9 },
    );
  });

  it('refuses a signature without outputs and accepts good ones', () => {
    const error = rejection(() => parseMessage(PredictRequestSchema, cases[0][2]('q ->'), 'predict'));
    expect(error.details).toMatchObject({ field: 'signature' });
    expect(error.message).toContain('expected at least one output field');
    const ok = parseMessage(PredictRequestSchema, cases[0][2]('q: str -> a: list[int]'), 'predict');
    expect(ok.signature).toBe('q -> a: list[int]');
  });

  it('decodes every signature and type to its canonical text, the one workers are sent', () => {
    const spellings: Array<[string, string]> = [
      ['q: string, k: number[] -> a: typing.List[str,]', 'q, k: list[float] -> a: list[str]'],
      ["q -> a: Literal[u'x' 'y', 0x10, 1e-7]", "q -> a: Literal['xy', 16, 1e-7]"],
      ['q,  # the question\n  img: dspy.Image -> a: (int | None)', 'q, img: dspy.Image -> a: Optional[int]'],
    ];
    for (const [text, canonical] of spellings) {
      const body = parseMessage(PredictRequestSchema, cases[0][2](text), 'predict');
      expect(body.signature).toBe(canonical);
      const compiled = parseMessage(CompileRequestSchema, cases[2][2](text), 'compile');
      expect(compiled.signature).toBe(canonical);
    }
    const variable = parseMessage(
      VarDefineRequestSchema,
      { name: 'v', value: [1], spec: { type: 'List[number,]' } },
      'var',
    );
    expect(variable.spec?.type).toBe('list[float]');
  });

  it('carries the refusal code of a deliberate refusal in the details', () => {
    const error = rejection(() => parseMessage(PredictRequestSchema, cases[0][2]('a, a -> b'), 'predict'));
    expect(error.details).toMatchObject({ field: 'signature', column: 4, refusal: 'duplicate-field' });
  });

  it('refuses a variable type outside the grammar, naming spec.type', () => {
    fc.assert(
      fc.property(hostileType, (type) => {
        const error = rejection(() =>
          parseMessage(VarDefineRequestSchema, { name: 'v', value: 1, spec: { type } }, 'var'),
        );
        expect(error.details).toMatchObject({ field: 'spec.type' });
      }),
      { numRuns: 200, seed: 9 },
    );
  });
});
