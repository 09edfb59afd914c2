import { ErrorCode, isDspexError } from '../errors.js';
import { VERSION } from '../version.js';
import { ExitCode, type CliIo, type Command } from './command.js';
import { nodeCommand } from './node-command.js';
import { predictCommand } from './predict-command.js';
import { statusCommand } from './status-command.js';
import { optimizeCommand } from './optimize.js';
import { workerCommand } from './worker-command.js';

// Each command has its own option type; the table only needs parse's result to reach run.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const COMMANDS: ReadonlyArray<Command<any>> = [
  nodeCommand,
  statusCommand,
  predictCommand,
  optimizeCommand,
  workerCommand,
];

const USAGE = `Usage: dspex <command> [options]

dspex runs DSPy programs on pools of Python workers behind NATS.

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(9)}${c.summary}`).join('\n')}

Options:
  -h, --help     show this help (dspex <command> --help for a command's options)
  -v, --version  print the version

Environment: DSPEX_NATS_URL, DSPEX_NATS_USER/PASSWORD/TOKEN/…, DSPEX_NODE_ID, DSPEX_LM,
DSPEX_PREFIX, DSPEX_LOG_LEVEL, DSPEX_WORKER_BIN (see docs/configuration.md and docs/security.md).`;

/** The real process as a {@link CliIo}. */
export function processIo(): CliIo {
  const stdout = closableStream(process.stdout);
  const stderr = closableStream(process.stderr);
  return {
    stdout,
    stderr,
    env: process.env,
    onSignal(listener) {
      process.on('SIGTERM', listener);
      process.on('SIGINT', listener);
      return () => {
        process.off('SIGTERM', listener);
        process.off('SIGINT', listener);
      };
    },
  };
}

/**
 * Writes lines to `stream` until its reader goes away (`dspex status | head`: EPIPE), then drops
 * them: the command still finishes and exits with its own code, without a stack trace.
 */
function closableStream(stream: NodeJS.WriteStream): (line: string) => void {
  let closed = false;
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    closed = true;
  });
  return (line) => {
    if (!closed) stream.write(line + '\n');
  };
}

/** Runs the CLI with `argv` (without node and script) and returns the exit code. */
export async function main(argv: string[], io: CliIo = processIo()): Promise<ExitCode> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '-h' || first === '--help' || first === 'help') {
    io.stdout(USAGE);
    return first === undefined ? ExitCode.Usage : ExitCode.Ok;
  }
  if (first === '-v' || first === '--version') {
    io.stdout(VERSION);
    return ExitCode.Ok;
  }
  const command = COMMANDS.find((c) => c.name === first);
  if (command === undefined) {
    io.stderr(`dspex: unknown command "${first}"\n\n${USAGE}`);
    return ExitCode.Usage;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout(command.help);
    return ExitCode.Ok;
  }
  // With --json, whatever goes wrong is JSON on stdout too: the wire's `{error: {code, message, …}}`.
  const json = rest.includes('--json');
  let options: unknown;
  try {
    options = await command.parse(rest, io.env);
  } catch (error) {
    if (json) io.stdout(errorJson(error));
    else {
      io.stderr(`dspex ${command.name}: ${describe(error)}`);
      io.stderr(`Run "dspex ${command.name} --help" for its options.`);
    }
    return ExitCode.Usage;
  }
  try {
    return await command.run(options, io);
  } catch (error) {
    if (json) io.stdout(errorJson(error));
    else io.stderr(`dspex ${command.name}: ${describe(error)}`);
    return ExitCode.Failed;
  }
}

/** An error as the wire's error body, for --json output. */
export function errorJson(error: unknown): string {
  const wire = isDspexError(error)
    ? error.toWire()
    : {
        code: ErrorCode.Internal,
        message: error instanceof Error ? error.message : String(error),
        retryable: false,
      };
  return JSON.stringify({ error: wire }, null, 2);
}

function describe(error: unknown): string {
  if (isDspexError(error)) {
    return error.status === 400 ? error.message : `${error.code}: ${error.message}`;
  }
  return error instanceof Error ? error.message : String(error);
}

/** Entry point of `bin/dspex.js`: runs the CLI on this process and exits with its code. */
export async function run(): Promise<void> {
  const code = await main(process.argv.slice(2));
  process.exitCode = code;
  // Everything is closed by now; should a stray handle keep the event loop alive, do not hang.
  setTimeout(() => process.exit(code), 2000).unref();
}
