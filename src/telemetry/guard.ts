import type { Logger } from 'pino';
import type { RuntimeMetrics } from './metrics.js';

/**
 * Wraps a NATS subscription callback (or any callback a library calls) so that it never throws: a
 * failure is logged with `what` and counted as `dspex_unhandled_errors_total{kind="callback"}`. A
 * callback that throws inside nats.js would otherwise surface as an uncaught exception.
 */
export function guarded<A extends unknown[]>(
  what: string,
  logger: Logger,
  metrics: RuntimeMetrics | undefined,
  fn: (...args: A) => void,
): (...args: A) => void {
  return (...args: A): void => {
    try {
      fn(...args);
    } catch (error) {
      metrics?.unhandled.inc({ kind: 'callback' });
      logger.error({ err: error, callback: what }, 'a callback failed (survived)');
    }
  };
}
