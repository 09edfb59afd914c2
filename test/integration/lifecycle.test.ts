import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { createRuntime } from '../../src/index.js';
import { eventually } from '../harness/eventually.js';
import { alive, pidsMatching } from '../harness/process.js';
import { testLogger } from '../harness/runtime.js';

describe('runtime lifecycle', () => {
  it('starts a private nats-server when given no URL and stops everything on stop()', async () => {
    const rt = await createRuntime({ pools: { general: { size: 1 } }, logger: testLogger() });
    await rt.waitForWorkers('general', 1, 90_000);
    const url = rt.servers[0]!;
    expect(url).toMatch(/^nats:\/\/127\.0\.0\.1:\d+$/);
    const worker = rt.status().pools[0]!.workers[0]!;
    const port = new URL(url).port;
    expect(pidsMatching(`--nats ${url}`).length).toBeGreaterThanOrEqual(2); // zygote + worker
    await rt.stop();
    expect(alive(worker.pid)).toBe(false);
    // Drained, not killed: the worker ended `stopped`, and nothing crashed.
    const exits = await rt.metrics.registry.getSingleMetricAsString('dspex_worker_exits_total');
    expect(exits).toContain('dspex_worker_exits_total{pool="general",outcome="stopped"} 1');
    expect(exits).not.toContain('outcome="crashed"');
    expect(pidsMatching(`--nats ${url}`)).toEqual([]);
    expect(pidsMatching(`127.0.0.1:${port}`)).toEqual([]);
  });

  it('leaves no orphan when the node process is killed with SIGKILL', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', new URL('./fixtures/node-child.ts', import.meta.url).pathname],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout }).once('line', resolve);
      child.once('exit', (code) => reject(new Error(`node child exited early (${code})`)));
    });
    const { url, workers } = JSON.parse(line) as { url: string; workers: number[] };
    expect(workers).toHaveLength(2);
    const related = pidsMatching(`--nats ${url}`);
    expect(related.length).toBeGreaterThanOrEqual(3); // zygote + 2 workers
    child.kill('SIGKILL');
    // The zygote sees its stdin close and stops its workers; the nats-server guardian does the same.
    await eventually(() => expect(pidsMatching(`--nats ${url}`)).toEqual([]), { timeoutMs: 45_000 });
    for (const pid of workers) expect(alive(pid)).toBe(false);
    await eventually(() => expect(pidsMatching(`127.0.0.1:${new URL(url).port}`)).toEqual([]), {
      timeoutMs: 10_000,
    });
  });

  it('reports itself failed when its pools keep crashing past every restart intensity', async () => {
    // A worker command that exits at once: every worker crashes, every pool gives up, then the node.
    const rt = await createRuntime({
      pools: { general: { size: 1, intensity: { maxRestarts: 1, periodMs: 60_000 } } },
      worker: { command: ['/bin/false'] },
      logger: testLogger(),
    });
    try {
      const failure = await Promise.race([
        rt.failed,
        new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 30_000)),
      ]);
      expect(failure).toMatchObject({ code: 'unavailable' });
      expect(failure?.message).toMatch(/pools kept crashing/);
    } finally {
      await rt.stop();
    }
  });
});
