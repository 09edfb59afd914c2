/**
 * Checks, before a node starts any pool, that the worker command it would run exists: a missing
 * Python worker is then one error naming the fix at once, instead of a crash loop of every pool.
 */
import { delimiter, join } from 'node:path';
import { DspexError, ErrorCode } from '../errors.js';
import { executable, locateWorker } from './location.js';

const INSTALL_FIX =
  'run `npx dspex worker install` (needs Python 3.11+), or set DSPEX_WORKER_BIN to a dspex-worker; ' +
  'pools of size 0 use workers started on other hosts instead';

/**
 * The worker command to start: `configured` (the runtime's `worker.command`) if its program can be
 * run, else the one {@link locateWorker} finds. Throws a 503 naming the fix when there is none.
 */
export function resolveWorkerCommand(
  configured: string[] | undefined,
  env: NodeJS.ProcessEnv = process.env,
): string[] {
  if (configured !== undefined) {
    const [bin = ''] = configured;
    if (!runnable(bin, env)) {
      throw missing(
        `the worker command ${bin} (worker.command) is not an executable file`,
        'point worker.command at a dspex-worker, or leave it unset to use the one ' +
          '`npx dspex worker install` makes',
      );
    }
    return configured;
  }
  const found = locateWorker({ env });
  const [bin = ''] = found.command;
  if (found.source === 'none') {
    throw missing(`no Python DSPy worker found (checked ${found.checked.join('; ')})`, INSTALL_FIX);
  }
  if (found.source === 'env' && !runnable(bin, env)) {
    throw missing(
      `DSPEX_WORKER_BIN=${bin} is not an executable file`,
      'point it at a dspex-worker, or unset it and run `npx dspex worker install`',
    );
  }
  return found.command;
}

/** The fix for workers that were started but kept crashing before they came up. */
export const WORKER_CRASH_FIX =
  "read the workers' log lines; `npx dspex worker path` shows which worker runs and " +
  '`npx dspex worker install --force` reinstalls it';

function missing(message: string, fix: string): DspexError {
  return new DspexError(ErrorCode.Unavailable, `${message}. Fix: ${fix}`, {
    retryable: false,
    details: { field: 'worker.command', fix },
  });
}

/** A path with a `/` that may be executed, or a name found executable on `PATH`. */
function runnable(bin: string, env: NodeJS.ProcessEnv): boolean {
  if (bin.includes('/')) return executable(bin);
  return (env.PATH ?? '').split(delimiter).some((dir) => dir !== '' && executable(join(dir, bin)));
}
