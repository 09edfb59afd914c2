/**
 * What a new user gets wrong first about NATS, as one-line errors that name the fix: no server at
 * the URL, a login the server refuses, a server without JetStream. Used by `createRuntime` and by
 * every CLI command that connects, so both say the same thing.
 */
import { JetStreamApiCodes, JetStreamApiError, jetstreamManager } from '@nats-io/jetstream';
import {
  AuthorizationError,
  ConnectionError,
  TimeoutError,
  UserAuthenticationExpiredError,
  type NatsConnection,
} from '@nats-io/nats-core';
import { DspexError, ErrorCode } from '../errors.js';
import { loginMethods, type NatsAuth } from './nats-connect.js';
import { parseNatsUrls } from './nats-url.js';

/** Who is connecting: a node (may start a private server) or a CLI client. */
export type Connector = 'node' | 'client';

/** Server URLs safe to print: credentials written in them are dropped. */
export function printableServers(servers: string[]): string {
  try {
    return parseNatsUrls(servers.join(',')).servers.join(',');
  } catch {
    return servers.map((s) => s.replace(/\/\/[^@/]*@/, '//')).join(',');
  }
}

const LOGIN_SETTINGS =
  'DSPEX_NATS_USER and DSPEX_NATS_PASSWORD, DSPEX_NATS_TOKEN, --nats-creds FILE or --nats-nkey FILE';

/**
 * The error of a failed first connect to `servers`, naming the fix. `auth` is the login that was
 * tried (with credentials lifted out of the URLs, if any).
 */
export function explainConnectError(
  error: unknown,
  servers: string[],
  auth: NatsAuth,
  who: Connector,
): DspexError {
  const at = printableServers(servers);
  const reason = error instanceof Error ? error.message : String(error);
  const inUrl = servers.some((s) => /\/\/[^@/]*@/.test(s));
  const methods = loginMethods(auth);
  const login =
    methods.length > 0
      ? methods.join(', ') + (auth.user !== undefined ? ` (user "${auth.user}")` : '')
      : inUrl
        ? 'credentials in the URL'
        : 'no login';
  let message: string;
  let fix: string;
  if (error instanceof AuthorizationError || error instanceof UserAuthenticationExpiredError) {
    const expired = error instanceof UserAuthenticationExpiredError;
    message = `NATS at ${at} refused the login (${login}): ${expired ? 'the credentials expired' : 'authorization violation'}`;
    fix =
      methods.length === 0 && !inUrl
        ? `the server requires a login: set ${LOGIN_SETTINGS}`
        : `check the ${login} against the server's accounts (nats.conf), or log in with ${LOGIN_SETTINGS}`;
  } else if (error instanceof TimeoutError) {
    message = `no answer from NATS at ${at} (${reason})`;
    fix =
      'check the host and port, that a firewall lets the connection through, and that the scheme ' +
      'matches the server (tls:// for a TLS server)';
  } else if (error instanceof ConnectionError) {
    message = `cannot reach NATS at ${at}: ${reason}`;
    fix =
      who === 'node'
        ? 'start a server there (`nats-server -js`), point --nats / DSPEX_NATS_URL at a running one, ' +
          'or leave both unset and dspex node starts a private nats-server'
        : 'start a node there (`npx dspex node` starts one with its own nats-server and prints its URL), ' +
          'or point --nats / DSPEX_NATS_URL at a running server';
  } else {
    message = `cannot connect to NATS at ${at}: ${reason}`;
    fix = 'check --nats / DSPEX_NATS_URL and the TLS settings (--tls-ca, --tls-cert, --tls-key)';
  }
  const retryable = !(error instanceof AuthorizationError || error instanceof UserAuthenticationExpiredError);
  return new DspexError(ErrorCode.Unavailable, `${message}. Fix: ${fix}`, {
    retryable,
    cause: error,
    details: { servers: at, fix },
  });
}

/**
 * Resolves when the server behind `nc` has JetStream for this account; otherwise rejects with an
 * error naming what needs it (`features`) and the fix. Waits at most `timeoutMs`.
 */
export async function requireJetStream(
  nc: NatsConnection,
  servers: string[],
  features: string[],
  timeoutMs = 5000,
): Promise<void> {
  try {
    // Checks the account's JetStream (`$JS.API.INFO`) before returning.
    await jetstreamManager(nc, { timeout: timeoutMs });
  } catch (error) {
    if (!notEnabled(error)) throw error;
    const at = printableServers(servers);
    const fix =
      'start nats-server with JetStream (`nats-server -js`, or `jetstream { store_dir: … }` in its config; ' +
      'for an account, `jetstream: enabled` under it), or turn those features off ' +
      `(${features.map((f) => `${f}.enabled: false`).join(', ')})`;
    throw new DspexError(
      ErrorCode.Unavailable,
      `NATS at ${at} has no JetStream, which ${features.join(', ')} need. Fix: ${fix}`,
      { retryable: false, cause: error, details: { servers: at, fix } },
    );
  }
}

/** JetStream off on the server (no responder on `$JS.API.INFO`) or for the account. */
function notEnabled(error: unknown): boolean {
  // nats.js does not export the JetStreamNotEnabled class, only its name.
  if (error instanceof Error && error.name === 'JetStreamNotEnabled') return true;
  return error instanceof JetStreamApiError && error.code === JetStreamApiCodes.JetStreamNotEnabledForAccount;
}
