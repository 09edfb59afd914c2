/**
 * The cost of the telemetry layer on the call path. Two runtime nodes in this process (one DSPy
 * worker each, DummyLM, distinct inputs so every call reaches the worker): one with telemetry off,
 * one with `/metrics` served and scraped every second, per-worker series and `events.call`
 * published for every attempt (the heartbeat `metrics` field is always on). Rounds alternate between
 * the two; samples are pooled. OTLP tracing is not part of it (it is process-wide, so it cannot be
 * on for one node and off for the other in one process).
 */
import { pino } from 'pino';
import { createRuntime, type Runtime } from '../../src/runtime/runtime.js';
import { closedLoop, summarizeLoad, type LoadRun } from '../lib/load.js';
import { ratio } from '../lib/stats.js';
import type { Scenario, ScenarioResult } from '../types.js';

const CONCURRENCY = 8;

const scenario: Scenario = {
  name: 'telemetry',
  description:
    'Throughput of uncached DummyLM `Predict` calls (each through the worker) with telemetry on ' +
    '(`/metrics` scraped every second, per-worker series, `events.call` for every attempt) vs off, same run, ' +
    `alternating rounds, ${CONCURRENCY} calls in flight. Target: cost ≤ 3%.`,
  async run({ quick }): Promise<ScenarioResult> {
    const rounds = quick ? 2 : 4;
    const seconds = quick ? 3 : 8;
    const logger = pino({ level: 'error' }, pino.destination(2));
    let off: Runtime | undefined;
    let on: Runtime | undefined;
    let scraper: NodeJS.Timeout | undefined;
    let scrapes = 0;
    try {
      off = await createRuntime({ pools: { general: { size: 1 } }, logger });
      on = await createRuntime({
        pools: { general: { size: 1 } },
        logger,
        metrics: { port: 0, callEvents: true },
      });
      await Promise.all([off.waitForWorkers('general', 1), on.waitForWorkers('general', 1)]);
      const url = `${on.metricsUrl!}/metrics`;
      scraper = setInterval(() => {
        void fetch(url)
          .then((r) => r.text())
          .then(() => scrapes++)
          .catch(() => undefined);
      }, 1000);
      let n = 0;
      const run = (rt: Runtime): Promise<LoadRun> =>
        closedLoop(
          async () => {
            const reply = await rt.predict({
              module: 'Predict',
              signature: 'question -> answer',
              inputs: { question: `q-${++n}` },
            });
            if (reply.usage?.cached === true)
              throw new Error('a cached reply: the bench must reach the worker');
          },
          { concurrency: CONCURRENCY, maxCalls: 1_000_000, maxMs: seconds * 1000, warmupPerLane: 5 },
        );
      const offRuns: LoadRun[] = [];
      const onRuns: LoadRun[] = [];
      for (let round = 0; round < rounds; round++) {
        // Alternate which goes first, so drift over the run (load from other processes) evens out.
        if (round % 2 === 0) {
          offRuns.push(await run(off));
          onRuns.push(await run(on));
        } else {
          onRuns.push(await run(on));
          offRuns.push(await run(off));
        }
      }
      const a = summarizeLoad(offRuns);
      const b = summarizeLoad(onRuns);
      const row = (s: typeof a) => ({ per_s: s.per_s, p50_ms: s.p50_ms, p99_ms: s.p99_ms, n: s.calls });
      return {
        rows: [
          { subject: 'telemetry on (metrics scraped, events.call)', baseline: false, metrics: row(b) },
          { subject: 'telemetry off', baseline: true, metrics: row(a) },
        ],
        ratios: {
          'on / off throughput': ratio(b.per_s, a.per_s),
          'on p50 / off p50': ratio(b.p50_ms, a.p50_ms),
        },
        notes: [
          `${rounds} round(s) of ${seconds} s per node, alternating; ${scrapes} scrapes of /metrics during the run.`,
          'Both nodes and their workers share the 2 cores: the ratio, not the absolute rate, is the result.',
        ],
      };
    } finally {
      clearInterval(scraper);
      await on?.stop();
      await off?.stop();
    }
  },
};

export default scenario;
