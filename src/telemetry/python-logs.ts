/**
 * Turns a Python worker's stderr into pino records: a JSON line from the worker's formatter
 * (python/dspex_worker/logs.py) keeps its level and fields; any other line (a traceback printed
 * before logging was set up, a library writing to stderr) becomes an `info` record with the line as
 * `msg`, as before.
 */
import { createInterface } from 'node:readline';
import type { Level, Logger } from 'pino';

/** One parsed line. */
export interface PythonLogRecord {
  level: Level;
  msg: string;
  fields: Record<string, unknown>;
}

/** Longest line parsed as JSON; longer lines are logged as text, cut to this length. */
export const MAX_LOG_LINE = 64 * 1024;
/** Most fields kept from one record. */
const MAX_FIELDS = 64;

const LEVELS: Record<string, Level> = {
  trace: 'trace',
  debug: 'debug',
  info: 'info',
  warn: 'warn',
  warning: 'warn',
  error: 'error',
  critical: 'fatal',
  fatal: 'fatal',
};

/** Keys pino writes itself; a Python field of the same name is renamed `py_<key>`. */
// `err` too: pino's error serializer would rewrite it (its `type` becomes "Object").
const PINO_KEYS = ['level', 'time', 'pid', 'hostname', 'msg', 'v', 'source', 'err'];

/**
 * Parses one stderr line. `reserved` names keys the target logger already binds (its child
 * bindings): fields with those names are renamed `py_<key>` rather than written twice.
 */
export function parsePythonLogLine(line: string, reserved: ReadonlySet<string> = new Set()): PythonLogRecord {
  const text = line.length > MAX_LOG_LINE ? line.slice(0, MAX_LOG_LINE) : line;
  if (line.length > MAX_LOG_LINE || !text.startsWith('{')) return { level: 'info', msg: text, fields: {} };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { level: 'info', msg: text, fields: {} };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { level: 'info', msg: text, fields: {} };
  const { level, msg, ...rest } = value as Record<string, unknown>;
  const mapped = typeof level === 'string' ? LEVELS[level.toLowerCase()] : undefined;
  if (mapped === undefined || typeof msg !== 'string') return { level: 'info', msg: text, fields: {} };
  const fields: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(rest).slice(0, MAX_FIELDS)) {
    fields[PINO_KEYS.includes(key) || reserved.has(key) ? `py_${key}` : key] = field;
  }
  return { level: mapped, msg, fields };
}

/** Logs every line of a worker's stderr (or stdout) on `logger`, each at its own level. */
export function pipePythonLog(stream: NodeJS.ReadableStream | null, logger: Logger): void {
  if (stream === null) return;
  const reserved = new Set(Object.keys(logger.bindings()));
  createInterface({ input: stream }).on('line', (line) => {
    const record = parsePythonLogLine(line, reserved);
    logger[record.level]({ source: 'python', ...record.fields }, record.msg);
  });
}
