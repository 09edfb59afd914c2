import { headers } from '@nats-io/nats-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Runtime } from '../../src/index.js';
import { decode, encode, Encoding } from '../../src/protocol/codec.js';
import { formatTraceparent, newSpanId, newTraceId } from '../../src/telemetry/traceparent.js';
import { client, startNats, type NatsServer } from '../harness/nats.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../harness/otlp-receiver.js';
import { startRuntime } from '../harness/runtime.js';
import { eventually } from '../harness/eventually.js';

const OTEL_ENV = { OTEL_EXPORTER_OTLP_ENDPOINT: '', OTEL_BSP_SCHEDULE_DELAY: '100' };

describe('one call traced across the node and a Python worker', () => {
  let srv: NatsServer;
  let rt: Runtime;
  let otlp: OtlpReceiver;
  const saved: Record<string, string | undefined> = {};
  let calls = 0; // distinct inputs: a repeated call would be answered by the result cache

  beforeAll(async () => {
    otlp = await startOtlpReceiver();
    srv = await startNats();
    // The node reads the standard variables and hands OTEL_* to the workers it starts.
    for (const [k, v] of Object.entries({ ...OTEL_ENV, OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url })) {
      saved[k] = process.env[k];
      process.env[k] = v;
    }
    rt = await startRuntime(srv.url, { pools: { general: { size: 1 } } });
  });

  afterAll(async () => {
    await rt?.stop();
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await srv?.stop();
    await otlp?.close();
  });

  async function predict(h: Record<string, string>): Promise<{ trace: string | undefined; body: unknown }> {
    await using nc = await client(srv.url);
    const hdrs = headers();
    for (const [k, v] of Object.entries(h)) hdrs.set(k, v);
    const reply = await nc.request(
      'dspex.rpc.predict',
      encode(
        { module: 'Predict', signature: 'question -> answer', inputs: { question: `q-${++calls}` } },
        Encoding.Msgpack,
      ),
      { timeout: 30_000, headers: hdrs },
    );
    return { trace: reply.headers?.get('Dspex-Trace'), body: decode(reply.data, Encoding.Msgpack) };
  }

  const treeOf = (traceId: string): Promise<ReceivedSpan[]> =>
    eventually(
      () => {
        const spans = otlp.spans.filter((s) => s.traceId === traceId);
        expect(spans.map((s) => s.name).sort()).toEqual(
          ['dspex.dispatch', 'dspex.lm', 'dspex.rpc predict', 'dspex.worker Predict'].sort(),
        );
        return spans;
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );

  it('continues a W3C traceparent: node routing, worker execution and the LM call nest under it', async () => {
    const traceId = newTraceId();
    const callerSpan = newSpanId();
    const { trace, body } = await predict({
      traceparent: formatTraceparent({ traceId, spanId: callerSpan, flags: 1 }),
    });
    expect(typeof (body as { outputs?: { answer?: unknown } }).outputs?.answer).toBe('string');
    expect(trace).toBe(traceId);

    const spans = await treeOf(traceId);
    const byName = new Map(spans.map((s) => [s.name, s]));
    const rpc = byName.get('dspex.rpc predict')!;
    const dispatch = byName.get('dspex.dispatch')!;
    const worker = byName.get('dspex.worker Predict')!;
    const lm = byName.get('dspex.lm')!;
    expect(rpc.parentSpanId).toBe(callerSpan);
    expect(dispatch.parentSpanId).toBe(rpc.spanId);
    expect(worker.parentSpanId).toBe(dispatch.spanId);
    expect(lm.parentSpanId).toBe(worker.spanId);
    expect(rpc.resource['service.name']).toBe('dspex-node');
    expect(worker.resource['service.name']).toBe('dspex-worker');
    expect(worker.attributes).toMatchObject({ 'dspex.pool': 'general', 'dspex.trace': traceId });
    expect(lm.attributes['gen_ai.request.model']).toBe('dummy');
    expect(otlp.errors).toEqual([]);
  });

  it('gives a request without a trace a new id, returns it, and uses it as the trace of the spans', async () => {
    const { trace } = await predict({});
    expect(trace).toMatch(/^[0-9a-f]{32}$/);
    const spans = await treeOf(trace!);
    expect(spans.find((s) => s.name === 'dspex.rpc predict')?.parentSpanId).toBe('');
  });

  it('keeps a caller-given Dspex-Trace as the correlation id (spans carry it as dspex.trace)', async () => {
    const { trace } = await predict({ 'Dspex-Trace': 'order-1234' });
    expect(trace).toBe('order-1234');
    // Both processes export on their own schedule: wait for the worker's span and the node's parent.
    await eventually(
      () => {
        const worker = otlp.spans.find(
          (s) => s.name === 'dspex.worker Predict' && s.attributes['dspex.trace'] === 'order-1234',
        );
        expect(worker).toBeDefined();
        expect(otlp.spans.some((s) => s.spanId === worker!.parentSpanId && s.name === 'dspex.dispatch')).toBe(
          true,
        );
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );
  });
});
