import { parseArgs } from 'node:util';
import type { PredictReply, PredictRequest } from '../protocol/schemas.js';
import { ExitCode, parseFlags, positiveInt, usageError, type Command } from './command.js';
import { connectClient, CONNECTION_FLAGS, CONNECTION_HELP, connectionTarget } from './connect.js';
import type { NatsTarget } from '../nats/nats-url.js';

export interface PredictCommandOptions {
  target: NatsTarget;
  prefix: string;
  request: PredictRequest;
  json: boolean;
  timeoutMs: number;
}

const HELP = `Usage: dspex predict --module M --signature S --inputs JSON [options]

Runs one DSPy module call through the cluster (dspex.rpc.predict) and prints its outputs,
one "field: value" line each (or the whole reply with --json).

Options:
  --module M        Predict or ChainOfThought
  --signature S     DSPy signature, e.g. "question -> answer"
  --inputs JSON     a JSON object with one entry per input field
  --pool NAME       pool to run on (default general)
  --session ID      session id: calls of one session go to the same worker
${CONNECTION_HELP}
  --json            print the whole reply (outputs, worker, latency_ms, usage) as JSON
  --timeout MS      deadline of the call (default 60000)
  -h, --help        show this help
Also read from the environment: DSPEX_PREFIX (subject prefix).

Exit codes: 0 success, 1 the call failed (the error code and message are printed), 2 bad flags.`;

/** `dspex predict`: one call of the public predict endpoint. */
export const predictCommand: Command<PredictCommandOptions> = {
  name: 'predict',
  summary: 'run one DSPy module call and print its outputs',
  help: HELP,

  parse(argv, env) {
    const { values } = parseFlags(() =>
      parseArgs({
        args: argv,
        strict: true,
        allowPositionals: false,
        options: {
          module: { type: 'string' },
          signature: { type: 'string' },
          inputs: { type: 'string' },
          pool: { type: 'string' },
          session: { type: 'string' },
          ...CONNECTION_FLAGS,
          json: { type: 'boolean', default: false },
          timeout: { type: 'string' },
        },
      }),
    );
    if (values.module === undefined)
      throw usageError('--module is required (Predict or ChainOfThought)', '--module');
    if (values.signature === undefined) throw usageError('--signature is required', '--signature');
    if (values.inputs === undefined) throw usageError('--inputs is required (a JSON object)', '--inputs');
    const request: PredictRequest = {
      module: values.module,
      signature: values.signature,
      inputs: parseInputs(values.inputs),
    };
    if (values.pool !== undefined) request.pool = values.pool;
    if (values.session !== undefined) request.session = values.session;
    return {
      target: connectionTarget(values, env),
      prefix: env.DSPEX_PREFIX || 'dspex',
      request,
      json: values.json,
      timeoutMs: positiveInt(values.timeout, '--timeout') ?? 60_000,
    };
  },

  async run({ target, prefix, request, json, timeoutMs }, io) {
    await using conn = await connectClient(target, prefix, timeoutMs);
    const reply = await conn.client.predict(request, { deadline: Date.now() + timeoutMs });
    if (json) io.stdout(JSON.stringify(reply, null, 2));
    else for (const line of formatOutputs(reply)) io.stdout(line);
    return ExitCode.Ok;
  },
};

/** `--inputs` as a JSON object, or a usage error naming the flag. */
export function parseInputs(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw usageError(`--inputs: not valid JSON: ${(error as Error).message}`, '--inputs');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw usageError('--inputs: expected a JSON object, e.g. {"question": "What is 2+2?"}', '--inputs');
  }
  return value as Record<string, unknown>;
}

/** One `field: value` line per output; strings as they are, anything else as JSON. */
export function formatOutputs(reply: PredictReply): string[] {
  return Object.entries(reply.outputs).map(
    ([name, value]) => `${name}: ${typeof value === 'string' ? value : JSON.stringify(value)}`,
  );
}
