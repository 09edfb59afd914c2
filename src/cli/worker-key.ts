import { parseArgs } from 'node:util';
import { isName, NameKind, nameRule, preview } from '../protocol/names.js';
import { deriveWorkerKey, loadWorkerSecrets } from '../workers/identity.js';
import { parseFlags, usageError, type CliIo } from './command.js';

/** What `dspex worker key` needs: the ids to print keys for and the cluster worker secret. */
export interface WorkerKeyOptions {
  ids: string[];
  secret: Buffer;
}

export const WORKER_KEY_HELP = `key      prints the worker key of each worker id, one "ID KEY" line each, derived
         from the cluster worker secret. A worker started by hand on another host
         needs the key of its own id (and never the secret, from which every key
         can be derived):
           dspex worker key --id gpu-1 > gpu-1.key   # where the secret is; chmod 600
           dspex-worker --pool neural --id gpu-1 --worker-key-file gpu-1.key …
           # --count N: one file with the keys of ID-0 … ID-(N-1)
  --id ID              worker id (letters, digits, "_", "-"); repeatable
  --secret-file FILE   the cluster worker secret (its first line: the current secret);
                       env DSPEX_WORKER_SECRET_FILE (or DSPEX_WORKER_SECRET; never argv)`;

/** Parses the flags of `dspex worker key` (after the verb). */
export function parseWorkerKey(argv: string[], env: NodeJS.ProcessEnv): WorkerKeyOptions {
  const { values } = parseFlags(() =>
    parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        id: { type: 'string', multiple: true },
        'secret-file': { type: 'string' },
      },
    }),
  );
  const ids = values.id ?? [];
  if (ids.length === 0) throw usageError('--id is required', '--id');
  for (const id of ids) {
    if (!isName(NameKind.Worker, id)) {
      throw usageError(`--id: ${nameRule(NameKind.Worker)}, got "${preview(id)}"`, '--id');
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
}

/** Prints one `ID KEY` line per id. */
export function printWorkerKeys({ ids, secret }: WorkerKeyOptions, io: CliIo): void {
  for (const id of ids) io.stdout(`${id} ${deriveWorkerKey(secret, id).toString('hex')}`);
}
