/**
 * How a dspex process authenticates to NATS and which inbox prefix it uses, for the three roles of
 * nats.conf: `node`, `worker`, `client`. One schema for the runtime config, the CLI and createClient;
 * one place that turns it into nats.js connection options.
 */
import { readFileSync } from 'node:fs';
import { credsAuthenticator, nkeyAuthenticator, type ConnectionOptions } from '@nats-io/nats-core';
import { z } from 'zod';

/** The roles of the shipped nats.conf. */
export const NatsRole = { Node: 'node', Worker: 'worker', Client: 'client' } as const;
export type NatsRole = (typeof NatsRole)[keyof typeof NatsRole];

/**
 * Default inbox prefix per role: replies to a process's requests arrive under `<prefix>.>`, and the
 * shipped nats.conf lets each role subscribe only to its own, so no role reads another's replies.
 */
export const DEFAULT_INBOX_PREFIX: Record<NatsRole, string> = {
  node: '_INBOX_node',
  worker: '_INBOX_worker',
  client: '_INBOX_client',
};

/** Subject tokens of letters, digits, `_` and `-`, joined by dots: no wildcards, no spaces. */
export const InboxPrefixSchema = z
  .string()
  .max(128)
  .regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, 'expected subject tokens ([A-Za-z0-9_-]) joined by "."');

const file = z.string().min(1);

/** TLS to the NATS server: a CA to trust and, for servers that verify clients, a certificate and key. */
export const NatsTlsSchema = z
  .strictObject({
    /** PEM CA bundle the server's certificate must chain to. @default the system's CAs */
    caFile: file.optional(),
    /** PEM client certificate (servers with `verify: true`); needs `keyFile`. */
    certFile: file.optional(),
    /** PEM private key of `certFile`. */
    keyFile: file.optional(),
    /** TLS before the NATS INFO (servers with `handshake_first`). @default false */
    handshakeFirst: z.boolean().optional(),
  })
  .refine((t) => (t.certFile === undefined) === (t.keyFile === undefined), {
    message: 'certFile and keyFile go together',
    path: ['keyFile'],
  });
export type NatsTls = z.infer<typeof NatsTlsSchema>;

/**
 * Credentials, TLS and inbox prefix of a NATS connection. At most one way to log in: `user`/`pass`,
 * `token`, `nkeySeedFile` (an nkey user's seed) or `credsFile` (a JWT `.creds` file, operator mode).
 * Files are read at every (re)connect, so they can be rotated in place.
 */
export const NatsAuthSchema = z.strictObject({
  user: z.string().optional(),
  pass: z.string().optional(),
  token: z.string().optional(),
  /** File holding an nkey user seed (`SU…`). */
  nkeySeedFile: file.optional(),
  /** A `.creds` file (user JWT and seed) for servers in operator/JWT mode. */
  credsFile: file.optional(),
  tls: NatsTlsSchema.optional(),
  /** @default the role's: `_INBOX_node`, `_INBOX_worker` or `_INBOX_client` */
  inboxPrefix: InboxPrefixSchema.optional(),
});
export type NatsAuth = z.infer<typeof NatsAuthSchema>;

/** The login methods `auth` names (a connection uses exactly one, or none). */
export function loginMethods(auth: NatsAuth): string[] {
  const methods: string[] = [];
  if (auth.user !== undefined || auth.pass !== undefined) methods.push('user/pass');
  if (auth.token !== undefined) methods.push('token');
  if (auth.nkeySeedFile !== undefined) methods.push('nkeySeedFile');
  if (auth.credsFile !== undefined) methods.push('credsFile');
  return methods;
}

/** True when `auth` logs in at all. */
export const authenticates = (auth: NatsAuth): boolean => loginMethods(auth).length > 0;

/** nats.js connection options for `servers` with `auth`, as `role`. */
export function natsConnectionOptions(
  servers: string[],
  auth: NatsAuth,
  role: NatsRole,
  name: string,
): ConnectionOptions {
  const options: ConnectionOptions = {
    servers,
    name,
    inboxPrefix: auth.inboxPrefix ?? DEFAULT_INBOX_PREFIX[role],
    // nats.js otherwise creates an Error per request to keep its stack for a later timeout: a
    // stack capture on every call, for a trace our own errors replace (they name the subject).
    noAsyncTraces: true,
  };
  if (auth.user !== undefined) options.user = auth.user;
  if (auth.pass !== undefined) options.pass = auth.pass;
  if (auth.token !== undefined) options.token = auth.token;
  const seedFile = auth.nkeySeedFile;
  if (seedFile !== undefined) options.authenticator = nkeyAuthenticator(() => readSeed(seedFile));
  const credsFile = auth.credsFile;
  if (credsFile !== undefined) options.authenticator = credsAuthenticator(() => readFileSync(credsFile));
  if (auth.tls !== undefined) {
    const { caFile, certFile, keyFile, handshakeFirst } = auth.tls;
    options.tls = {
      ...(caFile !== undefined && { caFile }),
      ...(certFile !== undefined && { certFile }),
      ...(keyFile !== undefined && { keyFile }),
      ...(handshakeFirst !== undefined && { handshakeFirst }),
    };
  }
  return options;
}

/** An nkey seed file's seed: the first line that starts with `S` (files may hold the public key too). */
export function readSeed(path: string): Uint8Array {
  const text = readFileSync(path, 'utf8');
  const line = text
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l.startsWith('S'));
  return new TextEncoder().encode(line ?? text.trim());
}

/**
 * The connection settings in the environment under `prefix` (`DSPEX_NATS_` by default): `USER`,
 * `PASSWORD`, `TOKEN`, `NKEY_SEED_FILE`, `CREDS_FILE`, `TLS_CA`, `TLS_CERT`, `TLS_KEY`,
 * `INBOX_PREFIX`. Unset and empty variables are left out.
 */
export function natsAuthFromEnv(env: NodeJS.ProcessEnv, prefix = 'DSPEX_NATS_'): NatsAuth {
  const get = (name: string): string | undefined => {
    const value = env[prefix + name];
    return value === undefined || value === '' ? undefined : value;
  };
  const auth: Record<string, unknown> = {};
  const put = (key: keyof NatsAuth, name: string): void => {
    const value = get(name);
    if (value !== undefined) auth[key] = value;
  };
  put('user', 'USER');
  put('pass', 'PASSWORD');
  put('token', 'TOKEN');
  put('nkeySeedFile', 'NKEY_SEED_FILE');
  put('credsFile', 'CREDS_FILE');
  put('inboxPrefix', 'INBOX_PREFIX');
  const tls = { caFile: get('TLS_CA'), certFile: get('TLS_CERT'), keyFile: get('TLS_KEY') };
  if (Object.values(tls).some((v) => v !== undefined)) {
    auth.tls = Object.fromEntries(Object.entries(tls).filter(([, v]) => v !== undefined));
  }
  return auth;
}

/** At most one way to log in to NATS. */
export function oneLogin(auth: NatsAuth, ctx: z.RefinementCtx): void {
  const methods = loginMethods(auth);
  if (methods.length > 1) {
    ctx.addIssue({ code: 'custom', message: `give one way to log in, not ${methods.join(' and ')}` });
  }
}
