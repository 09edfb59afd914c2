import type { MsgHdrs, NatsConnection } from '@nats-io/nats-core';
import { Svcm, type Service, type ServiceMsg } from '@nats-io/services';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { DspexError, ErrorCode, toDspexError, type WireError } from '../errors.js';
import {
  decode,
  encode,
  Encoding,
  encodingOf,
  errorBody,
  errorHeaders,
  MAX_REQUEST_DEPTH,
  replyHeaders,
} from '../protocol/codec.js';
import { Header, traceOf, wireHeaders } from '../protocol/headers.js';
import { isName, NameKind, nameRule, preview } from '../protocol/names.js';
import { parseMessage } from '../protocol/schemas.js';
import type { Subjects } from '../protocol/subjects.js';
import type { RuntimeMetrics } from '../telemetry/metrics.js';
import type { InflightGate } from './inflight-gate.js';
import { endpointStats, type EndpointStats } from '../telemetry/service-stats.js';
import { withRequestTrace } from '../telemetry/call-trace.js';

/** What an endpoint handler learns from the request besides its body. */
export interface RequestContext {
  /** Absolute deadline, unix ms: the `Dspex-Deadline` header or now + the node's call timeout. */
  deadline: number;
  trace: string | undefined;
  /** `Dspex-Session` header. */
  session: string | undefined;
  /**
   * Set by the handler when its reply depends on nothing but the request bytes (and encoding): the
   * endpoint's {@link ReplyCache} then keeps the encoded reply for them.
   */
  reusable?: boolean;
}

/**
 * Encoded replies by exact request bytes (the front cache), consulted before a request is decoded.
 * Only requests without `Dspex-Trace` or `Dspex-Session` and with a deadline still ahead reach
 * it: those headers change the reply, and a passed deadline is a 408.
 */
export interface ReplyCache {
  get(request: Uint8Array, encoding: Encoding): Uint8Array | undefined;
  set(request: Uint8Array, encoding: Encoding, reply: Uint8Array): void;
}

/** One endpoint of the public service: its body schema and its handler. */
export interface EndpointDefinition<S extends z.ZodType> {
  name: string;
  /** Subject under `<prefix>.rpc.` when it differs from `name` (names cannot hold dots: `var.get`). */
  subject?: string;
  schema: S;
  handle(body: z.infer<S>, context: RequestContext): Promise<unknown>;
  /**
   * Admission before validation: sees the decoded, unvalidated body (treat it as hostile) and may
   * refuse the request at once, synchronously and without throwing (a 429 that costs a decode).
   */
  admit?(raw: unknown, context: RequestContext): Refusal | undefined;
  /** Replies kept by request bytes: a hit is answered before admission, decoding and validation. */
  replies?: ReplyCache;
}

/** A request refused before validation: its status and wire error (no exception, no stack trace). */
export interface Refusal {
  status: number;
  error: WireError;
  /**
   * Refusals with the same key have the same status and error: their reply is encoded once and
   * reused (a burst of them costs a lookup each).
   */
  key?: string;
}

/** Encoded refusal replies kept, at most (one per pool and reason in practice). */
const REFUSALS_KEPT = 256;

export interface ServiceOptions {
  nc: NatsConnection;
  subjects: Subjects;
  nodeId: string;
  version: string;
  maxPayloadBytes: number;
  callTimeoutMs: number;
  logger: Logger;
  metrics: RuntimeMetrics;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- endpoints have different schemas
  endpoints: Array<EndpointDefinition<any>>;
  /** Requests in progress per endpoint, checked before a body is decoded (429 past the limit). */
  admission?: InflightGate;
}

/**
 * Serves the public endpoints as the NATS Services service `dspex` (queue group `dspex`), so
 * `$SRV.PING|INFO|STATS.dspex` discovery works. Every request gets a reply: admission (429 before
 * decoding), decode, size and schema failures are 4xx replies naming the field, a handler's failure
 * is a 500 and a log line, and nothing here throws or rejects.
 */
export async function startService(o: ServiceOptions): Promise<Service> {
  const service = await new Svcm(o.nc).add({
    name: 'dspex',
    version: o.version,
    queue: 'dspex',
    description: 'dspex runtime node: DSPy over NATS',
    metadata: { node: o.nodeId, prefix: o.subjects.prefix },
  });
  for (const endpoint of o.endpoints) {
    const overloaded = overloadReplies(endpoint.name);
    service.addEndpoint(endpoint.name, {
      subject: o.subjects.rpc(endpoint.subject ?? endpoint.name),
      handler: (err, msg) => {
        if (err !== null) {
          o.logger.error({ err, endpoint: endpoint.name }, 'service endpoint stopped');
          return;
        }
        const started = performance.now();
        if (endpoint.replies !== undefined && answerFromCache(o, endpoint.replies, endpoint.name, msg)) {
          stats.done(started, undefined);
          return;
        }
        if (o.admission !== undefined && !o.admission.enter(endpoint.name)) {
          refuse(o, endpoint.name, msg, overloaded);
          stats.done(started, overloaded.error.message);
          return;
        }
        void serve(o, endpoint, msg)
          .then((error) => stats.done(started, error))
          .finally(() => o.admission?.leave(endpoint.name));
      },
    });
    // $SRV.STATS: time each request to its reply and count its error replies (telemetry/service-stats.ts).
    // Requests arrive only after this returns (the handler runs on a later tick), so `stats` is set.
    const stats: EndpointStats = endpointStats(service, endpoint.name);
  }
  return service;
}

/** Answers one request; resolves (never rejects) with the error reply's message, if it was one. */
async function serve<S extends z.ZodType>(
  o: ServiceOptions,
  endpoint: EndpointDefinition<S>,
  msg: ServiceMsg,
): Promise<string | undefined> {
  // The request's trace: Dspex-Trace, else a W3C traceparent's, else a new one (telemetry/call-trace.ts).
  return withRequestTrace(
    `dspex.rpc ${endpoint.name}`,
    traceOf(msg.headers),
    msg.headers?.get(Header.Traceparent),
    { 'rpc.system': 'nats', 'rpc.service': 'dspex', 'rpc.method': endpoint.name },
    (trace) => serveTraced(o, endpoint, msg, trace),
  );
}

async function serveTraced<S extends z.ZodType>(
  o: ServiceOptions,
  endpoint: EndpointDefinition<S>,
  msg: ServiceMsg,
  trace: string,
): Promise<string | undefined> {
  let encoding: Encoding = Encoding.Msgpack;
  try {
    encoding = encodingOf(msg.headers);
    if (msg.data.length > o.maxPayloadBytes) {
      throw new DspexError(
        ErrorCode.PayloadTooLarge,
        `body is ${msg.data.length} bytes, over the limit of ${o.maxPayloadBytes}`,
        { details: { field: 'body', limit: o.maxPayloadBytes, size: msg.data.length } },
      );
    }
    const raw = decode(msg.data, encoding, MAX_REQUEST_DEPTH);
    const context = requestContext(o, msg, trace);
    const refusal = endpoint.admit?.(raw, context);
    if (refusal !== undefined) {
      o.metrics.rejected.inc({ endpoint: endpoint.name, code: refusal.error.code });
      const { body, headers } = refusalReply(refusal, encoding, trace);
      msg.respond(body, { headers });
      return refusal.error.message;
    }
    const body = parseMessage(endpoint.schema, raw, endpoint.name);
    const reply = await endpoint.handle(body, context);
    const data = encode(reply, encoding);
    msg.respond(data, { headers: replyHeaders(encoding, trace) });
    // msg.data is still this request's bytes after the await: nats.js hands out views of socket
    // chunks it never reuses, and the cache copies them into its key.
    if (context.reusable === true) endpoint.replies?.set(msg.data, encoding, data);
    return undefined;
  } catch (error) {
    return replyError(o, endpoint.name, msg, error, encoding, trace);
  }
}

/**
 * Answers a failed request: a {@link DspexError} as it is, anything else as a 500 `internal` whose
 * cause is logged (never sent). If even that reply cannot be sent (a body that does not encode, a
 * closed connection), the failure is logged and counted: it never escapes.
 */
function replyError(
  o: ServiceOptions,
  endpoint: string,
  msg: ServiceMsg,
  error: unknown,
  encoding: Encoding,
  trace: string | undefined,
): string {
  const e = toDspexError(error, 'internal error');
  try {
    if (e.code === ErrorCode.Internal) o.logger.error({ err: error, endpoint, trace }, 'endpoint failed');
    o.metrics.rejected.inc({ endpoint, code: e.code });
    msg.respond(encode(errorBody(e), encoding), { headers: errorHeaders(e, encoding, trace) });
  } catch (failure) {
    o.metrics.unhandled.inc({ kind: 'reply' });
    o.logger.error({ err: failure, cause: error, endpoint, trace }, 'could not send an error reply');
    try {
      const bare = new DspexError(ErrorCode.Internal, 'internal error');
      msg.respond(encode(errorBody(bare), encoding), { headers: errorHeaders(bare, encoding, trace) });
    } catch {
      // The connection is gone: the caller's request times out, the node keeps serving.
    }
  }
  return e.message;
}

const refusals = new Map<string, { body: Uint8Array; headers: MsgHdrs }>();

/** The reply to a refusal: built once per key and encoding (the headers too, when no trace is echoed). */
function refusalReply(
  refusal: Refusal,
  encoding: Encoding,
  trace: string | undefined,
): { body: Uint8Array; headers: MsgHdrs } {
  const build = (): { body: Uint8Array; headers: MsgHdrs } => ({
    body: encode({ error: refusal.error }, encoding),
    headers: wireHeaders({
      [Header.ContentType]: encoding === Encoding.Json ? 'application/json' : undefined,
      [Header.Trace]: trace,
      [Header.ErrorCode]: refusal.status,
      [Header.Error]: refusal.error.message,
    }),
  });
  if (refusal.key === undefined || trace !== undefined) return build();
  const key = `${encoding}:${refusal.key}`;
  let reply = refusals.get(key);
  if (reply === undefined) {
    if (refusals.size >= REFUSALS_KEPT) refusals.clear();
    refusals.set(key, (reply = build()));
  }
  return reply;
}

/** The headers of a JSON reply without a trace (a msgpack one has none): built once, never changed. */
const JSON_REPLY_HEADERS = replyHeaders(Encoding.Json);

/**
 * Answers a request from `cache` when its bytes were answered before and nothing in its headers
 * changes the answer: no trace to echo, no session, a deadline (if any) still ahead. Anything
 * else, a malformed deadline included, goes the whole way (and gets its 4xx there). Synchronous
 * and never throws: true when answered.
 */
function answerFromCache(o: ServiceOptions, cache: ReplyCache, endpoint: string, msg: ServiceMsg): boolean {
  try {
    const h = msg.headers;
    let encoding: Encoding = Encoding.Msgpack;
    if (h !== undefined) {
      if (h.get(Header.Trace) !== '' || h.get(Header.Session) !== '') return false;
      const raw = h.get(Header.Deadline);
      const deadline = Number(raw);
      if (raw !== '' && !(Number.isFinite(deadline) && deadline > Date.now())) return false;
      encoding = encodingOf(h);
    }
    const reply = cache.get(msg.data, encoding);
    if (reply === undefined) return false;
    msg.respond(reply, encoding === Encoding.Json ? { headers: JSON_REPLY_HEADERS } : undefined);
    return true;
  } catch (failure) {
    o.metrics.unhandled.inc({ kind: 'reply' });
    o.logger.error({ err: failure, endpoint }, 'could not answer from the front cache');
    return false;
  }
}

/** The 429 bodies and headers of an endpoint, built once: refusing must cost next to nothing. */
interface OverloadReplies {
  error: DspexError;
  body: Record<Encoding, Uint8Array>;
}

function overloadReplies(endpoint: string): OverloadReplies {
  const error = new DspexError(
    ErrorCode.Overloaded,
    `${endpoint}: this node has as many requests in progress as it can queue; retry later or elsewhere`,
    { details: { reason: 'admission' } },
  );
  return {
    error,
    body: {
      [Encoding.Msgpack]: encode(errorBody(error), Encoding.Msgpack),
      [Encoding.Json]: encode(errorBody(error), Encoding.Json),
    },
  };
}

/** Refuses a request before decoding it (admission): a 429 from pre-encoded parts. */
function refuse(o: ServiceOptions, endpoint: string, msg: ServiceMsg, r: OverloadReplies): void {
  try {
    const encoding = encodingOf(msg.headers);
    o.metrics.rejected.inc({ endpoint, code: ErrorCode.Overloaded });
    msg.respond(r.body[encoding], { headers: errorHeaders(r.error, encoding, traceOf(msg.headers)) });
  } catch (failure) {
    o.metrics.unhandled.inc({ kind: 'reply' });
    o.logger.error({ err: failure, endpoint }, 'could not send a 429 reply');
  }
}

function requestContext(o: ServiceOptions, msg: ServiceMsg, trace: string | undefined): RequestContext {
  const raw = msg.headers?.get(Header.Deadline);
  let deadline = Date.now() + o.callTimeoutMs;
  if (raw !== undefined && raw !== '') {
    const value = Number(raw);
    if (!Number.isFinite(value) || value <= 0) {
      throw new DspexError(
        ErrorCode.BadRequest,
        `header ${Header.Deadline}: expected unix milliseconds, got "${preview(raw)}"`,
        { details: { field: Header.Deadline } },
      );
    }
    if (value <= Date.now()) {
      throw new DspexError(ErrorCode.DeadlineExceeded, `deadline ${value} passed before the call started`);
    }
    deadline = value;
  }
  const session = msg.headers?.get(Header.Session);
  if (session !== undefined && session !== '' && !isName(NameKind.Session, session)) {
    throw new DspexError(ErrorCode.BadRequest, `header ${Header.Session}: ${nameRule(NameKind.Session)}`, {
      details: { field: Header.Session },
    });
  }
  return { deadline, trace, session: session || undefined };
}
