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
import { wholeGrammar } from '../harness/signature-gen.js';

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

  beforeAll(() => {
    oracle = startPythonOracle();
  });
  afterAll(async () => {
    await oracle?.[Symbol.asyncDispose]();
    const total = [...tally.values()].reduce((a, b) => a + b, 0);
    const lines = [...tally]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, n]) => `  ${String(n).padStart(6)}  ${k}`);
    console.log(`signature parity (typescript): ${total} generated strings compared\n${lines.join('\n')}`);
  });

  it('agrees with the worker everywhere, with DSPy where DSPy is the reference, and refuses only on purpose', async () => {
    const refusals: readonly string[] = Object.values(Refusal);
    await fc.assert(
      fc.asyncProperty(wholeGrammar, async (text) => {
        const ours = tsVerdict(text);
        const answer = await oracle.ask(text);
        expect(answer.worker, text).toEqual(ours);
        const reference = answer.dspy;
        if (ours.ok) {
          const again = tsVerdict(ours.canonical);
          expect(again, `round trip of ${text}`).toEqual(ours);
          if (reference.ok) {
            expect(reference, text).toEqual({ ok: true, inputs: ours.inputs, outputs: ours.outputs });
            count('agree: both accept');
          } else {
            expect(answer.dspy_canonical, `DSPy on the canonical text of ${text}`).toEqual({
              ok: true,
              inputs: ours.inputs,
              outputs: ours.outputs,
            });
            count('extension: dspex accepts, DSPy refuses the spelling');
          }
        } else if (reference.ok) {
          expect(refusals, `DSPy accepts ${JSON.stringify(text)}; the refusal must be documented`).toContain(
            ours.refusal,
          );
          count(`refusal: ${ours.refusal ?? '?'}`);
        } else {
          count('agree: both refuse');
        }
      }),
      { numRuns: GENERATED, seed: 16 },
    );
    const total = [...tally.values()].reduce((a, b) => a + b, 0);
    expect(total).toBe(GENERATED);
    expect(tally.get('agree: both accept') ?? 0).toBeGreaterThan(GENERATED / 5);
    const kinds = new Set([...tally.keys()].filter((k) => k.startsWith('refusal: ')).map((k) => k.slice(9)));
    expect(refusals.filter((r) => r !== Refusal.Limit && !kinds.has(r))).toEqual([]);
  }, 300_000);
});
