/**
 * W3C Trace Context `traceparent` headers (https://www.w3.org/TR/trace-context/#traceparent-header):
 * `version-traceid-parentid-flags`, lowercase hex, e.g. `00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01`.
 * Strict where the spec is strict (an all-zero id, version `ff`, uppercase or short fields are
 * invalid); lenient where it asks to be (a future version may append fields after the flags).
 */
import { randomBytes } from 'node:crypto';

/** The parsed header. */
export interface TraceParent {
  /** 32 lowercase hex digits, not all zero. */
  traceId: string;
  /** 16 lowercase hex digits, not all zero: the caller's span. */
  spanId: string;
  /** Trace flags; bit 0 is "sampled". */
  flags: number;
}

const VERSION_00 = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const FUTURE = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

/** The header's trace context, or undefined when it is not a valid `traceparent`. */
export function parseTraceparent(header: string | undefined): TraceParent | undefined {
  if (header === undefined || header.length > 512) return undefined;
  const value = header.trim();
  let traceId: string | undefined;
  let spanId: string | undefined;
  let flags: string | undefined;
  const v0 = VERSION_00.exec(value);
  if (v0 !== null) {
    [, traceId, spanId, flags] = v0;
  } else {
    const future = FUTURE.exec(value);
    // Version 00 must be exactly four fields; ff is forbidden.
    if (future === null || future[1] === '00' || future[1] === 'ff') return undefined;
    [, , traceId, spanId, flags] = future;
  }
  if (traceId === undefined || spanId === undefined || flags === undefined) return undefined;
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return undefined;
  return { traceId, spanId, flags: Number.parseInt(flags, 16) };
}

/** Formats a version-00 header. Throws a RangeError on ids that are not valid. */
export function formatTraceparent(context: TraceParent): string {
  if (!isTraceId(context.traceId))
    throw new RangeError(`traceId: expected 32 lowercase hex digits, not all zero`);
  if (!isSpanId(context.spanId))
    throw new RangeError(`spanId: expected 16 lowercase hex digits, not all zero`);
  if (!Number.isInteger(context.flags) || context.flags < 0 || context.flags > 255) {
    throw new RangeError('flags: expected an integer 0-255');
  }
  return `00-${context.traceId}-${context.spanId}-${context.flags.toString(16).padStart(2, '0')}`;
}

export function isTraceId(value: string): boolean {
  return /^[0-9a-f]{32}$/.test(value) && value !== ZERO_TRACE;
}

export function isSpanId(value: string): boolean {
  return /^[0-9a-f]{16}$/.test(value) && value !== ZERO_SPAN;
}

/** A fresh random trace id (what a node assigns to a request that came without one). */
export function newTraceId(random: (n: number) => Buffer = randomBytes): string {
  for (;;) {
    const id = random(16).toString('hex');
    if (id !== ZERO_TRACE) return id;
  }
}

/** A fresh random span id. */
export function newSpanId(random: (n: number) => Buffer = randomBytes): string {
  for (;;) {
    const id = random(8).toString('hex');
    if (id !== ZERO_SPAN) return id;
  }
}
