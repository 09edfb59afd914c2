import { parseArgs } from 'node:util';
import { ErrorCode, isDspexError } from '../errors.js';
import { ExitCode, parseFlags, positiveInt, usageError, type Command } from './command.js';
import { connectClient, CONNECTION_FLAGS, CONNECTION_HELP, connectionTarget } from './connect.js';
import type { NatsTarget } from '../nats/nats-url.js';
import { checkStatus, type StatusCheck } from './status-check.js';
import { formatStatus } from './status-table.js';

export interface StatusCommandOptions {
  target: NatsTarget;
  prefix: string;
  json: boolean;
  timeoutMs: number;
  /** With `--node`/`--worker`: a health check instead of the tables. */
  check: StatusCheck | undefined;
}

const HELP = `Usage: dspex status [options]

Asks the cluster for its status (dspex.rpc.status; one node answers) and prints the
nodes it knows, and the pools and workers as that node sees them.

Options:
${CONNECTION_HELP}
  --json            print the raw status reply as JSON
  --timeout MS      how long to wait for a node to answer (default 5000)
  --node ID         health check: exit 0 only if node ID is alive (heard from within
                    three heartbeats); \`--node self\` means env DSPEX_NODE_ID
  --worker ID       health check: exit 0 only if worker ID is ready or busy
  -h, --help        show this help
Also read from the environment: DSPEX_PREFIX (subject prefix).

Exit codes: 0 a node answered (and the --node/--worker checks passed), 1 no node
answered, NATS is unreachable or a check failed, 2 bad flags.`;

/** `dspex status`: one `dspex.rpc.status` call, printed as tables or JSON. */
export const statusCommand: Command<StatusCommandOptions> = {
  name: 'status',
  summary: 'show nodes, pools and workers',
  help: HELP,

  parse(argv, env) {
    const { values } = parseFlags(() =>
      parseArgs({
        args: argv,
        strict: true,
        allowPositionals: false,
        options: {
          ...CONNECTION_FLAGS,
          json: { type: 'boolean', default: false },
          timeout: { type: 'string' },
          node: { type: 'string' },
          worker: { type: 'string' },
        },
      }),
    );
    return {
      target: connectionTarget(values, env),
      prefix: env.DSPEX_PREFIX || 'dspex',
      json: values.json,
      timeoutMs: positiveInt(values.timeout, '--timeout') ?? 5000,
      check: parseCheck(values.node, values.worker, env),
    };
  },

  async run({ target, prefix, json, timeoutMs, check }, io) {
    await using conn = await connectClient(target, prefix, timeoutMs);
    let status;
    try {
      status = await conn.client.status({ deadline: Date.now() + timeoutMs });
    } catch (error) {
      if (
        isDspexError(error) &&
        (error.code === ErrorCode.Unavailable || error.code === ErrorCode.DeadlineExceeded)
      ) {
        io.stderr(
          `dspex status: no dspex node answered ${prefix}.rpc.status on ${conn.servers} within ${timeoutMs} ms ` +
            '(is a node running, and on this prefix?)',
        );
        return ExitCode.Failed;
      }
      throw error;
    }
    if (check !== undefined) {
      const result = checkStatus(status, check);
      for (const line of result.lines) {
        if (result.ok) io.stdout(line);
        else io.stderr(line);
      }
      return result.ok ? ExitCode.Ok : ExitCode.Failed;
    }
    if (json) io.stdout(JSON.stringify(status, null, 2));
    else for (const line of formatStatus(status)) io.stdout(line);
    return ExitCode.Ok;
  },
};

function parseCheck(
  node: string | undefined,
  worker: string | undefined,
  env: NodeJS.ProcessEnv,
): StatusCheck | undefined {
  if (node === undefined && worker === undefined) return undefined;
  const check: StatusCheck = {};
  if (node !== undefined) {
    if (node === 'self' && !env.DSPEX_NODE_ID)
      throw usageError('--node self: DSPEX_NODE_ID is not set (it names this node)', '--node');
    if (node === '') throw usageError('--node: expected a node id', '--node');
    check.node = node === 'self' ? env.DSPEX_NODE_ID : node;
  }
  if (worker !== undefined) {
    if (worker === '') throw usageError('--worker: expected a worker id', '--worker');
    check.worker = worker;
  }
  return check;
}
