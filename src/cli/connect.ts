import { connect } from '@nats-io/transport-node';
import { createClient, type Client } from '../runtime/client.js';
import { DspexError, ErrorCode } from '../errors.js';
import type { NatsTarget } from './nats-url.js';

/** A {@link Client} for one CLI command over its own connection; closing it closes the connection. */
export interface CliClient extends AsyncDisposable {
  readonly client: Client;
  readonly servers: string;
}

/** Connects to `target` (failing within `timeoutMs` rather than retrying forever). */
export async function connectClient(
  target: NatsTarget,
  prefix: string,
  timeoutMs: number,
): Promise<CliClient> {
  const servers = target.servers.join(',');
  let nc;
  try {
    nc = await connect({
      servers: target.servers,
      user: target.user,
      pass: target.pass,
      token: target.token,
      name: 'dspex-cli',
      timeout: timeoutMs,
      maxReconnectAttempts: 0,
    });
  } catch (error) {
    throw new DspexError(
      ErrorCode.Unavailable,
      `cannot connect to NATS at ${servers}: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
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
