import { DspexError, ErrorCode } from '../errors.js';

/**
 * What a command may touch: its output streams, the environment and signals. Injected so tests
 * run commands in-process without touching the real process.
 */
export interface CliIo {
  stdout(line: string): void;
  stderr(line: string): void;
  env: NodeJS.ProcessEnv;
  /** Subscribes to SIGTERM/SIGINT; returns an unsubscribe function. */
  onSignal(listener: (signal: NodeJS.Signals) => void): () => void;
}

/** Exit codes: 0 success, 1 the operation failed, 2 the command line or the config is wrong. */
export const ExitCode = { Ok: 0, Failed: 1, Usage: 2 } as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/**
 * A subcommand. `parse` turns argv and the environment into options and throws a
 * {@link DspexError} naming the flag or field at fault (exit 2); `run` does the work and returns the
 * exit code, or throws (exit 1).
 */
export interface Command<T> {
  readonly name: string;
  readonly summary: string;
  readonly help: string;
  parse(argv: string[], env: NodeJS.ProcessEnv): Promise<T> | T;
  run(options: T, io: CliIo): Promise<ExitCode>;
}

/** A usage or config error: exit code 2, the message names the flag or field. */
export function usageError(message: string, field?: string): DspexError {
  return new DspexError(ErrorCode.BadRequest, message, {
    details: field === undefined ? undefined : { field },
  });
}

/** Runs a `node:util` `parseArgs` call, turning its errors into usage errors. */
export function parseFlags<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw usageError(error instanceof Error ? error.message : String(error));
  }
}

/** Parses a positive integer flag value, naming the flag when it is not one. */
export function positiveInt(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0)
    throw usageError(`${flag}: expected a positive integer, got "${value}"`, flag);
  return n;
}
