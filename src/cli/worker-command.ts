import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { isDspexError } from '../errors.js';
import { VERSION } from '../version.js';
import {
  executable,
  locateWorker,
  packageRoot,
  workerCacheDir,
  type WorkerSource,
} from '../workers/location.js';
import { ExitCode, parseFlags, usageError, type CliIo, type Command } from './command.js';
import { installWorker } from './worker-install.js';
import { parseWorkerKey, printWorkerKeys, WORKER_KEY_HELP, type WorkerKeyOptions } from './worker-key.js';

export type WorkerCommandOptions =
  | { action: 'install'; python: string | undefined; force: boolean }
  | { action: 'path' }
  | ({ action: 'key' } & WorkerKeyOptions);

const HELP = `Usage: dspex worker install [--python PATH] [--force]
       dspex worker path
       dspex worker key --id ID [--id ID …] [--secret-file FILE]

install  creates the Python worker for this dspex version: a venv in
         $XDG_CACHE_HOME/dspex/worker-${VERSION} (default ~/.cache/dspex/worker-${VERSION})
         with the worker package shipped in dspex's python/ folder and the exact
         dependency pins of its runtime lock (pip; needs the package index once).
         The runtime finds it there with no configuration.
  --python PATH  the interpreter to build the venv with (Python 3.11 or newer;
                 default: the first of python3, python3.13, python3.12, python3.11 that is)
  --force        reinstall even when a complete install is already there

path     prints the worker command the runtime would start, found in this order:
         env DSPEX_WORKER_BIN, this package's python/.venv (a source checkout, the
         Docker image), the venv made by \`dspex worker install\`, dspex-worker on PATH.

${WORKER_KEY_HELP}

Exit codes: 0 done, 1 the install failed or no worker was found (the message says
how to fix it), 2 bad flags or no worker secret.`;

const SOURCE_TEXT: Record<WorkerSource, string> = {
  env: 'from DSPEX_WORKER_BIN',
  checkout: "this package's python/.venv",
  cache: 'installed by `dspex worker install`',
  path: 'dspex-worker found on PATH',
  none: 'not found',
};

/** `dspex worker install|path`: makes a Python worker available to package users, or shows which one runs. */
export const workerCommand: Command<WorkerCommandOptions> = {
  name: 'worker',
  summary: 'install the Python worker, show which one runs, or print keys of hand-started workers',
  help: HELP,

  parse(argv, env) {
    const [action, ...rest] = argv;
    if (action === 'key') return { action, ...parseWorkerKey(rest, env) };
    if (action === 'path') {
      parseFlags(() => parseArgs({ args: rest, strict: true, allowPositionals: false, options: {} }));
      return { action };
    }
    if (action !== 'install') {
      throw usageError(
        action === undefined
          ? 'expected a subcommand: install, path or key'
          : `unknown subcommand "${action}" (expected install, path or key)`,
        'subcommand',
      );
    }
    const { values } = parseFlags(() =>
      parseArgs({
        args: rest,
        strict: true,
        allowPositionals: false,
        options: { python: { type: 'string' }, force: { type: 'boolean', default: false } },
      }),
    );
    if (values.python === '') throw usageError('--python: expected a path', '--python');
    return { action, python: values.python, force: values.force };
  },

  async run(options, io) {
    switch (options.action) {
      case 'path':
        return path(io);
      case 'install':
        return install(options, io);
      case 'key':
        printWorkerKeys(options, io);
        return ExitCode.Ok;
      default: {
        const never: never = options;
        throw new Error(`unknown worker action ${String(never)}`);
      }
    }
  },
};

function path(io: CliIo): ExitCode {
  const found = locateWorker({ env: io.env });
  if (found.source === 'none') {
    io.stderr(
      `dspex worker path: no worker found (checked ${found.checked.join('; ')}). ` +
        'Fix: run `npx dspex worker install`, or set DSPEX_WORKER_BIN to a dspex-worker.',
    );
    return ExitCode.Failed;
  }
  const [bin = ''] = found.command;
  if (found.source === 'env' && bin.includes('/') && !executable(bin)) {
    io.stderr(
      `dspex worker path: DSPEX_WORKER_BIN=${bin} is not an executable file. ` +
        'Fix: point it at a dspex-worker, or unset it and run `npx dspex worker install`.',
    );
    return ExitCode.Failed;
  }
  io.stdout(found.command.join(' '));
  io.stderr(`(${SOURCE_TEXT[found.source]})`);
  return ExitCode.Ok;
}

async function install(
  options: { python: string | undefined; force: boolean },
  io: CliIo,
): Promise<ExitCode> {
  const started = Date.now();
  const target = workerCacheDir(io.env);
  try {
    const result = await installWorker({
      sourceDir: join(packageRoot(), 'python'),
      target,
      python: options.python,
      force: options.force,
      version: VERSION,
      env: io.env,
      progress: (line) => io.stderr(line),
    });
    if (!result.reused)
      io.stderr(`installed ${result.bin} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    io.stdout(result.bin);
  } catch (error) {
    if (!isDspexError(error)) throw error;
    io.stderr(`dspex worker install: ${error.message}`);
    return ExitCode.Failed;
  }
  const runs = locateWorker({ env: io.env });
  if (runs.source !== 'cache')
    io.stderr(
      `note: the runtime will start ${runs.command.join(' ')} (${SOURCE_TEXT[runs.source]}), which comes before this venv`,
    );
  return ExitCode.Ok;
}
