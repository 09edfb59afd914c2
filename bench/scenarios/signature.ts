/**
 * Signature engine throughput: cold parses per second (memo bypassed) beside Ax's signature
 * parser on the same signatures, memoised parses, and input validations per second beside a
 * hand-written zod schema, all measured in the same run.
 */
import { AxSignature } from '@ax-llm/ax';
import { z } from 'zod';
import { parseSignature, signature } from '../../src/signature/index.js';
import { parseSignatureUncached } from '../../src/signature/parser.js';
import type { BenchRow, Scenario, ScenarioResult } from '../types.js';

/** The same four signatures in DSPy syntax (ours) and Ax syntax. */
const SIGNATURES: ReadonlyArray<{ dspy: string; ax: string }> = [
  {
    dspy: 'question: str, context: str -> answer: str, confidence: float',
    ax: 'question:string, context:string -> answer:string, confidence:number',
  },
  { dspy: 'documentText -> summaryText', ax: 'documentText -> summaryText' },
  {
    dspy: 'userQuery: str, searchResults: list[str] -> rankedIds: list[int], reasoningText: str',
    ax: 'userQuery:string, searchResults:string[] -> rankedIds:number[], reasoningText:string',
  },
  {
    dspy: "reviewText: str -> sentimentLabel: Literal['positive', 'negative', 'neutral'], confidenceScore: float",
    ax: 'reviewText:string -> sentimentLabel:class "positive, negative, neutral", confidenceScore:number',
  },
];

let sink = 0;

/** Runs `op` in batches until `ms` have passed; returns operations per second. */
function opsPerSecond(op: () => unknown, ms: number): number {
  for (let i = 0; i < 200; i++) op(); // warm up the JIT
  const batch = 100;
  let ops = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < ms) {
    for (let i = 0; i < batch; i++) if (op() !== undefined) sink++;
    ops += batch;
    elapsed = performance.now() - start;
  }
  return (ops / elapsed) * 1000;
}

function cycling<T>(items: readonly T[], fn: (item: T) => unknown): () => unknown {
  let i = 0;
  return () => fn(items[i++ % items.length] as T);
}

const scenario: Scenario = {
  name: 'signature',
  description:
    'Signature parsing (cold and memoised) beside @ax-llm/ax, and validateInputs beside a hand-written zod schema',
  run({ quick }): Promise<ScenarioResult> {
    const ms = quick ? 250 : 2000;

    // Both parsers must accept every signature, or the comparison is meaningless.
    for (const s of SIGNATURES) {
      parseSignatureUncached(s.dspy);
      AxSignature.create(s.ax);
    }

    const coldOurs = opsPerSecond(
      cycling(SIGNATURES, (s) => parseSignatureUncached(s.dspy)),
      ms,
    );
    const coldAx = opsPerSecond(
      cycling(SIGNATURES, (s) => AxSignature.create(s.ax)),
      ms,
    );
    const warmOurs = opsPerSecond(
      cycling(SIGNATURES, (s) => parseSignature(s.dspy)),
      ms,
    );

    const qa = signature(
      'question: str, context: list[str], k: Optional[int] -> answer: str, confidence: float',
    );
    const input = {
      question: 'What is the capital of France?',
      context: ['Paris is in France.', 'Lyon too.'],
      k: 3,
    };
    const handZod = z.strictObject({
      question: z.string(),
      context: z.array(z.string()),
      k: z.int().nullable().optional(),
    });
    const generatedZod = qa.inputSchema;
    const validateOurs = opsPerSecond(() => qa.validateInputs(input), ms);
    const validateGenerated = opsPerSecond(() => generatedZod.parse(input), ms);
    const validateHand = opsPerSecond(() => handZod.parse(input), ms);
    const parseOutputs = opsPerSecond(() => qa.parseOutputs({ answer: 'Paris', confidence: '0.92' }), ms);

    const row = (subject: string, baseline: boolean, metrics: Record<string, number>): BenchRow => ({
      subject,
      baseline,
      metrics,
    });
    const rows: BenchRow[] = [
      row('dspex parseSignature (cold, memo bypassed)', false, { per_s: coldOurs }),
      row(`@ax-llm/ax AxSignature.create (cold)`, true, { per_s: coldAx }),
      row('dspex parseSignature (memoised)', false, { per_s: warmOurs }),
      row('dspex validateInputs', false, { per_s: validateOurs }),
      row('dspex generated inputSchema.parse (zod)', false, { per_s: validateGenerated }),
      row('hand-written zod strictObject.parse', true, { per_s: validateHand }),
      row('dspex parseOutputs (with coercion)', false, { per_s: parseOutputs }),
    ];
    return Promise.resolve({
      rows,
      ratios: {
        'cold parse ours/ax x': coldOurs / coldAx,
        'memoised/cold parse x': warmOurs / coldOurs,
        'validateInputs ours/hand zod x': validateOurs / validateHand,
      },
      notes: [
        `${SIGNATURES.length} equivalent signatures, cycled; ${ms} ms per subject`,
        'Ax is measured parsing its own syntax (string[] for list[str], class "a, b" for Literal)',
        'Ax has no standalone input validator, so validation is compared with zod',
        `sink ${sink > 0 ? 'ok' : 'empty'}`,
      ],
    });
  },
};

export default scenario;
