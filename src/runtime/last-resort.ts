/**
 * The process's last line of defence: `unhandledRejection` and `uncaughtException` listeners that
 * log the failure, count it (`dspex_unhandled_errors_total{kind}`) and let the node keep serving,
 * where Node's default would exit and drop every call in flight.
 *
 * dspex's own code answers every failure where it happens (a 500 reply, a log line); these
 * listeners catch what a bug would let through. They change how the whole process treats failures,
 * so `dspex node` installs them and an embedding application opts in with `lastResort: true`
 * (docs/security.md): the application owns its process's crash policy.
 */
import type { Logger } from 'pino';
import type { RuntimeMetrics } from '../telemetry/metrics.js';

export interface LastResortOptions {
  logger: Logger;
  metrics: RuntimeMetrics;
  /** The process to watch. @default `process` */
  target?: NodeJS.EventEmitter;
}

/** Installs the listeners; returns the function that removes them (on the node's stop). */
export function installLastResort(o: LastResortOptions): () => void {
  const target = o.target ?? process;
  const onRejection = (reason: unknown): void => {
    o.metrics.unhandled.inc({ kind: 'rejection' });
    o.logger.error(
      { err: reason },
      'unhandled promise rejection (survived; this is a bug, please report it)',
    );
  };
  const onException = (error: unknown): void => {
    o.metrics.unhandled.inc({ kind: 'exception' });
    o.logger.error({ err: error }, 'uncaught exception (survived; this is a bug, please report it)');
  };
  target.on('unhandledRejection', onRejection);
  target.on('uncaughtException', onException);
  return () => {
    target.off('unhandledRejection', onRejection);
    target.off('uncaughtException', onException);
  };
}
