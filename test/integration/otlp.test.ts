import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { SpanKind } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { formatTraceparent } from '../../src/telemetry/traceparent.js';
import { startTracing } from '../../src/telemetry/tracing.js';
import { startOtlpReceiver } from '../harness/otlp-receiver.js';
import { venvPython } from '../harness/runtime.js';

const run = promisify(execFile);

describe('OTLP export to a local receiver', () => {
  it('does nothing when no endpoint is configured', async () => {
    const tracing = await startTracing({}, {});
    expect(tracing.enabled).toBe(false);
    const span = tracing.tracer.startSpan('x');
    expect(span.isRecording()).toBe(false);
    span.end();
  });

  it('exports a nested span tree from TS, decoded from protobuf', async () => {
    await using otlp = await startOtlpReceiver();
    const tracing = await startTracing(
      { serviceName: 'dspex-node-test', attributes: { 'service.instance.id': 'n1' }, global: false },
      { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url },
    );
    expect(tracing.url).toBe(`${otlp.url}/v1/traces`);
    const root = tracing.tracer.startSpan('dspex.rpc.predict', {
      kind: SpanKind.SERVER,
      attributes: { 'dspex.pool': 'general', 'dspex.retries': 0, 'dspex.hedged': false },
    });
    const { trace, context } = await import('@opentelemetry/api');
    const child = tracing.tracer.startSpan(
      'dspex.pool.dispatch',
      { kind: SpanKind.CLIENT, attributes: { 'dspex.worker': 'w1', 'gen_ai.usage.input_tokens': 120 } },
      trace.setSpan(context.active(), root),
    );
    child.end();
    root.end();
    await tracing.shutdown();

    const spans = await otlp.waitForSpans(2);
    expect(otlp.errors).toEqual([]);
    const byName = new Map(spans.map((s) => [s.name, s]));
    const r = byName.get('dspex.rpc.predict')!;
    const c = byName.get('dspex.pool.dispatch')!;
    expect(r.parentSpanId).toBe('');
    expect(c.traceId).toBe(r.traceId);
    expect(c.parentSpanId).toBe(r.spanId);
    expect(r.kind).toBe(2);
    expect(c.kind).toBe(3);
    expect(r.attributes).toEqual({ 'dspex.pool': 'general', 'dspex.retries': 0, 'dspex.hedged': false });
    expect(c.attributes['gen_ai.usage.input_tokens']).toBe(120);
    expect(r.resource['service.name']).toBe('dspex-node-test');
    expect(r.resource['service.instance.id']).toBe('n1');
    expect(c.endTimeUnixNano).toBeGreaterThanOrEqual(c.startTimeUnixNano);
  });

  it('receives a Python worker span as a child of the node span it was handed as traceparent', async () => {
    await using otlp = await startOtlpReceiver();
    const tracing = await startTracing(
      { global: false, immediate: true },
      { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url },
    );
    const root = tracing.tracer.startSpan('dspex.rpc.predict');
    const ctx = root.spanContext();
    const traceparent = formatTraceparent({
      traceId: ctx.traceId,
      spanId: ctx.spanId,
      flags: ctx.traceFlags,
    });
    const script = [
      'import sys',
      'from dspex_worker.tracing import configure_tracing, extract_context',
      't = configure_tracing("dspex-worker", endpoint=sys.argv[1], immediate=True)',
      'with t.tracer.start_as_current_span("dspex.worker.predict", context=extract_context(sys.argv[2])) as s:',
      '    s.set_attribute("dspex.module", "Predict")',
      't.shutdown()',
    ].join('\n');
    await run(venvPython, ['-c', script, otlp.url, traceparent], { timeout: 60_000 });
    root.end();
    await tracing.shutdown();

    const spans = await otlp.waitForSpans(2);
    const worker = spans.find((s) => s.name === 'dspex.worker.predict')!;
    expect(worker.resource['service.name']).toBe('dspex-worker');
    expect(worker.traceId).toBe(ctx.traceId);
    expect(worker.parentSpanId).toBe(ctx.spanId);
    expect(worker.attributes).toEqual({ 'dspex.module': 'Predict' });
  });

  it('decodes OTLP JSON export requests too', async () => {
    await using otlp = await startOtlpReceiver();
    const body = {
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'json-client' } }] },
          scopeSpans: [
            {
              scope: { name: 'x' },
              spans: [
                {
                  traceId: '4BF92F3577B34DA6A3CE929D0E0E4736',
                  spanId: '00f067aa0ba902b7',
                  name: 'json.span',
                  kind: 2,
                  startTimeUnixNano: '1700000000000000000',
                  endTimeUnixNano: '1700000000500000000',
                  attributes: [{ key: 'n', value: { intValue: '3' } }],
                },
              ],
            },
          ],
        },
      ],
    };
    const res = await fetch(`${otlp.url}/v1/traces`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(200);
    expect(otlp.spans).toMatchObject([
      {
        traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
        name: 'json.span',
        attributes: { n: 3 },
        resource: { 'service.name': 'json-client' },
        endTimeUnixNano: 1700000000500000000n,
      },
    ]);
    const bad = await fetch(`${otlp.url}/v1/traces`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-protobuf' },
      body: new Uint8Array([0x0a, 0xff]),
    });
    expect(bad.status).toBe(400);
    expect(otlp.errors).toHaveLength(1);
  });
});
