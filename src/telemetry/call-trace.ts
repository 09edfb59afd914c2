/**
 * A request's trace on the node: its id (the `Dspex-Trace` header, else the trace of a W3C
 * `traceparent`, else a new one, returned in the reply headers), its OpenTelemetry server span, and
 * the `traceparent` each attempt sends to a worker, so the worker's spans nest under the node's.
 *
 * Spans record only when tracing is on ({@link startTracing} registered a provider); without it the
 * caller's `traceparent` (or one made from the generated id) is still handed to workers as is.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { context, SpanKind, SpanStatusCode, trace, type Attributes, type Span } from '@opentelemetry/api';
import { formatTraceparent, isTraceId, newSpanId, newTraceId, parseTraceparent } from './traceparent.js';

const downstream = new AsyncLocalStorage<string | undefined>();
const tracer = () => trace.getTracer('dspex');

/**
 * Runs `fn` in the request's server span. `fn` resolves with the error reply's message, if any
 * (the span's status), and never rejects (a rejection is recorded and passed on).
 */
export function withRequestTrace(
  name: string,
  given: string | undefined,
  traceparent: string | undefined,
  attributes: Attributes,
  fn: (trace: string) => Promise<string | undefined>,
): Promise<string | undefined> {
  const parent = parseTraceparent(traceparent);
  const ctx =
    parent === undefined
      ? context.active()
      : trace.setSpanContext(context.active(), {
          traceId: parent.traceId,
          spanId: parent.spanId,
          traceFlags: parent.flags,
          isRemote: true,
        });
  return tracer().startActiveSpan(name, { kind: SpanKind.SERVER, attributes }, ctx, async (span) => {
    const own = span.isRecording() ? span.spanContext() : undefined;
    const id = given ?? parent?.traceId ?? own?.traceId ?? newTraceId();
    let next: string | undefined;
    if (own !== undefined) next = formatTraceparent({ ...own, flags: own.traceFlags });
    else if (parent !== undefined) next = formatTraceparent(parent);
    else if (isTraceId(id)) next = formatTraceparent({ traceId: id, spanId: newSpanId(), flags: 0 });
    span.setAttribute('dspex.trace', id);
    try {
      const error = await downstream.run(next, () => fn(id));
      if (error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: error });
      return error;
    } catch (error) {
      span.recordException(error as Error);
      span.setStatus({ code: SpanStatusCode.ERROR });
      throw error;
    } finally {
      span.end();
    }
  });
}

/** One attempt on a worker: a client span, and the `traceparent` to send with it. */
export interface AttemptSpan {
  traceparent: string | undefined;
  end(error?: string): void;
}

export function startAttemptSpan(attributes: Attributes): AttemptSpan {
  const span: Span = tracer().startSpan('dspex.dispatch', { kind: SpanKind.CLIENT, attributes });
  const own = span.isRecording() ? span.spanContext() : undefined;
  return {
    traceparent:
      own !== undefined ? formatTraceparent({ ...own, flags: own.traceFlags }) : downstream.getStore(),
    end(error) {
      if (error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: error });
      span.end();
    },
  };
}
