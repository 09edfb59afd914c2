/**
 * Cached predicts over the wire. A runtime node (one DSPy worker, DummyLM) answers a
 * `dspex.rpc.predict` it has answered before from its result cache, without a worker hop. A
 * SEPARATE Node process (this file run with `--cached-bench-child`) drives it with a closed loop of
 * many in-flight raw NATS requests (msgpack body, as any client sends), beside a raw NATS echo
 * whose responder lives in the node process, driven by the same child the same way. Rounds
 * alternate echo and predict; samples are pooled.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { pino } from 'pino';
import { decode, encode, Encoding } from '../../src/protocol/codec.js';
import { Header } from '../../src/protocol/headers.js';
import type { PredictRequest } from '../../src/protocol/schemas.js';
import { createRuntime, type Runtime } from '../../src/runtime/runtime.js';
import { closedLoop, summarizeLoad, type LoadRun } from '../lib/load.js';
import { ratio } from '../lib/stats.js';
import type { Scenario, ScenarioResult } from '../types.js';

const CHILD_FLAG = '--cached-bench-child';
const ECHO_SUBJECT = 'bench.cached.echo';
const PREDICT_SUBJECT = 'dspex.rpc.predict';
const REQUEST: PredictRequest = {
  module: 'Predict',
  signature: 'question -> answer',
  inputs: { question: 'What is the capital of France?' },
};

interface ChildJob {
  servers: string[];
  subject: string;
  /** msgpack body, base64. */
  body: string;
  concurrency: number;
  calls: number;
  seconds: number;
  warmupPerLane: number;
}

/** The client process: one closed-loop run, its result as one JSON line on stdout. */
async function child(job: ChildJob): Promise<void> {
  const nc = await connect({ servers: job.servers, name: 'bench-cached-client' });
  const body = Buffer.from(job.body, 'base64');
  let checked = 0;
  const call = async (): Promise<void> => {
    const msg = await nc.request(job.subject, body, { timeout: 30_000 });
    const status = msg.headers?.get(Header.ErrorCode) ?? '';
    if (status !== '') throw new Error(`error reply ${status}: ${msg.headers?.get(Header.Error) ?? ''}`);
    // Decode a sample of replies: a benchmark of wrong answers would be worthless.
    if (checked++ % 64 === 0 && job.subject === PREDICT_SUBJECT) {
      const reply = decode(msg.data, Encoding.Msgpack) as { outputs?: { answer?: unknown } };
      if (typeof reply.outputs?.answer !== 'string') throw new Error(`bad reply ${JSON.stringify(reply)}`);
    }
  };
  const run = await closedLoop(call, {
    concurrency: job.concurrency,
    maxCalls: job.calls,
    maxMs: job.seconds * 1000,
    warmupPerLane: job.warmupPerLane,
  });
  await nc.close();
  // Wait for the pipe to take the whole line: exiting earlier would truncate it.
  await new Promise<void>((resolve) => process.stdout.write(JSON.stringify(run) + '\n', () => resolve()));
}

/** Runs one job in a fresh client process. */
function runChild(job: ChildJob): Promise<LoadRun> {
  return new Promise((resolve, reject) => {
    const proc = spawn(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(import.meta.url), CHILD_FLAG, JSON.stringify(job)],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    proc.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    proc.on('error', reject);
    proc.on('close', (code) => {
      if (code !== 0) return reject(new Error(`client process exited with ${code}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').at(-1)!) as LoadRun);
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  });
}

async function counterValue(rt: Runtime, name: string, labels: Record<string, string>): Promise<number> {
  const metric = (await rt.metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
  return ((metric?.values ?? []) as Array<{ labels: Record<string, string | number>; value: number }>)
    .filter((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want))
    .reduce((sum, v) => sum + v.value, 0);
}

const CONCURRENCY = 256;

const scenario: Scenario = {
  name: 'cached',
  description:
    'A cached DummyLM `Predict` over the wire (`dspex.rpc.predict`, msgpack, answered from the node’s result ' +
    `cache) driven from a separate Node process by a closed loop of ${CONCURRENCY} in-flight requests, beside a ` +
    'raw NATS request/reply echo (responder in the node process) driven the same way. Target ≥ 20,000 req/s.',
  async run({ quick }): Promise<ScenarioResult> {
    const rounds = quick ? 1 : 3;
    const seconds = quick ? 2 : 5;
    const calls = quick ? 40_000 : 400_000;
    let rt: Runtime | undefined;
    let responder: NatsConnection | undefined;
    try {
      rt = await createRuntime({
        pools: { general: { size: 1 } },
        logger: pino({ level: 'error' }, pino.destination(2)),
      });
      await rt.waitForWorkers('general', 1);
      responder = await connect({ servers: rt.servers, name: 'bench-echo-responder' });
      responder.subscribe(ECHO_SUBJECT, {
        callback: (err, msg) => {
          if (err === null) msg.respond(msg.data);
        },
      });
      await responder.flush();
      // One call through the worker fills the cache; every measured call is then a hit.
      const primed = await rt.predict(REQUEST);
      if (primed.usage?.cached !== false) throw new Error('the priming call did not reach a worker');
      const workerCallsBefore = await counterValue(rt, 'dspex_calls_total', { pool: 'general' });
      const hitsBefore = await counterValue(rt, 'dspex_llm_cache_total', { cache: 'predict', result: 'hit' });

      const body = Buffer.from(encode(REQUEST, Encoding.Msgpack)).toString('base64');
      const job = (subject: string): ChildJob => ({
        servers: rt!.servers,
        subject,
        body,
        concurrency: CONCURRENCY,
        calls,
        seconds,
        warmupPerLane: 20,
      });
      const echo: LoadRun[] = [];
      const cached: LoadRun[] = [];
      // CPU this (node) process spent per request answered, warm-up calls included: a figure the
      // machine's load moves far less than throughput.
      const cpu = { echo: { us: 0, calls: 0 }, cached: { us: 0, calls: 0 } };
      const measured = async (subject: string, into: LoadRun[], acc: { us: number; calls: number }) => {
        const spec = job(subject);
        const start = process.cpuUsage();
        const run = await runChild(spec);
        const used = process.cpuUsage(start);
        acc.us += used.user + used.system;
        acc.calls += run.samples_ms.length + spec.concurrency * spec.warmupPerLane;
        into.push(run);
      };
      for (let round = 0; round < rounds; round++) {
        await measured(ECHO_SUBJECT, echo, cpu.echo);
        await measured(PREDICT_SUBJECT, cached, cpu.cached);
      }
      const cpuPer = (acc: { us: number; calls: number }): number => acc.us / Math.max(1, acc.calls);
      const workerCalls =
        (await counterValue(rt, 'dspex_calls_total', { pool: 'general' })) - workerCallsBefore;
      const hits =
        (await counterValue(rt, 'dspex_llm_cache_total', { cache: 'predict', result: 'hit' })) - hitsBefore;
      const e = summarizeLoad(echo);
      const c = summarizeLoad(cached);
      const row = (s: typeof e, cpuUs: number) => ({
        per_s: s.per_s,
        p50_ms: s.p50_ms,
        p99_ms: s.p99_ms,
        node_cpu_us: cpuUs,
        n: s.calls,
      });
      return {
        rows: [
          {
            subject: 'dspex cached predict (separate client process)',
            baseline: false,
            metrics: row(c, cpuPer(cpu.cached)),
          },
          { subject: 'raw NATS echo (same client style)', baseline: true, metrics: row(e, cpuPer(cpu.echo)) },
        ],
        ratios: {
          'cached / echo throughput': ratio(c.per_s, e.per_s),
          'cached p50 / echo p50': ratio(c.p50_ms, e.p50_ms),
          'node CPU per request cached / echo': ratio(cpuPer(cpu.cached), cpuPer(cpu.echo)),
          'cached req/s / 20,000 target': c.per_s / 20_000,
        },
        notes: [
          `${CONCURRENCY} requests in flight from one client process; ${rounds} round(s) of ≤ ${seconds} s per subject, alternating.`,
          `Worker calls during the measured predict runs: ${workerCalls} (cache hits counted by the node: ${hits}, warm-up included).`,
          'Latency under load is queueing-dominated at this concurrency: p50 ≈ in-flight / throughput.',
          'node_cpu_us: CPU time (user + system) of the node process per request answered (warm-up calls included), ' +
            'the echo responder living in the same process.',
        ],
      };
    } finally {
      await responder?.close().catch(() => undefined);
      await rt?.stop();
    }
  },
};

export default scenario;

if (process.argv[2] === CHILD_FLAG) {
  child(JSON.parse(process.argv[3]!) as ChildJob).then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`cached bench client: ${(error as Error).stack ?? String(error)}\n`);
      process.exit(1);
    },
  );
}
