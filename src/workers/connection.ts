/**
 * How local workers reach NATS, and the handoff that carries their secrets. A worker's command line
 * holds only the server URLs (no credentials); its login, TLS files, inbox prefix and worker key are
 * written as one JSON object on a pipe (fd 3) that the worker reads once at start and closes. Nothing
 * secret is in its argv or its environment (`/proc/<pid>/cmdline`, `/proc/<pid>/environ`).
 */
import type { Logger } from 'pino';
import { DspexError, ErrorCode } from '../errors.js';
import { authenticates, DEFAULT_INBOX_PREFIX, type NatsAuth } from '../nats/nats-connect.js';
import { parseNatsUrls } from '../nats/nats-url.js';

/** The file descriptor the handoff is written to (`dspex-worker --secrets-fd 3`). */
export const HANDOFF_FD = 3;

/** The servers and login of a node's local workers. */
export interface WorkerConnection {
  /** Server URLs without credentials: safe for argv and logs. */
  servers: string[];
  auth: NatsAuth;
}

/**
 * Resolves the local workers' connection: `natsUrl` (credentials in it are lifted out), `workerAuth`
 * (wins), and for whatever login or TLS neither gives, the node's own, with a warning: with the
 * shipped nats.conf workers should log in as `worker`, not as the node.
 */
export function resolveWorkerConnection(
  nodeServers: string[],
  nodeAuth: NatsAuth,
  natsUrl: string | undefined,
  workerAuth: NatsAuth | undefined,
  logger: Logger,
): WorkerConnection {
  const fromUrl = natsUrl === undefined ? undefined : parseNatsUrls(natsUrl, 'worker.natsUrl');
  const servers = fromUrl?.servers ?? nodeServers;
  const urlLogin: NatsAuth = {
    ...(fromUrl?.user !== undefined && { user: fromUrl.user }),
    ...(fromUrl?.pass !== undefined && { pass: fromUrl.pass }),
    ...(fromUrl?.token !== undefined && { token: fromUrl.token }),
  };
  const given = workerAuth ?? {};
  if (authenticates(urlLogin) && authenticates(given)) {
    throw new DspexError(
      ErrorCode.BadRequest,
      'worker: credentials both in worker.natsUrl and in worker.nats; give them once',
      { details: { field: 'worker.nats' } },
    );
  }
  let auth: NatsAuth = { ...urlLogin, ...given };
  const inherited: string[] = [];
  if (!authenticates(auth) && authenticates(nodeAuth)) {
    const { user, pass, token, nkeySeedFile, credsFile } = nodeAuth;
    auth = { ...auth, user, pass, token, nkeySeedFile, credsFile };
    inherited.push('login');
  }
  if (auth.tls === undefined && nodeAuth.tls !== undefined) {
    auth = { ...auth, tls: nodeAuth.tls };
    if (nodeAuth.tls.certFile !== undefined) inherited.push('client certificate');
  }
  if (inherited.length > 0) {
    logger.warn(
      { inherited },
      `local workers connect with the node's own ${inherited.join(' and ')}: give them the worker ` +
        "user's (worker.nats, DSPEX_WORKER_NATS_*) so a worker cannot act as a node",
    );
  }
  return { servers, auth: { ...auth, inboxPrefix: auth.inboxPrefix ?? DEFAULT_INBOX_PREFIX.worker } };
}

/** The JSON a worker reads from {@link HANDOFF_FD}; `key` is the worker's own key (hex), if any. */
export function handoffJson(auth: NatsAuth, key?: Buffer): string {
  const body: Record<string, string> = {};
  const put = (name: string, value: string | undefined): void => {
    if (value !== undefined) body[name] = value;
  };
  put('user', auth.user);
  put('password', auth.pass);
  put('token', auth.token);
  put('nkey_seed_file', auth.nkeySeedFile);
  put('creds_file', auth.credsFile);
  put('tls_ca', auth.tls?.caFile);
  put('tls_cert', auth.tls?.certFile);
  put('tls_key', auth.tls?.keyFile);
  put('inbox_prefix', auth.inboxPrefix);
  put('worker_key', key?.toString('hex'));
  return JSON.stringify(body);
}
