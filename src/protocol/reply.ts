import type { Msg } from '@nats-io/nats-core';
import { DspexError, ErrorCode } from '../errors.js';
import { decode, type Encoding } from './codec.js';
import { Header } from './headers.js';
import { ErrorReplySchema } from './schemas.js';

/**
 * The body of a reply, decoded; an error reply (`Nats-Service-Error-Code` set) is thrown as the
 * {@link DspexError} it carries. `who` names the replier in the message of a malformed error reply.
 */
export function replyBody(msg: Msg, encoding: Encoding, who = 'peer'): unknown {
  const body = decode(msg.data, encoding);
  const status = msg.headers?.get(Header.ErrorCode);
  if (status === undefined || status === '') return body;
  const parsed = ErrorReplySchema.safeParse(body);
  throw parsed.success
    ? DspexError.fromWire(parsed.data.error, Number(status))
    : new DspexError(
        ErrorCode.Internal,
        `${who}: ${msg.headers?.get(Header.Error) ?? 'error reply without a body'}`,
      );
}
