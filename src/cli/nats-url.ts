import { usageError } from './command.js';

/** NATS server URLs with the credentials some of them carried (`nats://user:pass@host:4222`). */
export interface NatsTarget {
  /** The URLs without credentials: what is safe to log and print. */
  servers: string[];
  user?: string;
  pass?: string;
  token?: string;
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

/** The first server of `target` with its credentials put back, for a process that takes one URL. */
export function urlWithCredentials(target: NatsTarget): string {
  const first = target.servers[0] ?? 'nats://127.0.0.1:4222';
  const credentials =
    target.user !== undefined
      ? `${encodeURIComponent(target.user)}:${encodeURIComponent(target.pass ?? '')}`
      : target.token !== undefined
        ? encodeURIComponent(target.token)
        : undefined;
  if (credentials === undefined) return first;
  const m = /^([a-z][a-z0-9+.-]*:\/\/)?(.+)$/i.exec(first);
  return `${m?.[1] ?? 'nats://'}${credentials}@${m?.[2] ?? first}`;
}

function decode(text: string, flag: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw usageError(`${flag}: credentials in the URL are not valid percent-encoding`, flag);
  }
}
