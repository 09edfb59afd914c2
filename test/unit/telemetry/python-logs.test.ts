import { PassThrough, Writable } from 'node:stream';
import fc from 'fast-check';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { eventually } from '../../harness/eventually.js';
import { MAX_LOG_LINE, parsePythonLogLine, pipePythonLog } from '../../../src/telemetry/python-logs.js';

describe('Python log lines', () => {
  it('keeps the level and fields of a JSON record from the worker formatter', () => {
    const line = JSON.stringify({
      level: 'warn',
      msg: 'queue is deep',
      logger: 'dspex_worker.worker',
      worker: 'w-1',
      pid: 42,
      trace: '4bf92f3577b34da6a3ce929d0e0e4736',
      depth: 7,
    });
    expect(parsePythonLogLine(line)).toEqual({
      level: 'warn',
      msg: 'queue is deep',
      fields: {
        logger: 'dspex_worker.worker',
        worker: 'w-1',
        py_pid: 42,
        trace: '4bf92f3577b34da6a3ce929d0e0e4736',
        depth: 7,
      },
    });
  });

  it('maps every Python and pino level name', () => {
    const level = (name: string) => parsePythonLogLine(JSON.stringify({ level: name, msg: 'm' })).level;
    expect(['trace', 'debug', 'info', 'warning', 'warn', 'error', 'critical', 'fatal'].map(level)).toEqual([
      'trace',
      'debug',
      'info',
      'warn',
      'warn',
      'error',
      'fatal',
      'fatal',
    ]);
  });

  it('renames fields the target logger already binds, instead of writing them twice', () => {
    const line = JSON.stringify({
      level: 'info',
      msg: 'm',
      worker: 'w-1',
      pool: 'p',
      time: 1,
      hostname: 'h',
    });
    expect(parsePythonLogLine(line, new Set(['worker', 'pool'])).fields).toEqual({
      py_worker: 'w-1',
      py_pool: 'p',
      py_time: 1,
      py_hostname: 'h',
    });
  });

  it('logs any other line as info text, unchanged', () => {
    for (const line of [
      'Traceback (most recent call last):',
      '{not json',
      '{"msg": "no level"}',
      '{"level": "loud", "msg": "unknown level"}',
      '{"level": "info", "msg": 3}',
      '[1, 2]',
      '',
    ]) {
      expect(parsePythonLogLine(line)).toEqual({ level: 'info', msg: line, fields: {} });
    }
  });

  it('never throws, and cuts lines longer than it parses', () => {
    fc.assert(fc.property(fc.string(), (line) => void parsePythonLogLine(line)));
    fc.assert(fc.property(fc.json(), (line) => void parsePythonLogLine(line)));
    const huge = JSON.stringify({ level: 'error', msg: 'x'.repeat(MAX_LOG_LINE) });
    const record = parsePythonLogLine(huge);
    expect(record.level).toBe('info');
    expect(record.msg).toHaveLength(MAX_LOG_LINE);
  });

  it('pipes a stream into pino records at their real levels', async () => {
    const out: Array<Record<string, unknown>> = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean))
          out.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    const logger = pino({ level: 'debug' }, sink).child({ pool: 'general', worker: 'w-1' });
    const stderr = new PassThrough();
    pipePythonLog(stderr, logger);
    stderr.write(JSON.stringify({ level: 'debug', msg: 'call done', worker: 'w-1', latency_ms: 5 }) + '\n');
    stderr.write(
      JSON.stringify({
        level: 'error',
        msg: 'boom',
        error: { type: 'ValueError', message: 'x', stack: 's' },
      }) + '\n',
    );
    stderr.write('plain text from a library\n');
    stderr.end();
    await eventually(() => expect(out).toHaveLength(3));
    expect(out.map((r) => [r.level, r.msg, r.source])).toEqual([
      [20, 'call done', 'python'],
      [50, 'boom', 'python'],
      [30, 'plain text from a library', 'python'],
    ]);
    expect(out[0]).toMatchObject({ pool: 'general', worker: 'w-1', py_worker: 'w-1', latency_ms: 5 });
    expect(out[1]).toMatchObject({ error: { type: 'ValueError', message: 'x', stack: 's' } });
  });
});
