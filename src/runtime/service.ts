import type { NatsConnection } from '@nats-io/nats-core';
import { Svcm, type Service, type ServiceMsg } from '@nats-io/services';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { DspexError, ErrorCode, isDspexError } from '../errors.js';
import { decode, encode, encodingOf, errorBody, replyHeaders, type Encoding } from '../protocol/codec.js';
import { Header } from '../protocol/headers.js';
import { parseMessage } from '../protocol/schemas.js';
import type { Subjects } from '../protocol/subjects.js';
import type { RuntimeMetrics } from '../telemetry/metrics.js';

/** What an endpoint handler learns from the request besides its body. */
export interface RequestContext {
  /** Absolute deadline, unix ms: the `Dspex-Deadline` header or now + the node's call timeout. */
  deadline: number;
  trace: string | undefined;
  /** `Dspex-Session` header. */
  session: string | undefined;
}

/** One endpoint of the public service: its body schema and its handler. */
export interface EndpointDefinition<S extends z.ZodType> {
  name: string;
  /** Subject under `<prefix>.rpc.` when it differs from `name` (names cannot hold dots: `var.get`). */
  subject?: string;
  schema: S;
  handle(body: z.infer<S>, context: RequestContext): Promise<unknown>;
}

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
}

/**
 * Serves the public endpoints as the NATS Services service `dspex` (queue group `dspex`), so
 * `$SRV.PING|INFO|STATS.dspex` discovery works. Every request gets a reply: decode, size and
 * schema failures are 4xx replies naming the field, and the handler never throws.
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
    service.addEndpoint(endpoint.name, {
      subject: o.subjects.rpc(endpoint.subject ?? endpoint.name),
      handler: (err, msg) => {
        if (err !== null) {
          o.logger.error({ err, endpoint: endpoint.name }, 'service endpoint stopped');
          return;
        }
        void serve(o, endpoint, msg);
      },
    });
  }
  return service;
}

async function serve<S extends z.ZodType>(
  o: ServiceOptions,
  endpoint: EndpointDefinition<S>,
  msg: ServiceMsg,
): Promise<void> {
  const encoding = encodingOf(msg.headers);
  const trace = msg.headers?.get(Header.Trace) || undefined;
  try {
    if (msg.data.length > o.maxPayloadBytes) {
      throw new DspexError(
        ErrorCode.PayloadTooLarge,
        `body is ${msg.data.length} bytes, over the limit of ${o.maxPayloadBytes}`,
        { details: { field: 'body', limit: o.maxPayloadBytes, size: msg.data.length } },
      );
    }
    const body = parseMessage(endpoint.schema, decode(msg.data, encoding), endpoint.name);
    const reply = await endpoint.handle(body, requestContext(o, msg, trace));
    respond(msg, reply, encoding, trace);
  } catch (error) {
    const e = isDspexError(error)
      ? error
      : new DspexError(ErrorCode.Internal, 'internal error', { cause: error });
    if (e.code === ErrorCode.Internal)
      o.logger.error({ err: error, endpoint: endpoint.name, trace }, 'endpoint failed');
    o.metrics.rejected.inc({ endpoint: endpoint.name, code: e.code });
    respondError(msg, e, encoding, trace);
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
        `header ${Header.Deadline}: expected unix milliseconds, got "${raw}"`,
        {
          details: { field: Header.Deadline },
        },
      );
    }
    if (value <= Date.now()) {
      throw new DspexError(ErrorCode.DeadlineExceeded, `deadline ${value} passed before the call started`);
    }
    deadline = value;
  }
  return { deadline, trace, session: msg.headers?.get(Header.Session) || undefined };
}

function respond(msg: ServiceMsg, body: unknown, encoding: Encoding, trace: string | undefined): void {
  msg.respond(encode(body, encoding), { headers: replyHeaders(encoding, trace) });
}

function respondError(
  msg: ServiceMsg,
  error: DspexError,
  encoding: Encoding,
  trace: string | undefined,
): void {
  msg.respondError(error.status, error.message, encode(errorBody(error), encoding), {
    headers: replyHeaders(encoding, trace),
  });
}
