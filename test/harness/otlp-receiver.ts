/**
 * A local OTLP/HTTP trace receiver for tests: `POST /v1/traces` with an `ExportTraceServiceRequest`
 * in protobuf (`application/x-protobuf`, what the TS and Python exporters send by default) or OTLP
 * JSON, optionally gzipped. It decodes the spans it receives (only the fields tests look at) and
 * keeps them: `await using otlp = await startOtlpReceiver(); ...; await otlp.waitForSpans(2)`.
 *
 * The protobuf decoding is a small reader of the wire format for the few OTLP messages involved
 * (opentelemetry-proto's trace.proto, common.proto, resource.proto), so the harness needs no
 * generated code.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { eventually } from './eventually.js';

export type AttributeValue = string | number | boolean | null | AttributeValue[];

/** One received span. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** Empty for a root span. */
  parentSpanId: string;
  name: string;
  /** OTLP SpanKind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  attributes: Record<string, AttributeValue>;
  /** Status code: 0 unset, 1 ok, 2 error. */
  status: number;
  resource: Record<string, AttributeValue>;
  scope: string;
}

export interface OtlpReceiver extends AsyncDisposable {
  /** Base URL for `OTEL_EXPORTER_OTLP_ENDPOINT` (`/v1/traces` is the path it serves). */
  readonly url: string;
  readonly spans: ReceivedSpan[];
  /** Requests that could not be decoded (answered 400). */
  readonly errors: string[];
  waitForSpans(count: number, timeoutMs?: number): Promise<ReceivedSpan[]>;
  close(): Promise<void>;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const errors: string[] = [];
  const server = createServer((req, res) => {
    void readBody(req).then((body) => {
      if (req.method !== 'POST' || req.url !== '/v1/traces') {
        res.writeHead(404).end();
        return;
      }
      try {
        const raw = req.headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body;
        const json = (req.headers['content-type'] ?? '').startsWith('application/json');
        spans.push(...(json ? decodeJson(raw.toString('utf8')) : decodeProtobuf(raw)));
        res.writeHead(200, { 'Content-Type': json ? 'application/json' : 'application/x-protobuf' });
        res.end(json ? '{}' : Buffer.alloc(0));
      } catch (error) {
        errors.push(String(error));
        res.writeHead(400).end(String(error));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    errors,
    waitForSpans: (count, timeoutMs = 15_000) =>
      eventually(
        () => {
          if (spans.length < count) throw new Error(`received ${spans.length} of ${count} spans`);
          return spans;
        },
        { timeoutMs },
      ),
    close,
    [Symbol.asyncDispose]: close,
  };
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

// --- protobuf wire format -----------------------------------------------------------------------

type Field =
  | { no: number; wire: 0; value: bigint }
  | { no: number; wire: 1 | 5; value: Buffer }
  | { no: number; wire: 2; value: Buffer };

function* fields(buf: Buffer): Generator<Field> {
  let at = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (at >= buf.length) throw new Error('truncated varint');
      const byte = buf[at++]!;
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7n;
    }
  };
  while (at < buf.length) {
    const tag = Number(varint());
    const no = tag >>> 3;
    const wire = tag & 7;
    switch (wire) {
      case 0:
        yield { no, wire, value: varint() };
        break;
      case 1:
      case 5: {
        const n = wire === 1 ? 8 : 4;
        yield { no, wire, value: buf.subarray(at, (at += n)) };
        break;
      }
      case 2: {
        const n = Number(varint());
        if (at + n > buf.length) throw new Error('truncated field');
        yield { no, wire, value: buf.subarray(at, (at += n)) };
        break;
      }
      default:
        throw new Error(`unsupported wire type ${wire}`);
    }
  }
}

const bytesOf = (f: Field): Buffer => (f.wire === 0 ? Buffer.alloc(0) : f.value);

function anyValue(buf: Buffer): AttributeValue {
  for (const f of fields(buf)) {
    switch (f.no) {
      case 1:
        return bytesOf(f).toString('utf8');
      case 2:
        return f.wire === 0 && f.value !== 0n;
      case 3:
        return f.wire === 0 ? Number(BigInt.asIntN(64, f.value)) : 0;
      case 4:
        return bytesOf(f).readDoubleLE(0);
      case 5:
        return [...fields(bytesOf(f))].filter((x) => x.no === 1).map((x) => anyValue(bytesOf(x)));
      case 7:
        return bytesOf(f).toString('hex');
      default:
    }
  }
  return null;
}

function keyValues(list: Buffer[]): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const kv of list) {
    let key = '';
    let value: AttributeValue = null;
    for (const f of fields(kv)) {
      if (f.no === 1) key = bytesOf(f).toString('utf8');
      if (f.no === 2) value = anyValue(bytesOf(f));
    }
    out[key] = value;
  }
  return out;
}

function repeated(buf: Buffer, no: number): Buffer[] {
  return [...fields(buf)].filter((f) => f.no === no && f.wire === 2).map(bytesOf);
}

function decodeProtobuf(body: Buffer): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of repeated(body, 1)) {
    const resource = keyValues(repeated(repeated(rs, 1)[0] ?? Buffer.alloc(0), 1));
    for (const ss of repeated(rs, 2)) {
      const scopeMsg = repeated(ss, 1)[0];
      const scope = scopeMsg === undefined ? '' : (repeated(scopeMsg, 1)[0]?.toString('utf8') ?? '');
      for (const s of repeated(ss, 2)) {
        const span: ReceivedSpan = {
          traceId: '',
          spanId: '',
          parentSpanId: '',
          name: '',
          kind: 0,
          startTimeUnixNano: 0n,
          endTimeUnixNano: 0n,
          attributes: {},
          status: 0,
          resource,
          scope,
        };
        const attrs: Buffer[] = [];
        for (const f of fields(s)) {
          if (f.no === 1) span.traceId = bytesOf(f).toString('hex');
          else if (f.no === 2) span.spanId = bytesOf(f).toString('hex');
          else if (f.no === 4) span.parentSpanId = bytesOf(f).toString('hex');
          else if (f.no === 5) span.name = bytesOf(f).toString('utf8');
          else if (f.no === 6 && f.wire === 0) span.kind = Number(f.value);
          else if (f.no === 7) span.startTimeUnixNano = bytesOf(f).readBigUInt64LE(0);
          else if (f.no === 8) span.endTimeUnixNano = bytesOf(f).readBigUInt64LE(0);
          else if (f.no === 9) attrs.push(bytesOf(f));
          else if (f.no === 15) {
            for (const sf of fields(bytesOf(f)))
              if (sf.no === 3 && sf.wire === 0) span.status = Number(sf.value);
          }
        }
        span.attributes = keyValues(attrs);
        out.push(span);
      }
    }
  }
  return out;
}

// --- OTLP JSON ----------------------------------------------------------------------------------

interface JsonKeyValue {
  key: string;
  value: Record<string, unknown>;
}

function jsonValue(v: Record<string, unknown> | undefined): AttributeValue {
  if (v === undefined) return null;
  if ('stringValue' in v) return String(v.stringValue);
  if ('boolValue' in v) return Boolean(v.boolValue);
  if ('intValue' in v) return Number(v.intValue);
  if ('doubleValue' in v) return Number(v.doubleValue);
  if ('arrayValue' in v) {
    const values = (v.arrayValue as { values?: Array<Record<string, unknown>> }).values ?? [];
    return values.map((x) => jsonValue(x));
  }
  return null;
}

const jsonAttrs = (list: JsonKeyValue[] | undefined): Record<string, AttributeValue> =>
  Object.fromEntries((list ?? []).map((kv) => [kv.key, jsonValue(kv.value)]));

function decodeJson(text: string): ReceivedSpan[] {
  const body = JSON.parse(text) as {
    resourceSpans?: Array<{
      resource?: { attributes?: JsonKeyValue[] };
      scopeSpans?: Array<{
        scope?: { name?: string };
        spans?: Array<{
          traceId?: string;
          spanId?: string;
          parentSpanId?: string;
          name?: string;
          kind?: number;
          startTimeUnixNano?: string | number;
          endTimeUnixNano?: string | number;
          attributes?: JsonKeyValue[];
          status?: { code?: number };
        }>;
      }>;
    }>;
  };
  return (body.resourceSpans ?? []).flatMap((rs) =>
    (rs.scopeSpans ?? []).flatMap((ss) =>
      (ss.spans ?? []).map((s) => ({
        traceId: (s.traceId ?? '').toLowerCase(),
        spanId: (s.spanId ?? '').toLowerCase(),
        parentSpanId: (s.parentSpanId ?? '').toLowerCase(),
        name: s.name ?? '',
        kind: Number(s.kind ?? 0),
        startTimeUnixNano: BigInt(s.startTimeUnixNano ?? 0),
        endTimeUnixNano: BigInt(s.endTimeUnixNano ?? 0),
        attributes: jsonAttrs(s.attributes),
        status: Number(s.status?.code ?? 0),
        resource: jsonAttrs(rs.resource?.attributes),
        scope: ss.scope?.name ?? '',
      })),
    ),
  );
}
