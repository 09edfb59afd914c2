import { connect } from '@nats-io/transport-node';
import { createClient, type Client } from '../runtime/client.js';
import { explainConnectError } from '../nats/first-run.js';
import {
  natsAuthFromEnv,
  natsConnectionOptions,
  NatsRole,
  NatsAuthSchema,
  type NatsAuth,
} from '../nats/nats-connect.js';
import { parseNatsUrls, type NatsTarget } from '../nats/nats-url.js';
import { usageError } from './command.js';

/** A {@link Client} for one CLI command over its own connection; closing it closes the connection. */
export interface CliClient extends AsyncDisposable {
  readonly client: Client;
  readonly servers: string;
}

/** The `parseArgs` options every command that connects to NATS takes. */
export const CONNECTION_FLAGS = {
  nats: { type: 'string' },
  'nats-creds': { type: 'string' },
  'nats-nkey': { type: 'string' },
  'tls-ca': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'inbox-prefix': { type: 'string' },
} as const;

/** Values of {@link CONNECTION_FLAGS} as `parseArgs` returns them. */
export type ConnectionFlagValues = { [K in keyof typeof CONNECTION_FLAGS]?: string | undefined };

/** Help lines of {@link CONNECTION_FLAGS}, for each command's `--help`. */
export const CONNECTION_HELP = `  --nats URL[,URL]     NATS server URL(s), tls:// for TLS; user:password@ or token@ may be
                       inline, but prefer DSPEX_NATS_USER/PASSWORD/TOKEN (argv is visible
                       to every user of the host)  (default env DSPEX_NATS_URL, else
                       nats://127.0.0.1:4222)
  --nats-creds FILE    .creds file (JWT + seed; servers in operator mode) env DSPEX_NATS_CREDS_FILE
  --nats-nkey FILE     nkey seed file                                   env DSPEX_NATS_NKEY_SEED_FILE
  --tls-ca FILE        CA the server's certificate must chain to        env DSPEX_NATS_TLS_CA
  --tls-cert FILE      client certificate (servers that verify clients) env DSPEX_NATS_TLS_CERT
  --tls-key FILE       its private key                                  env DSPEX_NATS_TLS_KEY
  --inbox-prefix P     where replies arrive (default _INBOX_client; must match nats.conf)
                                                                        env DSPEX_NATS_INBOX_PREFIX`;

/**
 * The NATS target of a command: servers from `--nats`, else `DSPEX_NATS_URL`, else the local
 * default; login, TLS and inbox prefix from the flags, else credentials in the URL, else the
 * `DSPEX_NATS_*` environment. A bad combination is a usage error naming the flag.
 */
export function connectionTarget(values: ConnectionFlagValues, env: NodeJS.ProcessEnv): NatsTarget {
  const [urls, source] = natsUrlFrom(values.nats, env);
  const fromUrl = parseNatsUrls(urls, source);
  const fromEnv = natsAuthFromEnv(env);
  const flags: NatsTarget = { servers: fromUrl.servers };
  if (values['nats-creds'] !== undefined) flags.credsFile = values['nats-creds'];
  if (values['nats-nkey'] !== undefined) flags.nkeySeedFile = values['nats-nkey'];
  if (values['inbox-prefix'] !== undefined) flags.inboxPrefix = values['inbox-prefix'];
  const tls = { ...fromEnv.tls };
  if (values['tls-ca'] !== undefined) tls.caFile = values['tls-ca'];
  if (values['tls-cert'] !== undefined) tls.certFile = values['tls-cert'];
  if (values['tls-key'] !== undefined) tls.keyFile = values['tls-key'];
  const login = (t: NatsAuth): boolean =>
    t.user !== undefined ||
    t.token !== undefined ||
    t.nkeySeedFile !== undefined ||
    t.credsFile !== undefined;
  // One login: the flags', else the URL's, else the environment's.
  const source3 = login(flags) ? flags : login(fromUrl) ? fromUrl : fromEnv;
  const target: NatsTarget = {
    servers: fromUrl.servers,
    ...pick(source3),
    ...(fromEnv.inboxPrefix !== undefined && { inboxPrefix: fromEnv.inboxPrefix }),
    ...(flags.inboxPrefix !== undefined && { inboxPrefix: flags.inboxPrefix }),
    ...(Object.keys(tls).length > 0 && { tls }),
  };
  const { servers: _servers, ...auth } = target;
  const result = NatsAuthSchema.safeParse(auth);
  if (!result.success) {
    const issue = result.error.issues[0];
    const path = issue?.path.map(String).join('.') ?? '';
    throw usageError(
      `NATS connection: ${path === '' ? '' : path + ': '}${issue?.message ?? 'invalid'}`,
      path,
    );
  }
  return target;
}

function pick(t: NatsAuth): Partial<NatsTarget> {
  const out: Partial<NatsTarget> = {};
  if (t.user !== undefined) out.user = t.user;
  if (t.pass !== undefined) out.pass = t.pass;
  if (t.token !== undefined) out.token = t.token;
  if (t.nkeySeedFile !== undefined) out.nkeySeedFile = t.nkeySeedFile;
  if (t.credsFile !== undefined) out.credsFile = t.credsFile;
  return out;
}

/** Connects to `target` as a client (failing within `timeoutMs` rather than retrying forever). */
export async function connectClient(
  target: NatsTarget,
  prefix: string,
  timeoutMs: number,
): Promise<CliClient> {
  const servers = target.servers.join(',');
  let nc;
  try {
    nc = await connect({
      ...natsConnectionOptions(target.servers, target, NatsRole.Client, 'dspex-cli'),
      timeout: timeoutMs,
      maxReconnectAttempts: 0,
      // Fail at once with the server's reason (a refused certificate, a bad login) instead of
      // retrying until the timeout.
      reconnect: false,
    });
  } catch (error) {
    throw explainConnectError(error, target.servers, target, 'client');
  }
  const client = await createClient({ nc, prefix, timeoutMs });
  return {
    client,
    servers,
    [Symbol.asyncDispose]: () => nc.close(),
  };
}

/** `--nats`, else `DSPEX_NATS_URL`, else the local default. */
export function natsUrlFrom(flag: string | undefined, env: NodeJS.ProcessEnv): [string, string] {
  if (flag !== undefined) return [flag, '--nats'];
  if (env.DSPEX_NATS_URL) return [env.DSPEX_NATS_URL, 'DSPEX_NATS_URL'];
  return ['nats://127.0.0.1:4222', '--nats'];
}
