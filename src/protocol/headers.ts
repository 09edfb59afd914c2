import { headers as natsHeaders, type MsgHdrs } from '@nats-io/nats-core';

/** Header names of wire protocol v1. */
export const Header = {
  ContentType: 'Content-Type',
  Deadline: 'Dspex-Deadline',
  Trace: 'Dspex-Trace',
  /** W3C Trace Context: accepted on requests, sent to workers (docs/telemetry.md). */
  Traceparent: 'traceparent',
  Session: 'Dspex-Session',
  ErrorCode: 'Nats-Service-Error-Code',
  Error: 'Nats-Service-Error',
} as const;
export type Header = (typeof Header)[keyof typeof Header];

/** Longest header value dspex sets, in UTF-16 code units; a longer value is cut and ends in `…`. */
export const MAX_HEADER_VALUE = 1024;

// C0 controls (CR and LF among them), DEL, C1 controls and the Unicode line/paragraph separators:
// nats.js throws on CR/LF in a header value, and the others break clients that print or parse headers.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g;

/**
 * `value` made safe as a NATS header value: every run of control characters becomes one space,
 * the ends are trimmed, and the result is at most `max` code units (cut with `…`, never inside a
 * surrogate pair). Pure; the one sanitiser behind {@link wireHeaders}.
 */
export function headerValue(value: string, max = MAX_HEADER_VALUE): string {
  const clean = value.replace(CONTROL, ' ').trim();
  if (clean.length <= max) return clean;
  let end = Math.max(0, max - 1);
  const last = clean.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return clean.slice(0, end) + '…';
}

/** Longest `Dspex-Trace` kept (logs, echoes, calls to workers); a longer one is cut. */
export const MAX_TRACE = 128;

/** A request's `Dspex-Trace`, sanitised and cut to {@link MAX_TRACE}; undefined when absent or blank. */
export function traceOf(hdrs: MsgHdrs | undefined): string | undefined {
  const raw = hdrs?.get(Header.Trace);
  if (raw === undefined || raw === '') return undefined;
  return headerValue(raw, MAX_TRACE) || undefined;
}

/** Values of the headers to set; `undefined` and `''` are left out. */
export type HeaderValues = Partial<Record<Header, string | number | undefined>>;

/**
 * The one way dspex builds the headers of a message it sends (replies, error replies, calls to
 * workers, client requests): every value goes through {@link headerValue} (`Dspex-Trace` cut to
 * {@link MAX_TRACE}, the others to {@link MAX_HEADER_VALUE}), so no request content
 * echoed in a header can make nats.js throw or smuggle a control character to a peer.
 */
export function wireHeaders(values: HeaderValues): MsgHdrs {
  const h = natsHeaders();
  for (const [name, value] of Object.entries(values)) {
    if (value === undefined) continue;
    const v = headerValue(String(value), name === Header.Trace ? MAX_TRACE : MAX_HEADER_VALUE);
    if (v !== '') h.set(name, v);
  }
  return h;
}
