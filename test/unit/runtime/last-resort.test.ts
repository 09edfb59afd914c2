import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { installLastResort } from '../../../src/runtime/last-resort.js';
import { createMetrics } from '../../../src/telemetry/metrics.js';
import { guarded } from '../../../src/telemetry/guard.js';

function setup() {
  const lines: Array<{ msg: string; level: number }> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as { msg: string; level: number });
      done();
    },
  });
  const metrics = createMetrics(new Registry());
  const count = async (kind: string) =>
    (await metrics.registry.getSingleMetric('dspex_unhandled_errors_total')!.get()).values.find(
      (v) => v.labels.kind === kind,
    )?.value ?? 0;
  return { logger: pino(sink), metrics, lines, count };
}

describe('the last-resort handler', () => {
  it('logs and counts unhandled rejections and uncaught exceptions, and removes itself', async () => {
    const { logger, metrics, lines, count } = setup();
    const target = new EventEmitter();
    const remove = installLastResort({ logger, metrics, target });
    target.emit('unhandledRejection', new Error('lost promise'));
    target.emit('uncaughtException', new Error('thrown in a callback'));
    target.emit('unhandledRejection', 'not even an Error');
    expect(await count('rejection')).toBe(2);
    expect(await count('exception')).toBe(1);
    expect(lines.map((l) => l.msg)).toEqual([
      expect.stringContaining('unhandled promise rejection'),
      expect.stringContaining('uncaught exception'),
      expect.stringContaining('unhandled promise rejection'),
    ]);
    remove();
    expect(target.listenerCount('unhandledRejection')).toBe(0);
    expect(target.listenerCount('uncaughtException')).toBe(0);
  });
});

describe('guarded callbacks', () => {
  it('never throw: a failure is logged and counted', async () => {
    const { logger, metrics, lines, count } = setup();
    const cb = guarded('test callback', logger, metrics, (n: number) => {
      if (n > 0) throw new Error('boom');
    });
    expect(() => cb(0)).not.toThrow();
    expect(() => cb(1)).not.toThrow();
    expect(await count('callback')).toBe(1);
    expect(lines).toHaveLength(1);
  });
});
