/**
 * Issue 16, the TS side of the parity suite: signatures generated across the whole grammar
 * (test/harness/signature-gen.ts) are parsed by the TS engine and sent to a Python process that runs
 * the worker's grammar and DSPy 3.4.1 (python/tests/signature_oracle.py). For every text:
 * - the TS engine and the worker's grammar give the same verdict (fields, canonical text, or column
 *   and refusal code);
 * - where the engine and DSPy both accept, the fields agree; where only the engine accepts, DSPy
 *   accepts its canonical text with the same fields (an extension of the spelling); where only DSPy
 *   accepts, the refusal is one of the documented ones (`Refusal`); nothing else;
 * - the canonical text of an accepted text parses to the same fields (round trip).
 * The tallies are printed; the Python twin is python/tests/test_signature_dspy_parity.py.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignatureParseError } from '../../src/errors.js';
import { formatSignature } from '../../src/signature/format.js';
import { parseSignatureUncached } from '../../src/signature/parser.js';
import { Refusal } from '../../src/signature/refusals.js';
import {
  startPythonOracle,
  type GrammarVerdict,
  type PythonOracle,
} from '../harness/python-signature-oracle.js';
import { REFUSED_TYPES, wholeGrammar } from '../harness/signature-gen.js';

const REFUSALS: readonly string[] = Object.values(Refusal);

const GENERATED = 3000;

function tsVerdict(text: string): GrammarVerdict {
  try {
    const parsed = parseSignatureUncached(text);
    const fields = (list: typeof parsed.inputs): string[][] => list.map((f) => [f.name, f.typeText]);
    return {
      ok: true,
      inputs: fields(parsed.inputs),
      outputs: fields(parsed.outputs),
      canonical: formatSignature(parsed),
    };
  } catch (error) {
    if (!(error instanceof SignatureParseError)) throw error;
    return {
      ok: false,
      column: error.column,
      expected: error.expected,
      ...(error.refusal !== undefined && { refusal: error.refusal }),
    };
  }
}

describe('the signature grammar against DSPy 3.4.1 and the worker, on generated text', () => {
  let oracle: PythonOracle;
  const tally = new Map<string, number>();
  const count = (key: string): void => void tally.set(key, (tally.get(key) ?? 0) + 1);
  const total = (): number => [...tally.values()].reduce((a, b) => a + b, 0);

  beforeAll(() => {
    oracle = startPythonOracle();
  });
  afterAll(async () => {
    await oracle?.[Symbol.asyncDispose]();
    const lines = [...tally]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, n]) => `  ${String(n).padStart(6)}  ${k}`);
    console.log(
      `signature parity (typescript): ${total()} strings compared (${GENERATED} generated, ${total() - GENERATED} refusal specimens)\n${lines.join('\n')}`,
    );
  });

  /** The parity class of one text; fails the test on any disagreement not documented. */
  async function classify(text: string): Promise<string> {
    const ours = tsVerdict(text);
    const answer = await oracle.ask(text);
    expect(answer.worker, text).toEqual(ours);
    const reference = answer.dspy;
    if (ours.ok) {
      const again = tsVerdict(ours.canonical);
      expect(again, `round trip of ${text}`).toEqual(ours);
      if (reference.ok) {
        expect(reference, text).toEqual({ ok: true, inputs: ours.inputs, outputs: ours.outputs });
        return 'agree: both accept';
      }
      expect(answer.dspy_canonical, `DSPy on the canonical text of ${text}`).toEqual({
        ok: true,
        inputs: ours.inputs,
        outputs: ours.outputs,
      });
      return 'extension: dspex accepts, DSPy refuses the spelling';
    }
    if (reference.ok) {
      expect(REFUSALS, `DSPy accepts ${JSON.stringify(text)}; the refusal must be documented`).toContain(
        ours.refusal,
      );
      return `refusal: ${ours.refusal ?? '?'}`;
    }
    return 'agree: both refuse';
  }

  it('agrees with the worker everywhere, with DSPy where DSPy is the reference, and refuses only on purpose', async () => {
    await fc.assert(
      fc.asyncProperty(wholeGrammar, async (text) => count(await classify(text))),
      { numRuns: GENERATED, seed: 16 },
    );
    expect(total()).toBe(GENERATED);
    expect(tally.get('agree: both accept') ?? 0).toBeGreaterThan(GENERATED / 5);
  }, 300_000);

  it('classifies every refusal specimen of the generator with its documented code', async () => {
    const specimens: Array<[string, string]> = [
      ...Object.entries(REFUSED_TYPES).flatMap(([kind, types]) =>
        types.flatMap((t): Array<[string, string]> => [
          [kind, `q: ${t} -> a`],
          [kind, `q -> a: list[${t}] | None`],
        ]),
      ),
      ...[
        'a, a -> b',
        'a=1 -> b',
        '*a -> b',
        'a, /, b -> c',
        'q -> t: dspy.Tool',
        'h: list[dspy.History] -> a',
      ].map((t): [string, string] => ['field', t]),
      ['field', `${Array.from({ length: 65 }, (_, i) => `f${i}`).join(', ')} -> a`],
    ];
    for (const [kind, text] of specimens) {
      const result = await classify(text);
      count(result);
      if (REFUSALS.includes(kind)) expect(['agree: both refuse', `refusal: ${kind}`], text).toContain(result);
      if (kind === 'both refuse') expect(result, text).toBe('agree: both refuse');
    }
    const kinds = new Set([...tally.keys()].filter((k) => k.startsWith('refusal: ')).map((k) => k.slice(9)));
    expect(REFUSALS.filter((r) => !kinds.has(r))).toEqual([]);
  }, 120_000);
});
