/**
 * I/O-bound scale: how many real LM calls a worker and a node carry at once. A local
 * OpenAI-compatible server (the test suite's, in its own process) answers every chat completion
 * after a fixed delay; DSPy workers call it through litellm (`dspy.LM`, streaming off). For each
 * in-flight level (closed loops of C callers) we measure calls/s and the latency added over the
 * LM's delay for: one worker called straight on its subject (no node), a node with a pool of one
 * worker and a node with a pool of two (`rt.predict()`). Beside them, in the same run, DSPy's own
 * answer in one Python process: the same Predict under `dspy.Parallel` (threads) and under
 * `acall` on one asyncio loop.
 *
 * A call that fails is counted (errors column) and its caller waits one LM delay before its next
 * call, so a subject that sheds load shows as errors and lost calls/s rather than stopping the run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { headers as natsHeaders, type NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { pino } from 'pino';
import { createRuntime, type Runtime } from '../../src/index.js';
import { decode, encode, Encoding } from '../../src/protocol/codec.js';
import { Header } from '../../src/protocol/headers.js';
import { startPython, type PythonScript } from '../lib/python.js';
import { summarize } from '../lib/stats.js';
import type { BenchRow, Scenario, ScenarioResult } from '../types.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SIGNATURE = 'question -> answer';
const QUESTION = 'What is the capital of France?';
const LM = 'openai/bench-model';

/** Per-worker concurrency for the run: unset keeps the pool default (`DSPEX_BENCH_CONCURRENCY`). */
const CONCURRENCY = process.env.DSPEX_BENCH_CONCURRENCY;

interface Run {
  samples_ms: number[];
  elapsed_ms: number;
  errors?: number;
}

/** Callers that make one discarded call first (connections, module cache). */
const WARMUP = 50;

let seq = 0;
const question = (): string => `${seq++}: ${QUESTION}`;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * C callers in a closed loop for `seconds` (after one discarded call each of at most WARMUP of them). Failures are counted;
 * a failed caller waits `backoffMs` before its next call.
 */
async function closedLoop(
  call: () => Promise<void>,
  concurrency: number,
  seconds: number,
  backoffMs: number,
): Promise<Run & { errors: number; firstError?: string }> {
  let errors = 0;
  let firstError: string | undefined;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, WARMUP) }, () => call().catch(() => sleep(backoffMs))),
  );
  const samples: number[] = [];
  const begin = performance.now();
  const stopAt = begin + seconds * 1000;
  const lane = async (): Promise<void> => {
    while (performance.now() < stopAt) {
      const t0 = performance.now();
      try {
        await call();
        samples.push(performance.now() - t0);
      } catch (error) {
        errors++;
        firstError ??= String(error);
        await sleep(backoffMs);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, () => lane()));
  return { samples_ms: samples, elapsed_ms: performance.now() - begin, errors, firstError };
}

/** The LM server child: resolves with its base URL. */
function startLmServer(delayMs: number): Promise<{ baseUrl: string; child: ChildProcess }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', resolve(root, 'bench/lib/lm-server-main.ts'), '--delay-ms', String(delayMs)],
    { cwd: root, stdio: ['pipe', 'pipe', 'inherit'] },
  );
  return new Promise((ok, fail) => {
    child.once('exit', (code) => fail(new Error(`LM server exited (${code}) before listening`)));
    createInterface({ input: child.stdout }).once('line', (line) => {
      ok({ baseUrl: (JSON.parse(line) as { baseUrl: string }).baseUrl, child });
    });
  });
}

const scenario: Scenario = {
  name: 'concurrency',
  description:
    'Predict (`question -> answer`) on a real `dspy.LM` (litellm) against a local OpenAI-compatible server ' +
    'answering after a fixed delay: C callers in a closed loop, for one worker (straight to its subject), ' +
    'a node with 1 worker and a node with 2 workers, beside DSPy in one Python process (dspy.Parallel ' +
    'threads; acall on asyncio). added_p50/p99: latency over the LM delay; ideal_x: calls/s ÷ (C / delay).',
  async run({ quick }): Promise<ScenarioResult> {
    const delayMs = Number(process.env.DSPEX_BENCH_LM_DELAY_MS ?? 500);
    const levels = quick ? [10, 100] : [10, 100, 500, 2000];
    const seconds = quick ? 2 : Math.max(3, (6 * delayMs) / 1000);
    // Calls that cannot finish in this time fail (408) and are counted as errors.
    const deadlineMs = Math.max(10_000, 4 * delayMs);
    const lmServer = await startLmServer(delayMs);
    const env = {
      DSPEX_LM_API_BASE: lmServer.baseUrl,
      DSPEX_LM_API_KEY: 'bench-key',
      DSPEX_LM: LM,
    };
    const rows: BenchRow[] = [];
    const notes: string[] = [];
    const ratios: Record<string, number> = {};
    let py: PythonScript | undefined;
    let rt: Runtime | undefined;
    let nc: NatsConnection | undefined;
    const saved = { ...process.env };
    try {
      Object.assign(process.env, env);
      py = startPython(root, 'concurrency_inprocess.py', []);
      const pyInfo = (await py.next(180_000)) as { startup_ms: number; dspy_version: string };
      const concurrency = CONCURRENCY === undefined ? {} : { concurrency: Number(CONCURRENCY) };
      rt = await createRuntime({
        pools: {
          one: { size: 1, lm: LM, env, ...concurrency },
          two: { size: 2, lm: LM, env, ...concurrency },
        },
        logger: pino({ level: 'error' }, pino.destination(2)),
      });
      await rt.waitForWorkers('one', 1);
      await rt.waitForWorkers('two', 2);
      const status = rt.status();
      const onePool = status.pools.find((p) => p.name === 'one')!;
      const worker = onePool.workers[0]!;
      const perWorker = onePool.concurrency;
      nc = await connect({ servers: rt.servers, name: 'bench-concurrency-caller' });
      const caller = nc;
      const node = rt;
      const direct = async (): Promise<void> => {
        const h = natsHeaders();
        h.set(Header.Deadline, String(Date.now() + deadlineMs));
        const body = {
          op: 'predict',
          id: randomUUID(),
          module: 'Predict',
          signature: SIGNATURE,
          inputs: { question: question() },
        };
        const msg = await caller.request(`dspex.pool.one.${worker.id}`, encode(body, Encoding.Msgpack), {
          timeout: deadlineMs,
          headers: h,
        });
        const err = msg.headers?.get(Header.ErrorCode) ?? '';
        const reply = decode(msg.data, Encoding.Msgpack) as { outputs?: { answer?: unknown } };
        if (err !== '' || typeof reply.outputs?.answer !== 'string')
          throw new Error(`worker replied ${err}: ${JSON.stringify(reply).slice(0, 200)}`);
      };
      const viaNode = (pool: string) => async (): Promise<void> => {
        const reply = await node.predict(
          { pool, module: 'Predict', signature: SIGNATURE, inputs: { question: question() } },
          { deadline: Date.now() + deadlineMs },
        );
        if (typeof reply.outputs.answer !== 'string') throw new Error('no answer');
      };
      const pyRun = (op: string) => async (c: number) =>
        (await py!.send({ op, concurrency: c, seconds }, seconds * 1000 + 300_000)) as Run;
      const subjects: Array<{ subject: string; baseline: boolean; run: (c: number) => Promise<Run> }> = [
        { subject: 'DSPy dspy.Parallel (threads), 1 process', baseline: true, run: pyRun('threads') },
        { subject: 'DSPy acall on asyncio, 1 process', baseline: true, run: pyRun('acall') },
        {
          subject: 'dspex: 1 worker, straight to its subject',
          baseline: false,
          run: (c) => closedLoop(direct, c, seconds, delayMs),
        },
        {
          subject: 'dspex: node, pool of 1 worker',
          baseline: false,
          run: (c) => closedLoop(viaNode('one'), c, seconds, delayMs),
        },
        {
          subject: 'dspex: node, pool of 2 workers',
          baseline: false,
          run: (c) => closedLoop(viaNode('two'), c, seconds, delayMs),
        },
      ];
      for (const c of levels) {
        for (const s of subjects) {
          process.stderr.write(`bench: concurrency ${c}: ${s.subject}\n`);
          const run = await s.run(c);
          const perS = (run.samples_ms.length * 1000) / run.elapsed_ms;
          const lat = run.samples_ms.length > 0 ? summarize(run.samples_ms) : undefined;
          const ideal = (c * 1000) / delayMs;
          rows.push({
            subject: `C=${c}: ${s.subject}`,
            baseline: s.baseline,
            metrics: {
              in_flight: c,
              per_s: perS,
              ideal_x: perS / ideal,
              added_p50_ms: lat === undefined ? Number.NaN : lat.p50_ms - delayMs,
              added_p99_ms: lat === undefined ? Number.NaN : lat.p99_ms - delayMs,
              errors: run.errors ?? 0,
              n: run.samples_ms.length,
            },
          });
          const first = (run as { firstError?: string }).firstError;
          if (first !== undefined) notes.push(`C=${c}, ${s.subject}: first error: ${first.slice(0, 160)}`);
        }
        const get = (prefix: string): number =>
          rows.find((r) => r.subject === `C=${c}: ${prefix}`)?.metrics.per_s ?? Number.NaN;
        ratios[`C=${c} node 2 workers / DSPy acall calls/s x`] =
          get('dspex: node, pool of 2 workers') / get('DSPy acall on asyncio, 1 process');
        ratios[`C=${c} 1 worker / DSPy acall calls/s x`] =
          get('dspex: 1 worker, straight to its subject') / get('DSPy acall on asyncio, 1 process');
      }
      notes.unshift(
        `LM: ${LM} through litellm against the test suite's OpenAI-compatible server in its own Node process, ` +
          `answering after ${delayMs} ms; every call a distinct question (no cache hit). dspy ${pyInfo.dspy_version}`,
        `per level and subject: one discarded call for up to ${WARMUP} callers, then a closed loop of C callers for ${seconds} s; ` +
          `a failed call is counted and its caller waits ${delayMs} ms; deadline ${deadlineMs} ms per call`,
        `dspex: one runtime (private nats-server), pools "one" (1 worker) and "two" (2 workers), zygote launcher, ` +
          `per-worker concurrency ${perWorker}${CONCURRENCY === undefined ? ' (the default)' : ''}; node rows call rt.predict() in the bench process`,
      );
    } finally {
      for (const [k] of Object.entries(env)) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
      await py?.close();
      await nc?.close().catch(() => undefined);
      await rt?.stop();
      lmServer.child.stdin?.end();
      lmServer.child.kill('SIGTERM');
    }
    return { rows, ratios, notes };
  },
};

export default scenario;
