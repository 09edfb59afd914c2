import type { NatsAuth } from './nats-connect.js';
import { DspexError, ErrorCode } from '../errors.js';

const usageError = (message: string, field: string): DspexError =>
  new DspexError(ErrorCode.BadRequest, message, { details: { field } });

/**
 * NATS server URLs with the credentials some of them carried (`nats://user:pass@host:4222`), and
 * whatever else the connection needs (nkey or creds file, TLS, inbox prefix).
 */
export interface NatsTarget extends NatsAuth {
  /** The URLs without credentials: what is safe to log and print. */
  servers: string[];
}

const WITH_CREDENTIALS = /^([a-z][a-z0-9+.-]*:\/\/)?([^@/]*)@(.+)$/i;

/**
 * Splits a comma-separated list of NATS URLs and lifts credentials out of them: the Node NATS client
 * takes credentials as options, not in the URL, while the Python workers and the `nats` CLI accept
 * them in it. `user:pass@` gives user and password, a bare `secret@` a token. URLs of one list must
 * carry the same credentials or none.
 */
export function parseNatsUrls(list: string, flag = '--nats'): NatsTarget {
  const urls = list
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (urls.length === 0) throw usageError(`${flag}: expected one or more NATS URLs`, flag);
  const target: NatsTarget = { servers: [] };
  let seen: string | undefined;
  for (const url of urls) {
    const m = WITH_CREDENTIALS.exec(url);
    if (m === null) {
      target.servers.push(url);
      continue;
    }
    const [, scheme = '', credentials = '', rest = ''] = m;
    if (seen !== undefined && seen !== credentials) {
      throw usageError(`${flag}: the URLs carry different credentials`, flag);
    }
    seen = credentials;
    target.servers.push(scheme + rest);
    const colon = credentials.indexOf(':');
    if (colon < 0) target.token = decode(credentials, flag);
    else {
      target.user = decode(credentials.slice(0, colon), flag);
      target.pass = decode(credentials.slice(colon + 1), flag);
    }
  }
  return target;
}

function decode(text: string, flag: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw usageError(`${flag}: credentials in the URL are not valid percent-encoding`, flag);
  }
}
