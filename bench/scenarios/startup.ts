/**
 * Cold start: the time from `createRuntime()` until `waitForWorkers(n)` resolves, for pools of 1 and
 * of 4 workers, with the zygote launcher (one pre-imported Python parent forks the workers) beside
 * the direct launcher (each worker imports DSPy on its own). Each run has its own runtime, private
 * nats-server and workers, all stopped (and checked gone) before the next run starts.
 */
import { pino } from 'pino';
import { createRuntime, type Runtime } from '../../src/index.js';
import { childProcesses, waitForExit } from '../lib/processes.js';
import { ratio } from '../lib/stats.js';
import type { BenchRow, Scenario, ScenarioResult } from '../types.js';

type Launcher = 'zygote' | 'direct';
const POOL = 'general';

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
}

async function coldStart(launcher: Launcher, size: number): Promise<StartRun> {
  const before = new Set(childProcesses().map((p) => p.pid));
  const started = performance.now();
  let rt: Runtime | undefined;
  let pids: number[] = [];
  let run: StartRun;
  try {
    rt = await createRuntime({
      pools: { [POOL]: { size } },
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
    const stopStarted = performance.now();
    const stopping = rt;
    rt = undefined;
    await stopping.stop();
    const stop = performance.now() - stopStarted;
    run = { launcher, size, create_ms: create, first_ready_ms: first, ready_ms: ready, stop_ms: stop };
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
    'direct launcher; each run its own runtime and private nats-server, stopped fully before the next.',
  async run({ quick }): Promise<ScenarioResult> {
    const plan: Array<[Launcher, number]> = quick
      ? [
          ['zygote', 1],
          ['zygote', 4],
        ]
      : [
          ['zygote', 1],
          ['direct', 1],
          ['zygote', 4],
          ['direct', 4],
        ];
    const runs: StartRun[] = [];
    for (const [launcher, size] of plan) {
      process.stderr.write(`bench: startup ${launcher} × ${size}…\n`);
      runs.push(await coldStart(launcher, size));
    }
    const find = (launcher: Launcher, size: number): StartRun | undefined =>
      runs.find((r) => r.launcher === launcher && r.size === size);
    const rows: BenchRow[] = runs.map((r) => ({
      subject: `${r.launcher} launcher, pool of ${r.size}`,
      baseline: r.launcher === 'direct',
      metrics: {
        ready_ms: r.ready_ms,
        first_ready_ms: r.first_ready_ms,
        create_ms: r.create_ms,
        stop_ms: r.stop_ms,
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
    const notes = [
      'one run per cell (a cold start takes seconds; a single run each keeps the scenario short), in the order shown',
      'ready_ms: createRuntime() called → waitForWorkers(n) resolved; first_ready_ms: the first worker ready; ' +
        'create_ms: createRuntime() resolved; stop_ms: rt.stop() (drain, SIGTERM workers, stop nats-server)',
    ];
    if (quick)
      notes.push('quick run: zygote launcher only (the direct pool of 4 alone takes ~4 DSPy imports)');
    return { rows, ratios, notes };
  },
};

export default scenario;
