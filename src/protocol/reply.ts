import type { Msg } from '@nats-io/nats-core';
import { DspexError, ErrorCode } from '../errors.js';
import { decode, type Encoding } from './codec.js';
import { Header } from './headers.js';
import { ErrorReplySchema, type PredictReply } from './schemas.js';

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

const isMap = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v);

/**
 * A predict reply's shape checked by hand, as `PredictReplySchema` would (a map `outputs`, a string
 * `worker`, a finite `latency_ms` ≥ 0, an optional map `usage`; other keys dropped), without a
 * schema walk: every call's reply passes here. Undefined when the shape is wrong.
 */
export function predictReplyOf(value: unknown): PredictReply | undefined {
  if (!isMap(value)) return undefined;
  const { outputs, worker, latency_ms: latency, usage } = value;
  if (!isMap(outputs) || typeof worker !== 'string') return undefined;
  if (typeof latency !== 'number' || !Number.isFinite(latency) || latency < 0) return undefined;
  if (usage !== undefined && !isMap(usage)) return undefined;
  const reply: PredictReply = { outputs, worker, latency_ms: latency };
  if (usage !== undefined) reply.usage = usage;
  return reply;
}
