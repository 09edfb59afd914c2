import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Runtime } from '../../src/index.js';
import { startObservabilityServer, type ObservabilityServer } from '../../src/telemetry/http.js';
import { nodeReadiness } from '../../src/telemetry/readiness.js';
import { startNats, type NatsServer } from '../harness/nats.js';
import { startRuntime, venvPython } from '../harness/runtime.js';

const promCheck = new URL('./clients/prom_check.py', import.meta.url).pathname;

interface Family {
  name: string;
  type: string;
  samples: Array<{ name: string; labels: Record<string, string>; value: number | string | null }>;
}

/** Parses an exposition with prometheus_client's parser (a failure to parse rejects). */
function parseExposition(text: string): Promise<Family[]> {
  return new Promise((resolve, reject) => {
    const child = execFile(venvPython, [promCheck], { timeout: 30_000 }, (error, stdout, stderr) => {
      if (error !== null) reject(new Error(`${error.message}: ${stderr}`));
      else resolve((JSON.parse(stdout) as { families: Family[] }).families);
    });
    child.stdin?.end(text);
  });
}

describe('observability endpoint of a running node', () => {
  let srv: NatsServer;
  let rt: Runtime;
  let http: ObservabilityServer;
  let ready: ReturnType<typeof nodeReadiness>;

  beforeAll(async () => {
    srv = await startNats();
    rt = await startRuntime(srv.url, { pools: { general: { size: 1 } } });
    ready = nodeReadiness(rt);
    http = await startObservabilityServer({ registry: rt.metrics.registry, ready });
  });

  afterAll(async () => {
    ready?.stop();
    await http?.close();
    await rt?.stop();
    await srv?.stop();
  });

  it('serves /metrics that the Prometheus parser accepts, with call and process series', async () => {
    for (let i = 0; i < 3; i++) {
      await rt.predict({
        module: 'Predict',
        signature: 'question -> answer',
        inputs: { question: `q${i}` },
      });
    }
    const res = await fetch(`${http.url}/metrics`);
    expect(res.status).toBe(200);
    const families = await parseExposition(await res.text());
    const byName = new Map(families.map((f) => [f.name, f]));

    const calls = byName.get('dspex_calls');
    expect(calls?.type).toBe('counter');
    expect(calls?.samples).toContainEqual({
      name: 'dspex_calls_total',
      labels: { pool: 'general', outcome: 'ok' },
      value: 3,
    });
    const latency = byName.get('dspex_call_duration_seconds');
    expect(latency?.type).toBe('histogram');
    const buckets = latency!.samples.filter((s) => s.name.endsWith('_bucket') && s.labels.pool === 'general');
    const counts = buckets.map((s) => Number(s.value));
    expect(counts).toEqual([...counts].sort((a, b) => a - b));
    expect(buckets.at(-1)?.labels.le).toBe('+Inf');
    expect(counts.at(-1)).toBe(3);
    for (const name of [
      'process_cpu_user_seconds',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_seconds',
    ]) {
      expect(byName.has(name), name).toBe(true);
    }
  });

  it('is ready while the node serves, and not ready once it stops', async () => {
    expect((await fetch(`${http.url}/healthz`)).status).toBe(200);
    const up = await fetch(`${http.url}/readyz`);
    expect(up.status).toBe(200);
    expect(await up.json()).toMatchObject({
      ready: true,
      checks: { nats: { ok: true }, 'pool:general': { ok: true } },
    });

    await rt.stop();
    const down = await fetch(`${http.url}/readyz`);
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({ ready: false, checks: { nats: { ok: false } } });
    // The process is still up: only readiness flips.
    expect((await fetch(`${http.url}/healthz`)).status).toBe(200);
  });
});
