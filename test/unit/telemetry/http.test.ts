import { Counter, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import {
  enableProcessMetrics,
  startObservabilityServer,
  type ObservabilityServer,
  type Readiness,
} from '../../../src/telemetry/http.js';

describe('observability endpoint', () => {
  let server: ObservabilityServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  async function start(ready?: () => Readiness | Promise<Readiness>) {
    const registry = new Registry();
    const calls = new Counter({
      name: 'dspex_test_calls_total',
      help: 'calls',
      labelNames: ['pool'],
      registers: [registry],
    });
    calls.inc({ pool: 'general' }, 3);
    server = await startObservabilityServer({ registry, ...(ready !== undefined ? { ready } : {}) });
    return { registry, server };
  }

  it('serves the registry and Node process metrics on /metrics in the exposition format', async () => {
    const { server } = await start();
    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const body = await res.text();
    expect(body).toContain('dspex_test_calls_total{pool="general"} 3');
    expect(body).toMatch(/^# TYPE process_cpu_user_seconds_total counter$/m);
    expect(body).toMatch(/^# TYPE nodejs_eventloop_lag_seconds gauge$/m);
    const head = await fetch(`${server.url}/metrics`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
  });

  it('answers /healthz while up, and /readyz from the readiness check', async () => {
    let ready = true;
    const { server } = await start(() => ({ ready, checks: { nats: { ok: ready } } }));
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    const up = await fetch(`${server.url}/readyz`);
    expect(up.status).toBe(200);
    expect(await up.json()).toEqual({ ready: true, checks: { nats: { ok: true } } });
    ready = false;
    expect((await fetch(`${server.url}/readyz`)).status).toBe(503);
  });

  it('reports a readiness check that throws as not ready, with the error', async () => {
    const { server } = await start(() => Promise.reject(new Error('status unavailable')));
    const res = await fetch(`${server.url}/readyz`);
    expect(res.status).toBe(503);
    expect(JSON.stringify(await res.json())).toContain('status unavailable');
  });

  it('refuses other paths and methods with 404 and 405', async () => {
    const { server } = await start();
    expect((await fetch(`${server.url}/nope`)).status).toBe(404);
    const post = await fetch(`${server.url}/metrics`, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });

  it('adds process metrics to a registry once, however often asked', () => {
    const registry = new Registry();
    enableProcessMetrics(registry);
    expect(() => enableProcessMetrics(registry)).not.toThrow();
    expect(registry.getSingleMetric('process_cpu_user_seconds_total')).toBeDefined();
  });
});
