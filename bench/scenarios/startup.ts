/**
 * Cold start: the time from `createRuntime()` until `waitForWorkers(n)` resolves, for pools of 1 and
 * of 4 workers, with the zygote launcher (one pre-imported Python parent forks the workers) beside
 * the direct launcher (each worker imports DSPy on its own). Each run has its own runtime, private
 * nats-server and workers, all stopped (and checked gone) before the next run starts.
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { createRuntime, type Runtime } from '../../src/index.js';
import { childProcesses, waitForExit } from '../lib/processes.js';
import { ratio } from '../lib/stats.js';
import type { BenchRow, Scenario, ScenarioResult } from '../types.js';

type Launcher = 'zygote' | 'direct';
const POOL = 'general';

/** Proportional set size of a process, bytes (`/proc/<pid>/smaps_rollup`); NaN when unreadable. */
function pss(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m === null ? Number.NaN : Number(m[1]) * 1024;
  } catch {
    return Number.NaN;
  }
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

interface StartRun {
  launcher: Launcher;
  size: number;
  /** `createRuntime()` resolved (server started, node serving, workers launched). */
  create_ms: number;
  /** The first worker announced itself ready. */
  first_ready_ms: number;
  /** All `size` workers ready: the cold start. */
  ready_ms: number;
  /** `rt.stop()` took this long. */
  stop_ms: number;
  /** Mean PSS of the workers once ready, MiB. */
  pss_mb: number;
  /** Mean PSS of the workers after each ran a full collection (SIGUSR1), MiB. */
  pss_after_gc_mb: number;
  /** The zygote froze its heap before forking (`DSPEX_GC_FREEZE`). */
  freeze: boolean;
}

async function coldStart(launcher: Launcher, size: number, freeze = true): Promise<StartRun> {
  const before = new Set(childProcesses().map((p) => p.pid));
  const started = performance.now();
  let rt: Runtime | undefined;
  let pids: number[] = [];
  let run: StartRun;
  try {
    rt = await createRuntime({
      pools: { [POOL]: { size, env: freeze ? {} : { DSPEX_GC_FREEZE: '0' } } },
      worker: { launcher },
      logger: pino({ level: 'error' }, pino.destination(2)),
    });
    const create = performance.now() - started;
    await rt.waitForWorkers(POOL, 1, 180_000);
    const first = performance.now() - started;
    await rt.waitForWorkers(POOL, size, 180_000);
    const ready = performance.now() - started;
    pids = rt
      .status()
      .pools.flatMap((p) => p.workers)
      .map((w) => w.pid)
      .filter((pid): pid is number => typeof pid === 'number');
    // Settle (the workers' first heartbeats, the node's status calls), then PSS before and after a
    // full collection in every worker: SIGUSR1 makes a worker run gc.collect() on its loop.
    await sleep(2000);
    const before = mean(pids.map(pss)) / 2 ** 20;
    for (const pid of pids) process.kill(pid, 'SIGUSR1');
    await sleep(2000);
    const afterGc = mean(pids.map(pss)) / 2 ** 20;
    const stopStarted = performance.now();
    const stopping = rt;
    rt = undefined;
    await stopping.stop();
    const stop = performance.now() - stopStarted;
    run = {
      launcher,
      size,
      create_ms: create,
      first_ready_ms: first,
      ready_ms: ready,
      stop_ms: stop,
      pss_mb: before,
      pss_after_gc_mb: afterGc,
      freeze,
    };
  } finally {
    await rt?.stop();
  }
  // The next run must start on a quiet machine: no worker, zygote or nats-server left.
  const left = await waitForExit(pids, before, 15_000);
  if (left.length > 0) throw new Error(`processes still alive after stop: ${left.join('; ')}`);
  return run;
}

const scenario: Scenario = {
  name: 'startup',
  description:
    'Cold start: `createRuntime()` → `waitForWorkers(n)` for n = 1 and n = 4, zygote launcher beside ' +
    'direct launcher; each run its own runtime and private nats-server, stopped fully before the next. ' +
    'Worker PSS once ready and after a full collection, with and without the zygote freezing its heap.',
  async run({ quick }): Promise<ScenarioResult> {
    const plan: Array<[Launcher, number, boolean]> = quick
      ? [
          ['zygote', 1, true],
          ['direct', 1, true],
          ['zygote', 4, true],
          ['zygote', 4, false],
        ]
      : [
          ['zygote', 1, true],
          ['direct', 1, true],
          ['zygote', 4, true],
          ['zygote', 4, false],
          ['direct', 4, true],
        ];
    const runs: StartRun[] = [];
    for (const [launcher, size, freeze] of plan) {
      process.stderr.write(`bench: startup ${launcher} × ${size}${freeze ? '' : ' (no gc.freeze)'}…\n`);
      runs.push(await coldStart(launcher, size, freeze));
    }
    const find = (launcher: Launcher, size: number, freeze = true): StartRun | undefined =>
      runs.find((r) => r.launcher === launcher && r.size === size && r.freeze === freeze);
    const rows: BenchRow[] = runs.map((r) => ({
      subject: `${r.launcher} launcher, pool of ${r.size}${r.freeze || r.launcher === 'direct' ? '' : ', heap not frozen (DSPEX_GC_FREEZE=0)'}`,
      baseline: r.launcher === 'direct' || !r.freeze,
      metrics: {
        ready_ms: r.ready_ms,
        first_ready_ms: r.first_ready_ms,
        create_ms: r.create_ms,
        stop_ms: r.stop_ms,
        pss_mb: r.pss_mb,
        pss_after_gc_mb: r.pss_after_gc_mb,
      },
    }));
    const ratios: Record<string, number> = {};
    for (const launcher of ['zygote', 'direct'] as const) {
      const one = find(launcher, 1);
      const four = find(launcher, 4);
      if (one !== undefined && four !== undefined) {
        ratios[`${launcher}: pool of 4 / pool of 1 x`] = ratio(four.ready_ms, one.ready_ms);
      }
    }
    const z4 = find('zygote', 4);
    const d4 = find('direct', 4);
    if (z4 !== undefined && d4 !== undefined)
      ratios['pool of 4: zygote / direct x'] = ratio(z4.ready_ms, d4.ready_ms);
    const lone = find('direct', 1);
    const frozen = find('zygote', 4, true);
    const thawed = find('zygote', 4, false);
    if (lone !== undefined) {
      for (const [label, run] of [
        ['frozen', frozen],
        ['not frozen', thawed],
      ] as const) {
        if (run === undefined) continue;
        ratios[`PSS per worker, zygote pool of 4 (${label}) / lone DSPy process, before gc x`] = ratio(
          run.pss_mb,
          lone.pss_mb,
        );
        ratios[`PSS per worker, zygote pool of 4 (${label}) / lone DSPy process, after full gc x`] = ratio(
          run.pss_after_gc_mb,
          lone.pss_after_gc_mb,
        );
      }
    }
    const notes = [
      "pss_mb: mean proportional set size of the pool's workers 2 s after all were ready; pss_after_gc_mb: " +
        "2 s after SIGUSR1 made each run a full gc.collect(); the lone DSPy process is the direct launcher's " +
        'pool of 1 (a worker that imported DSPy itself), measured the same way',
      'one run per cell (a cold start takes seconds; a single run each keeps the scenario short), in the order shown',
      'ready_ms: createRuntime() called → waitForWorkers(n) resolved; first_ready_ms: the first worker ready; ' +
        'create_ms: createRuntime() resolved; stop_ms: rt.stop() (drain, SIGTERM workers, stop nats-server)',
    ];
    if (quick) notes.push('quick run: no direct pool of 4 (it alone takes ~4 DSPy imports)');
    return { rows, ratios, notes };
  },
};

export default scenario;
