import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { eventually } from '../harness/eventually.js';
import { startNats } from '../harness/nats.js';
import { startRuntime } from '../harness/runtime.js';

/** A pino logger whose records land in an array, parsed. */
function capturingLogger() {
  const records: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) {
        records.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, sink), records };
}

describe.each(['zygote', 'direct'] as const)('Python worker logs through the %s launcher', (launcher) => {
  it('arrive as pino records with the Python level, logger and fields', async () => {
    await using srv = await startNats();
    const { logger, records } = capturingLogger();
    const rt = await startRuntime(srv.url, {
      pools: { general: { size: 1 } },
      worker: { launcher },
      logger,
    });
    try {
      const python = () => records.filter((r) => r.source === 'python');
      const ready = await eventually(() => {
        const found = python().find((r) => typeof r.msg === 'string' && r.msg.startsWith('ready on'));
        if (found === undefined) throw new Error('no "ready on" record yet');
        return found;
      });
      expect(ready).toMatchObject({ level: 30, logger: 'dspex_worker.worker', pool: 'general' });
      // The worker's label is the worker id: kept as `worker` or, where the node's logger already
      // binds `worker` (direct launcher), as `py_worker` beside it.
      expect(String(ready.worker ?? ready.py_worker)).toMatch(/^general-/);
      expect(typeof ready.py_pid).toBe('number');
      // The DummyLM warning keeps its level.
      expect(python()).toContainEqual(expect.objectContaining({ level: 40, logger: 'dspex_worker.serve' }));
      // No line of the worker's formatter was left as JSON text in `msg`.
      expect(python().filter((r) => String(r.msg).startsWith('{"level"'))).toEqual([]);
    } finally {
      await rt.stop();
    }
  });
});
