/**
 * Overload: a burst far above a pool's capacity. A runtime node with a pool of 2 DummyLM workers
 * (concurrency 4 each, queue limit 1000) receives B predicts as fast as one client can send them
 * (B = 300, 1,000, 5,000), each a distinct question with `Dspex-Deadline` = send time + 2 s, from a
 * SEPARATE Node process (this file run with `--overload-bench-child`, raw NATS, msgpack, as any
 * client sends). Per burst:
 * goodput (calls answered OK before their deadline), replies by status, calls never answered, and
 * time-to-429 (p50/p99 from sending a call to its 429). Beside it, in the same run, the pool's
 * steady-state throughput: a closed loop of 16 callers from the same kind of process, and what the
 * pool could have finished in the 2 s window at that rate.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { headers as natsHeaders, type Msg } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { pino } from 'pino';
import { encode, Encoding } from '../../src/protocol/codec.js';
import { Header } from '../../src/protocol/headers.js';
import { createRuntime, type Runtime } from '../../src/runtime/runtime.js';
import { closedLoop, summarizeLoad, type LoadRun } from '../lib/load.js';
import { percentile, ratio } from '../lib/stats.js';
import type { BenchRow, Scenario, ScenarioResult } from '../types.js';

const CHILD_FLAG = '--overload-bench-child';
const SUBJECT = 'dspex.rpc.predict';
const POOL = 'general';
const WORKERS = 2;
const DEADLINE_MS = 2000;
const STEADY_CALLERS = 16;
const BURSTS = [300, 1000, 5000] as const;
/** Requests a burst client sends before it lets its event loop read replies. */
const SEND_BATCH = 50;

type ChildJob =
  | { kind: 'steady'; servers: string[]; calls: number; seconds: number; tag: string }
  | { kind: 'burst'; servers: string[]; size: number; deadlineMs: number; tag: string };

/** What a burst child reports: counts by outcome and the latency of every 429. */
interface BurstResult {
  size: number;
  /** Answered OK before the call's deadline. */
  goodput: number;
  /** Answered OK, but after the deadline (useless to the caller). */
  late: number;
  /** Replies by `Nats-Service-Error-Code` ("ok" for successes). */
  statuses: Record<string, number>;
  /** No reply at all by deadline + 1 s. */
  lost: number;
  /** ms from sending a call to its 429, every 429. */
  overloaded_ms: number[];
  /** ms from the first send to the last reply. */
  span_ms: number;
  /** ms the client took to hand the whole burst to its connection (flushed). */
  send_ms: number;
  /** ms from the first send to the first reply of any kind. */
  first_reply_ms: number;
}

const body = (tag: string, i: number): Uint8Array =>
  encode(
    { module: 'Predict', signature: 'question -> answer', inputs: { question: `${tag}-${i}: what is 2+2?` } },
    Encoding.Msgpack,
  );

const statusOf = (msg: Msg): string => msg.headers?.get(Header.ErrorCode) || 'ok';

async function burst(job: Extract<ChildJob, { kind: 'burst' }>): Promise<BurstResult> {
  const nc = await connect({ servers: job.servers, name: 'bench-overload-client' });
  const bodies = Array.from({ length: job.size }, (_, i) => body(job.tag, i));
  const result: BurstResult = {
    size: job.size,
    goodput: 0,
    late: 0,
    statuses: {},
    lost: 0,
    overloaded_ms: [],
    span_ms: 0,
    send_ms: 0,
    first_reply_ms: 0,
  };
  const first = performance.now();
  const calls: Array<Promise<void>> = [];
  const send = async (data: Uint8Array): Promise<void> => {
    const deadline = Date.now() + job.deadlineMs;
    const h = natsHeaders();
    h.set(Header.Deadline, String(deadline));
    const t0 = performance.now();
    try {
      const msg = await nc.request(SUBJECT, data, { timeout: job.deadlineMs + 1000, headers: h });
      if (result.first_reply_ms === 0) result.first_reply_ms = performance.now() - first;
      const status = statusOf(msg);
      result.statuses[status] = (result.statuses[status] ?? 0) + 1;
      if (status === 'ok') {
        if (Date.now() <= deadline) result.goodput++;
        else result.late++;
      }
      if (status === '429') result.overloaded_ms.push(performance.now() - t0);
    } catch {
      result.lost++;
    }
  };
  // As fast as one client can: batches of SEND_BATCH, yielding between them so that replies are
  // read as they arrive (a client blocked in one long loop would time its own backlog, not the node).
  for (let i = 0; i < bodies.length; i++) {
    calls.push(send(bodies[i]!));
    if (i % SEND_BATCH === SEND_BATCH - 1) await new Promise((r) => setImmediate(r));
  }
  await nc.flush();
  result.send_ms = performance.now() - first;
  await Promise.all(calls);
  result.span_ms = performance.now() - first;
  await nc.close();
  return result;
}

async function steady(job: Extract<ChildJob, { kind: 'steady' }>): Promise<LoadRun> {
  const nc = await connect({ servers: job.servers, name: 'bench-overload-steady' });
  let i = 0;
  const run = await closedLoop(
    async () => {
      const msg = await nc.request(SUBJECT, body(job.tag, i++), { timeout: 30_000 });
      const status = statusOf(msg);
      if (status !== 'ok') throw new Error(`steady call answered ${status}`);
    },
    { concurrency: STEADY_CALLERS, maxCalls: job.calls, maxMs: job.seconds * 1000, warmupPerLane: 5 },
  );
  await nc.close();
  return run;
}

async function child(job: ChildJob): Promise<void> {
  const out = job.kind === 'burst' ? await burst(job) : await steady(job);
  // Wait for the pipe to take the whole line: exiting earlier would truncate it.
  await new Promise<void>((resolve) => process.stdout.write(JSON.stringify(out) + '\n', () => resolve()));
}

function runChild<T>(job: ChildJob): Promise<T> {
  return new Promise((resolve, reject) => {
    const proc = spawn(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(import.meta.url), CHILD_FLAG, JSON.stringify(job)],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    proc.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    proc.on('error', reject);
    proc.on('close', (code) => {
      if (code !== 0) return reject(new Error(`client process exited with ${code}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').at(-1)!) as T);
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  });
}

/** Waits until the pool has nothing queued or in flight (the previous burst fully drained). */
async function settle(rt: Runtime): Promise<void> {
  const limit = Date.now() + 60_000;
  for (;;) {
    const pool = rt.status().pools.find((p) => p.name === POOL);
    const busy = (pool?.queue.length ?? 0) + (pool?.workers.reduce((n, w) => n + w.inflight, 0) ?? 0);
    if (busy === 0) break;
    if (Date.now() > limit) throw new Error(`pool ${POOL} still busy (${busy}) a minute after a burst`);
    await new Promise((r) => setTimeout(r, 50));
  }
  await new Promise((r) => setTimeout(r, 500));
}

const quantile = (samples: number[], p: number): number =>
  samples.length === 0
    ? Number.NaN
    : percentile(
        [...samples].sort((a, b) => a - b),
        p,
      );

const scenario: Scenario = {
  name: 'overload',
  description:
    `Bursts of DummyLM predicts far above capacity on a pool of ${WORKERS} workers (concurrency 4, queue ` +
    `limit 1000), every call with a ${DEADLINE_MS / 1000} s deadline, sent as fast as a separate client ` +
    'process can. goodput: calls answered OK within their deadline; capacity_2s: what the pool finishes in ' +
    `2 s at its steady rate; to429_p50/p99_ms: send → 429 reply. Beside it the steady-state throughput ` +
    `(closed loop of ${STEADY_CALLERS} callers) measured in the same run.`,
  async run({ quick }): Promise<ScenarioResult> {
    const seconds = quick ? 2 : 5;
    let rt: Runtime | undefined;
    try {
      rt = await createRuntime({
        pools: { [POOL]: { size: WORKERS } },
        logger: pino({ level: 'error' }, pino.destination(2)),
      });
      await rt.waitForWorkers(POOL, WORKERS);
      const servers = rt.servers;
      const steadyBefore = await runChild<LoadRun>({
        kind: 'steady',
        servers,
        calls: 100_000,
        seconds,
        tag: 'steady-a',
      });
      await settle(rt);
      const bursts: BurstResult[] = [];
      for (const size of quick ? [300, 1000] : BURSTS) {
        bursts.push(
          await runChild<BurstResult>({
            kind: 'burst',
            servers,
            size,
            deadlineMs: DEADLINE_MS,
            tag: `burst-${size}`,
          }),
        );
        await settle(rt);
      }
      const steadyAfter = await runChild<LoadRun>({
        kind: 'steady',
        servers,
        calls: 100_000,
        seconds,
        tag: 'steady-b',
      });
      const s = summarizeLoad([steadyBefore, steadyAfter]);
      const capacity = (s.per_s * DEADLINE_MS) / 1000;
      const rows: BenchRow[] = [
        {
          subject: `steady state: ${STEADY_CALLERS} callers in a closed loop (before and after the bursts)`,
          baseline: true,
          metrics: { per_s: s.per_s, p50_ms: s.p50_ms, p99_ms: s.p99_ms, capacity_2s: capacity, n: s.calls },
        },
        ...bursts.map((b) => ({
          subject: `burst of ${b.size.toLocaleString('en-US')}`,
          baseline: false,
          metrics: {
            goodput: b.goodput,
            goodput_of_capacity: ratio(b.goodput, Math.min(capacity, b.size)),
            late_ok: b.late,
            r429: b.statuses['429'] ?? 0,
            r408: b.statuses['408'] ?? 0,
            other_err: Object.entries(b.statuses)
              .filter(([k]) => !['ok', '429', '408'].includes(k))
              .reduce((n, [, v]) => n + v, 0),
            lost: b.lost,
            to429_p50_ms: quantile(b.overloaded_ms, 50),
            to429_p99_ms: quantile(b.overloaded_ms, 99),
            span_ms: b.span_ms,
          },
        })),
      ];
      const ratios: Record<string, number> = {};
      for (const b of bursts) {
        ratios[`burst ${b.size}: goodput / min(burst, capacity in 2 s)`] = ratio(
          b.goodput,
          Math.min(capacity, b.size),
        );
      }
      return {
        rows,
        ratios,
        notes: [
          `steady state before the bursts ${Math.round(steadyBefore.samples_ms.length / (steadyBefore.elapsed_ms / 1000))}/s, after ${Math.round(steadyAfter.samples_ms.length / (steadyAfter.elapsed_ms / 1000))}/s (pooled in the row).`,
          'Every call asks a distinct question, so no result cache answers; bursts run one after another, ' +
            'each once the pool has drained the previous one.',
          'late_ok: answered OK after its deadline (the caller had given up); lost: no reply by deadline + 1 s; ' +
            'other_err: any other error status.',
        ],
      };
    } finally {
      await rt?.stop();
    }
  },
};

export default scenario;

if (process.argv[2] === CHILD_FLAG) {
  child(JSON.parse(process.argv[3]!) as ChildJob).then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`overload bench client: ${(error as Error).stack ?? String(error)}\n`);
      process.exit(1);
    },
  );
}
