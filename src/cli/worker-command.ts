import { parseArgs } from 'node:util';
import { isSubjectToken } from '../protocol/subjects.js';
import { deriveWorkerKey, loadWorkerSecrets } from '../runtime/worker-identity.js';
import { ExitCode, parseFlags, usageError, type Command } from './command.js';

export interface WorkerCommandOptions {
  ids: string[];
  secret: Buffer;
}

const HELP = `Usage: dspex worker key --id ID [--id ID …] [--secret-file FILE]

Prints the worker key of each worker id, one "ID KEY" line each, derived from the cluster worker
secret. A worker started by hand on another host needs the key of its own id (and never the
secret, from which every key can be derived):

  dspex worker key --id gpu-1 > gpu-1.key          # where the secret is; chmod 600, copy over
  dspex-worker --pool neural --id gpu-1 --worker-key-file gpu-1.key …
  # --count N: one file with the keys of ID-0 … ID-(N-1)

Options:
  --id ID              worker id (letters, digits, "_", "-"); repeatable
  --secret-file FILE   the cluster worker secret (its first line: the current secret)
                                                                env DSPEX_WORKER_SECRET_FILE
                       (or env DSPEX_WORKER_SECRET; never on the command line)
  -h, --help           show this help

Exit codes: 0 printed, 2 bad flags or no secret.`;

/** `dspex worker key`: the keys hand-started workers sign with (docs/security.md). */
export const workerCommand: Command<WorkerCommandOptions> = {
  name: 'worker',
  summary: 'print worker keys for hand-started workers',
  help: HELP,

  parse(argv, env) {
    const { values, positionals } = parseFlags(() =>
      parseArgs({
        args: argv,
        strict: true,
        allowPositionals: true,
        options: {
          id: { type: 'string', multiple: true },
          'secret-file': { type: 'string' },
        },
      }),
    );
    if (positionals[0] !== 'key' || positionals.length > 1) {
      throw usageError('expected the verb "key": dspex worker key --id ID', 'verb');
    }
    const ids = values.id ?? [];
    if (ids.length === 0) throw usageError('--id is required', '--id');
    for (const id of ids) {
      if (!isSubjectToken(id) || id.length > 128) {
        throw usageError(`--id: expected letters, digits, "_" or "-", got "${id.slice(0, 80)}"`, '--id');
      }
    }
    const flag = values['secret-file'];
    const secret =
      flag !== undefined
        ? loadWorkerSecrets(undefined, flag)?.[0]
        : loadWorkerSecrets(
            env.DSPEX_WORKER_SECRET || undefined,
            env.DSPEX_WORKER_SECRET_FILE || undefined,
          )?.[0];
    if (secret === undefined) {
      throw usageError(
        'no cluster worker secret: give --secret-file or DSPEX_WORKER_SECRET_FILE',
        '--secret-file',
      );
    }
    return { ids, secret };
  },

  run({ ids, secret }, io) {
    for (const id of ids) io.stdout(`${id} ${deriveWorkerKey(secret, id).toString('hex')}`);
    return Promise.resolve(ExitCode.Ok);
  },
};
