import type { MsgHdrs } from '@nats-io/nats-core';
import { Packr } from 'msgpackr';
import { DspexError, ErrorCode, type WireError } from '../errors.js';
import { Header, wireHeaders } from './headers.js';

/** Body encodings on the wire: msgpack by default, JSON when the request says so. */
export const Encoding = { Msgpack: 'msgpack', Json: 'json' } as const;
export type Encoding = (typeof Encoding)[keyof typeof Encoding];

// Plain msgpack maps (no msgpackr records extension) so that every msgpack library can read them.
const packr = new Packr({
  useRecords: false,
  mapsAsObjects: true,
  variableMapSize: true,
  int64AsType: 'number',
});
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/** The encoding a request asks for through its `Content-Type` header. */
export function encodingOf(hdrs: MsgHdrs | undefined): Encoding {
  const type = hdrs?.get(Header.ContentType) ?? '';
  return type.toLowerCase().startsWith('application/json') ? Encoding.Json : Encoding.Msgpack;
}

export function encode(value: unknown, encoding: Encoding): Uint8Array {
  switch (encoding) {
    case Encoding.Json:
      return textEncoder.encode(JSON.stringify(value));
    case Encoding.Msgpack:
      return packr.pack(value);
    default: {
      const never: never = encoding;
      throw new Error(`unknown encoding ${String(never)}`);
    }
  }
}

/**
 * Deepest nesting of lists and maps a request body may have. Realistic bodies (DSPy program state,
 * pipeline specs, tool schemas) stay far below; a deeper value could be accepted and stored, then
 * fail to encode (the encoders recurse) in a later reply.
 */
export const MAX_REQUEST_DEPTH = 64;

/** Whether `value` nests lists and maps deeper than `max` levels (iterative: no recursion to overflow). */
export function nestedDeeperThan(value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== 'object' || v === null || ArrayBuffer.isView(v)) continue;
    if (depth >= max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}

/**
 * Decodes a body; a body that is not valid msgpack/JSON is a 400 naming the encoding, and with
 * `maxDepth` one nested deeper than that is a 400 on `body` too.
 */
export function decode(data: Uint8Array, encoding: Encoding, maxDepth?: number): unknown {
  const value = decodeValue(data, encoding);
  if (maxDepth !== undefined && nestedDeeperThan(value, maxDepth)) {
    throw new DspexError(ErrorCode.BadRequest, `body: lists and maps nested deeper than ${maxDepth} levels`, {
      details: { field: 'body', limit: maxDepth },
    });
  }
  return value;
}

function decodeValue(data: Uint8Array, encoding: Encoding): unknown {
  if (data.length === 0) {
    throw new DspexError(ErrorCode.BadRequest, 'body is empty: expected a map', {
      details: { field: 'body' },
    });
  }
  try {
    switch (encoding) {
      case Encoding.Json:
        return JSON.parse(textDecoder.decode(data)) as unknown;
      case Encoding.Msgpack:
        return packr.unpack(data) as unknown;
      default: {
        const never: never = encoding;
        throw new Error(`unknown encoding ${String(never)}`);
      }
    }
  } catch (cause) {
    throw new DspexError(ErrorCode.BadRequest, `body is not valid ${encoding}`, {
      details: { field: 'body' },
      cause,
    });
  }
}

/**
 * Headers of a reply in the requested encoding, echoing the trace id (sanitised); undefined when
 * there is nothing to say (a msgpack reply without a trace), so the reply goes without an empty
 * header block (`PUB`, not `HPUB` with `NATS/1.0` and nothing under it).
 */
export function replyHeaders(encoding: Encoding, trace?: string): MsgHdrs | undefined {
  if (encoding === Encoding.Msgpack && trace === undefined) return undefined;
  const h = wireHeaders({
    [Header.ContentType]: encoding === Encoding.Json ? 'application/json' : undefined,
    [Header.Trace]: trace,
  });
  return h.keys().length === 0 ? undefined : h;
}

/**
 * Headers of an error reply: {@link replyHeaders} plus `Nats-Service-Error-Code` (the status) and
 * `Nats-Service-Error` (the message, control characters replaced and cut to the header limit).
 */
export function errorHeaders(error: DspexError, encoding: Encoding, trace?: string): MsgHdrs {
  return wireHeaders({
    [Header.ContentType]: encoding === Encoding.Json ? 'application/json' : undefined,
    [Header.Trace]: trace,
    [Header.ErrorCode]: error.status,
    [Header.Error]: error.message,
  });
}

/** Longest error message a reply body carries; the full text stays in the node's log. */
export const MAX_ERROR_MESSAGE = 4096;

/** Error body as it crosses the wire (the message capped at {@link MAX_ERROR_MESSAGE}). */
export function errorBody(error: DspexError): { error: WireError } {
  const wire = error.toWire();
  if (wire.message.length > MAX_ERROR_MESSAGE)
    wire.message = wire.message.slice(0, MAX_ERROR_MESSAGE - 1) + '…';
  return { error: wire };
}
