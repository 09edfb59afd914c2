import { RequestError, type ConnectionOptions, type NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { DspexError, ErrorCode } from '../errors.js';
import { encode, Encoding } from '../protocol/codec.js';
import { Header, wireHeaders } from '../protocol/headers.js';
import { predictReplyOf, replyBody } from '../protocol/reply.js';
import {
  StatusReplySchema,
  type PredictReply,
  type PredictRequest,
  type StatusReply,
} from '../protocol/schemas.js';
import { subjects as makeSubjects } from '../protocol/subjects.js';
import { natsAuthFromEnv, natsConnectionOptions, NatsRole, type NatsAuth } from '../nats/nats-connect.js';

/**
 * Options of {@link createClient}. Login, TLS and inbox prefix ({@link NatsAuth}) apply when the
 * client opens its own connection: give one login (`user`/`pass`, `token`, `nkeySeedFile` or
 * `credsFile`); the inbox prefix defaults to `_INBOX_client`, the one the shipped nats.conf lets the
 * `client` user read. Env `DSPEX_NATS_URL` and `DSPEX_NATS_*` fill in what is not given.
 */
export interface ClientOptions extends NatsAuth {
  /** NATS URL(s) of the cluster. Ignored when `nc` is given. */
  servers?: string | string[];
  /**
   * An existing connection to use (not closed by the client). Its inbox prefix must be one its
   * NATS user may subscribe to (`connect({ inboxPrefix: '_INBOX_client', … })` with nats.conf).
   */
  nc?: NatsConnection;
  /** @default 'dspex' */
  prefix?: string;
  /** Default time a call may take. @default 60000 */
  timeoutMs?: number;
}

/** Per-call options of a {@link Client}. */
export interface ClientCallOptions {
  /** Absolute deadline, unix ms (sent as `Dspex-Deadline`). */
  deadline?: number;
  trace?: string;
  /** Body encoding on the wire. @default 'msgpack' */
  encoding?: Encoding;
}

/**
 * A remote caller of a dspex cluster over the public wire protocol: what any NATS client can do,
 * packaged for Node. It runs no workers and needs no runtime node in this process.
 */
export interface Client extends AsyncDisposable {
  readonly nc: NatsConnection;
  predict(request: PredictRequest, options?: ClientCallOptions): Promise<PredictReply>;
  status(options?: ClientCallOptions): Promise<StatusReply>;
  close(): Promise<void>;
}

export async function createClient(options: ClientOptions = {}): Promise<Client> {
  const owned = options.nc === undefined;
  const nc = options.nc ?? (await connect(clientConnectionOptions(options)));
  const subjects = makeSubjects(options.prefix);
  const timeoutMs = options.timeoutMs ?? 60_000;

  async function call(endpoint: string, body: unknown, o: ClientCallOptions): Promise<unknown> {
    const encoding = o.encoding ?? Encoding.Msgpack;
    const deadline = o.deadline ?? Date.now() + timeoutMs;
    const h = wireHeaders({
      [Header.Deadline]: deadline,
      [Header.ContentType]: encoding === Encoding.Json ? 'application/json' : undefined,
      [Header.Trace]: o.trace,
    });
    let msg;
    try {
      // A little slack past the deadline so the node's own 408 reply arrives rather than our timeout.
      msg = await nc.request(subjects.rpc(endpoint), encode(body, encoding), {
        timeout: Math.max(1, deadline - Date.now() + 250),
        headers: h,
      });
    } catch (error) {
      if (error instanceof RequestError && error.isNoResponders()) {
        throw new DspexError(ErrorCode.Unavailable, `no dspex node answers ${subjects.rpc(endpoint)}`, {
          cause: error,
        });
      }
      throw new DspexError(ErrorCode.DeadlineExceeded, `no reply to ${subjects.rpc(endpoint)} in time`, {
        cause: error,
      });
    }
    return replyBody(msg, encoding);
  }

  const close = async (): Promise<void> => {
    if (owned) await nc.close();
  };
  return {
    nc,
    predict: async (request, o = {}) => {
      const reply = predictReplyOf(await call('predict', request, o));
      if (reply === undefined) {
        throw new DspexError(
          ErrorCode.Internal,
          `${subjects.rpc('predict')}: the node sent a malformed reply`,
        );
      }
      return reply;
    },
    status: async (o = {}) => StatusReplySchema.parse(await call('status', {}, o)),
    close,
    [Symbol.asyncDispose]: close,
  };
}

function clientConnectionOptions(options: ClientOptions): ConnectionOptions {
  const { servers, nc: _nc, prefix: _prefix, timeoutMs: _timeout, ...given } = options;
  const env = natsAuthFromEnv(process.env);
  const logsIn = (a: NatsAuth): boolean =>
    a.user !== undefined ||
    a.token !== undefined ||
    a.nkeySeedFile !== undefined ||
    a.credsFile !== undefined;
  const auth: NatsAuth = logsIn(given) ? { ...given } : { ...env, ...given };
  const list = [servers ?? process.env.DSPEX_NATS_URL?.split(',') ?? 'nats://127.0.0.1:4222'].flat();
  return natsConnectionOptions(list, auth, NatsRole.Client, 'dspex-client');
}
