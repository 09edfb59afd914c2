import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Runtime } from '../../src/index.js';
import { startObservabilityServer, type ObservabilityServer } from '../../src/telemetry/http.js';
import { nodeReadiness } from '../../src/telemetry/readiness.js';
import { startNats, type NatsServer } from '../harness/nats.js';
import { eventually } from '../harness/eventually.js';
import { startNodeProcess } from '../harness/node-process.js';
import { startRuntime, venvPython } from '../harness/runtime.js';
import { createClient } from '../../src/runtime/client.js';
import { createServer } from 'node:net';

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

/** A TCP port free right now (the OS picks it). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const sample = (families: Family[], metric: string, labels: Record<string, string>): number | undefined => {
  for (const f of families) {
    for (const s of f.samples) {
      if (s.name === metric && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) {
        return Number(s.value);
      }
    }
  }
  return undefined;
};

describe('dspex node with DSPEX_METRICS_PORT', () => {
  it("serves per-worker series, including the Python workers' own measurements", async () => {
    await using srv = await startNats();
    const port = await freePort();
    await using node = await startNodeProcess({
      nats: srv.url,
      nodeId: 'metrics-node',
      config: { pools: { general: { size: 2 } } },
      env: { DSPEX_METRICS_PORT: String(port) },
    });
    const url = `http://127.0.0.1:${port}`;
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);

    await using client = await createClient({ servers: srv.url });
    const workers = new Set<string>();
    for (let i = 0; i < 8; i++) {
      const reply = await client.predict({
        module: 'Predict',
        signature: 'question -> answer',
        inputs: { question: `q${i}` },
      });
      workers.add(reply.worker);
    }

    // The workers' counters arrive with their next heartbeat (every second).
    const families = await eventually(
      async () => {
        const text = await (await fetch(`${url}/metrics`)).text();
        const parsed = await parseExposition(text);
        let total = 0;
        for (const w of workers)
          total += sample(parsed, 'dspex_worker_py_calls_total', { worker: w, outcome: 'ok' }) ?? 0;
        expect(total).toBe(8);
        return parsed;
      },
      { timeoutMs: 20_000, intervalMs: 300 },
    );
    const status = [...workers][0]!;
    expect(sample(families, 'dspex_worker_state', { pool: 'general', worker: status, state: 'ready' })).toBe(
      1,
    );
    expect(sample(families, 'dspex_worker_rss_bytes', { pool: 'general', worker: status })).toBeGreaterThan(
      10e6,
    );
    expect(sample(families, 'dspex_worker_inflight', { pool: 'general', worker: status })).toBe(0);
    expect(sample(families, 'dspex_worker_breaker_open', { pool: 'general', worker: status })).toBe(0);
    let attempts = 0;
    let lmCalls = 0;
    let dspySeconds = 0;
    for (const w of workers) {
      attempts += sample(families, 'dspex_worker_attempts_total', { worker: w, outcome: 'ok' }) ?? 0;
      lmCalls +=
        sample(families, 'dspex_worker_lm_calls_total', { pool: 'general', worker: w, model: 'dummy' }) ?? 0;
      dspySeconds += sample(families, 'dspex_worker_dspy_seconds_total', { worker: w }) ?? 0;
      expect(sample(families, 'dspex_worker_attempt_duration_seconds_count', { worker: w })).toBeGreaterThan(
        0,
      );
    }
    expect(attempts).toBe(8);
    // One DummyLM call per Predict, timed by the worker's DSPy callback (warm-up calls not counted).
    expect(lmCalls).toBe(8);
    expect(dspySeconds).toBeGreaterThan(0);
    expect(families.some((f) => f.name === 'dspex_worker_gc_collections')).toBe(true);
    expect(sample(families, 'dspex_pool_inflight', { pool: 'general' })).toBe(0);
    await node.stop();
    expect(await node.exited).toBe(0);
  });
});
