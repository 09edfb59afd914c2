import { ErrorCode, errorStatus } from '../errors.js';
import type { Refusal } from '../nats/service.js';
import type { RuntimeMetrics } from '../telemetry/metrics.js';
import type { QueueVerdict } from './admission.js';

export interface PredictAdmissionOptions {
  /** Whether this node knows the pool. */
  has(pool: string): boolean;
  /** The dispatcher's verdict for a call to `pool` due at `deadline`. */
  admission(pool: string, deadline: number): QueueVerdict;
  metrics: RuntimeMetrics;
}

/**
 * Admission of a predict before it is validated: the pool it names (read from the raw body; a
 * malformed or unknown one is left to validation) would refuse it anyway, because its queue is
 * full or the call would finish after its deadline. Refusing here costs a decode instead of
 * validation, the signature, the cache key and an exception. A call the result cache could have
 * answered is refused too while its pool is overloaded (docs/security.md, "Overload").
 */
export function admitPredict(
  o: PredictAdmissionOptions,
  raw: unknown,
  deadline: number,
): Refusal | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const { pool: named, config } = raw as { pool?: unknown; config?: { adapter?: unknown } };
  // A call for the direct HTTP adapter or a mock LM never waits for the pool.
  const adapter = typeof config === 'object' && config !== null ? config.adapter : undefined;
  if (adapter === 'direct' || adapter === 'mock') return undefined;
  const pool = named === undefined ? 'general' : named;
  if (typeof pool !== 'string' || !o.has(pool)) return undefined;
  const verdict = o.admission(pool, deadline);
  if (verdict.admit) return undefined;
  o.metrics.calls.inc({ pool, outcome: ErrorCode.Overloaded });
  return {
    status: errorStatus[ErrorCode.Overloaded],
    error: {
      code: ErrorCode.Overloaded,
      message: verdict.message,
      retryable: true,
      details: verdict.details,
    },
    key: `predict:${pool}:${verdict.reason}`,
  };
}
