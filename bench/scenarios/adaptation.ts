/**
 * Adaptation: a batch of predictions on a pool where one worker is slow (case 1) or fails
 * intermittently (case 2), routed by the adaptive strategy (latency/error aware, circuit breakers,
 * hedging) beside plain round-robin, on the same worker processes in the same run.
 *
 * Workers are started by hand (`dspex-worker --count`), outside any runtime node, so both strategies
 * see the very same processes; each strategy gets its own runtime node (no local workers) in turn.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { pino } from 'pino';
import { createRuntime, DspexError, startNatsServer, type Runtime } from '../../src/index.js';
import { summarize } from '../lib/stats.js';
import type { BenchRow, Scenario, ScenarioResult } from '../types.js';

const root = new URL('../../', import.meta.url).pathname;
const workerBin = `${root}python/.venv/bin/dspex-worker`;

interface Case {
  pool: string;
  label: string;
  /** The odd worker's environment. */
  odd: Record<string, string>;
}

const FAST_DELAY_MS = 50;
const CASES: Case[] = [
  {
    pool: 'slowcase',
    label: 'one slow worker (15x)',
    odd: { DSPEX_DUMMY_DELAY_MS: String(FAST_DELAY_MS * 15) },
  },
  {
    pool: 'flakycase',
    label: 'one worker failing 50% of calls',
    // A failing backend is rarely a fast one: its calls take 4x as long, then half of them fail.
    odd: { DSPEX_DUMMY_DELAY_MS: String(FAST_DELAY_MS * 4), DSPEX_DUMMY_FAIL_RATE: '0.5' },
  },
];
const STRATEGIES = ['round_robin', 'adaptive'] as const;

function startWorkers(
  url: string,
  pool: string,
  count: number,
  id: string | undefined,
  env: Record<string, string>,
): ChildProcess {
  const args = ['--nats', url, '--pool', pool, '--concurrency', '2', '--heartbeat-ms', '250'];
  if (count > 1) args.push('--count', String(count));
  if (id !== undefined) args.push('--id', id);
  return spawn(workerBin, args, {
    stdio: ['ignore', 'ignore', 'ignore'],
    env: { ...process.env, LITELLM_LOCAL_MODEL_COST_MAP: 'True', ...env },
  });
}

async function runBatch(rt: Runtime, pool: string, n: number, tag: string) {
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const t = performance.now();
      try {
        await rt.predict({
          module: 'Predict',
          signature: 'question -> answer',
          inputs: { question: `${tag} ${i}` },
          pool,
          config: { cache: false },
        });
        latencies.push(performance.now() - t);
      } catch (error) {
        if (!(error instanceof DspexError)) throw error;
        errors++;
        latencies.push(performance.now() - t);
      }
    }),
  );
  return { total_ms: performance.now() - started, latencies, errors };
}

/**
 * Resource prediction: before each call, the orchestrator's estimate (pattern store + queue); after
 * it, the measured latency. Four callers keep the pool busy, so queueing is part of what is predicted.
 */
async function predictionRow(rt: Runtime, c: Case, n: number): Promise<BenchRow> {
  const errors: number[] = [];
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      const estimate = rt.orchestrator.estimate({
        module: 'Predict',
        signature: 'question -> answer',
        pool: c.pool,
      });
      const t = performance.now();
      try {
        await rt.predict({
          module: 'Predict',
          signature: 'question -> answer',
          inputs: { question: `predict ${c.pool} ${i}` },
          pool: c.pool,
          config: { cache: false },
        });
      } catch (error) {
        if (!(error instanceof DspexError)) throw error;
      }
      const actual = performance.now() - t;
      if (estimate.predictedMs !== undefined) errors.push(Math.abs(estimate.predictedMs - actual) / actual);
    }
  };
  await Promise.all(Array.from({ length: 4 }, () => lane()));
  const sorted = [...errors].sort((a, b) => a - b);
  return {
    subject: `${c.label}: latency prediction before each call (adaptive)`,
    baseline: false,
    metrics: {
      n: errors.length,
      mean_abs_error_pct: (100 * errors.reduce((a, b) => a + b, 0)) / Math.max(1, errors.length),
      median_abs_error_pct: 100 * (sorted[Math.floor(sorted.length / 2)] ?? 0),
    },
  };
}

const scenario: Scenario = {
  name: 'adaptation',
  description:
    'A batch of DummyLM predictions on a pool of 3 fast workers and 1 odd one (15x slower, or failing half its calls), ' +
    'routed adaptively (latency/error-aware, breakers, hedging) beside plain round-robin, on the same processes.',
  async run({ quick }): Promise<ScenarioResult> {
    const n = quick ? 160 : 400;
    const server = await startNatsServer();
    const children: ChildProcess[] = [];
    const rows: BenchRow[] = [];
    const ratios: Record<string, number> = {};
    const notes: string[] = [];
    try {
      for (const c of CASES) {
        children.push(
          startWorkers(server.url, c.pool, 3, undefined, { DSPEX_DUMMY_DELAY_MS: String(FAST_DELAY_MS) }),
        );
        children.push(startWorkers(server.url, c.pool, 1, `${c.pool}-odd`, c.odd));
      }
      for (const c of CASES) {
        const totals: Record<string, number> = {};
        for (const strategy of STRATEGIES) {
          const rt = await createRuntime({
            nats: { servers: server.url },
            serve: false,
            pools: { [c.pool]: { size: 0, routing: strategy, heartbeatMs: 250 } },
            logger: pino({ level: 'error' }, pino.destination(2)),
          });
          try {
            await rt.waitForWorkers(c.pool, 4, 180_000);
            await runBatch(rt, c.pool, 24, `warm-${strategy}`); // both strategies get the same warm-up
            const r = await runBatch(rt, c.pool, n, `${c.pool}-${strategy}`);
            const s = summarize(r.latencies);
            totals[strategy] = r.total_ms;
            rows.push({
              subject: `${c.label}: ${strategy === 'adaptive' ? 'adaptive (dspex default)' : 'round-robin'}`,
              baseline: strategy === 'round_robin',
              metrics: { n, p50_ms: s.p50_ms, p95_ms: s.p95_ms, total_ms: r.total_ms, errors: r.errors },
            });
            if (strategy === 'adaptive') rows.push(await predictionRow(rt, c, quick ? 24 : 60));
          } finally {
            await rt.stop();
          }
        }
        const gain = 1 - totals.adaptive! / totals.round_robin!;
        ratios[`${c.pool}: total time saved by adaptive vs round-robin`] = gain;
      }
      notes.push(
        `fast workers answer in ~${FAST_DELAY_MS} ms (DSPEX_DUMMY_DELAY_MS), concurrency 2 each; ` +
          'retries (3 attempts) apply to both strategies; the LM cache is bypassed (config.cache=false).',
      );
      return { rows, ratios, notes };
    } finally {
      for (const child of children) child.kill('SIGTERM');
      await Promise.all(
        children.map(
          (child) =>
            new Promise<void>((r) => (child.exitCode !== null ? r() : child.once('exit', () => r()))),
        ),
      );
      await server.stop();
    }
  },
};

export default scenario;
