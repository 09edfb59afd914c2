/**
 * The worker's grammar and DSPy 3.4.1 as an oracle for the TS suites: one long-lived Python process
 * (python/tests/signature_oracle.py) answering one JSON line per signature text.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface, type Interface } from 'node:readline';
import { venvPython } from './runtime.js';

/** The worker grammar's verdict (the shape of test/harness/signature-oracle.ts's). */
export type GrammarVerdict =
  | { ok: true; inputs: string[][]; outputs: string[][]; canonical: string }
  | { ok: false; column: number; expected: string; refusal?: string };

/** DSPy's verdict: fields in canonical spelling, an annotation outside the grammar, or its error class. */
export type DspyVerdict =
  | { ok: true; inputs: string[][]; outputs: string[][] }
  | { ok: true; unrepresentable: string }
  | { ok: false; error: string };

export interface OracleAnswer {
  worker: GrammarVerdict;
  dspy: DspyVerdict;
  /** DSPy's verdict on the worker's canonical text, when the worker accepted. */
  dspy_canonical: DspyVerdict | null;
}

export interface PythonOracle extends AsyncDisposable {
  ask(text: string): Promise<OracleAnswer>;
}

/** Starts the oracle (a DSPy import: a few seconds). */
export function startPythonOracle(): PythonOracle {
  const cwd = new URL('../../python/', import.meta.url).pathname;
  const child: ChildProcessWithoutNullStreams = spawn(venvPython, ['-m', 'tests.signature_oracle'], {
    cwd,
    env: { ...process.env, LITELLM_LOCAL_MODEL_COST_MAP: 'True' },
  });
  child.stderr.resume();
  const lines: Interface = createInterface({ input: child.stdout });
  const waiting: Array<(line: string) => void> = [];
  lines.on('line', (line) => waiting.shift()?.(line));
  return {
    ask(text) {
      return new Promise((resolve, reject) => {
        waiting.push((line) => {
          try {
            resolve(JSON.parse(line) as OracleAnswer);
          } catch (error) {
            reject(error instanceof Error ? error : new Error(String(error)));
          }
        });
        child.stdin.write(`${JSON.stringify(text)}\n`);
      });
    },
    async [Symbol.asyncDispose]() {
      lines.close();
      child.stdin.end();
      if (child.exitCode === null) {
        await new Promise((resolve) => {
          child.once('exit', resolve);
          setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
        });
      }
    },
  };
}
