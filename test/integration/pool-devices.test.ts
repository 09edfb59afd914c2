/**
 * GPU pools: a pool that owns devices gives each local worker its own in `CUDA_VISIBLE_DEVICES`
 * (a fake device list: no GPU needed), through both launchers; a pool larger than its list shares
 * the devices evenly, and a replaced worker takes the device its predecessor freed.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { eventually } from '../harness/eventually.js';
import { startNats } from '../harness/nats.js';
import { startRuntime } from '../harness/runtime.js';

/** Worker id → the devices each of its processes logged, in order (from the workers' own logs). */
function deviceLog() {
  const seen = new Map<string, string[]>();
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) {
        const r = JSON.parse(line) as Record<string, unknown>;
        const m = typeof r.msg === 'string' ? /^devices: CUDA_VISIBLE_DEVICES=(.*)$/.exec(r.msg) : null;
        const label = r.py_worker ?? r.worker;
        const id = typeof label === 'string' ? label : '';
        if (m !== null && id !== '') seen.set(id, [...(seen.get(id) ?? []), m[1]!]);
      }
      done();
    },
  });
  return { logger: pino({ level: 'info' }, sink), seen };
}

describe.each(['zygote', 'direct'] as const)('a pool that owns devices (%s launcher)', (launcher) => {
  it('gives each worker one device, shares them evenly and hands a freed one to the replacement', async () => {
    await using srv = await startNats();
    const { logger, seen } = deviceLog();
    const rt = await startRuntime(srv.url, {
      pools: { neural: { size: 3, devices: ['fake-gpu-0', 'fake-gpu-1'] }, general: { size: 1 } },
      worker: { launcher },
      logger,
    });
    try {
      await rt.waitForWorkers('neural', 3, 120_000);
      const devices = await eventually(() => {
        const ids = rt
          .status()
          .pools.find((p) => p.name === 'neural')!
          .workers.map((w) => w.id);
        const got = ids.map((id) => seen.get(id)?.at(-1));
        expect(got.every((d) => d !== undefined)).toBe(true);
        return new Map(ids.map((id, i) => [id, got[i]!]));
      });
      const counts = [...devices.values()].sort();
      expect(counts).toEqual(['fake-gpu-0', 'fake-gpu-0', 'fake-gpu-1']);
      // The general pool owns no device: its worker logs none.
      const general = rt.status().pools.find((p) => p.name === 'general')!.workers[0]!.id;
      expect(seen.has(general)).toBe(false);

      // Kill the only worker on fake-gpu-1: its replacement (same id) takes that device again.
      const [lone] = [...devices].find(([, d]) => d === 'fake-gpu-1')!;
      const pid = rt
        .status()
        .pools.find((p) => p.name === 'neural')!
        .workers.find((w) => w.id === lone)!.pid;
      process.kill(pid, 'SIGKILL');
      await eventually(() => expect(seen.get(lone)).toEqual(['fake-gpu-1', 'fake-gpu-1']), {
        timeoutMs: 120_000,
        intervalMs: 200,
      });
    } finally {
      await rt.stop();
    }
  }, 300_000);
});
