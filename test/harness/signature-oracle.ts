/**
 * The TS signature engine as a line-oriented oracle, for the Python grammar's parity property test
 * (python/tests/test_signature_grammar.py): each stdin line is a JSON string, each stdout line the
 * engine's verdict `{ok: true, inputs, outputs, canonical}` (fields as `[name, typeText]`, canonical
 * the text `formatSignature` prints) or `{ok: false, column, expected, refusal?}`; any other exception
 * is `{ok: false, crash}`, which the test fails on.
 *
 * Run with `tsx test/harness/signature-oracle.ts`.
 */
import { createInterface } from 'node:readline';
import { SignatureParseError } from '../../src/errors.js';
import { formatSignature } from '../../src/signature/format.js';
import { parseSignatureUncached } from '../../src/signature/parser.js';

function verdict(text: string): unknown {
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
    if (error instanceof SignatureParseError) {
      return {
        ok: false,
        column: error.column,
        expected: error.expected,
        ...(error.refusal !== undefined && { refusal: error.refusal }),
      };
    }
    return { ok: false, crash: String(error) };
  }
}

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  if (line.trim() === '') continue;
  process.stdout.write(`${JSON.stringify(verdict(JSON.parse(line) as string))}\n`);
}
