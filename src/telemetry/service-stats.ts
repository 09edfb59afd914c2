/**
 * `$SRV.STATS` that tell the truth. The NATS services library times an endpoint's handler from its
 * call to its return, and counts an error only when the handler throws; our handlers start the work
 * and return at once, answering errors with a reply. So it showed ~0 ms per call and 0 errors after
 * 4xx replies. {@link endpointStats} takes over the endpoint's counters: the call is timed to its
 * reply, and every error reply (4xx and 5xx, refusals included) is counted with its message.
 *
 * It reaches into the library's endpoint record (`handlers[].stats`, @nats-io/services 3.x, pinned);
 * if that shape changes, it throws at start-up rather than silently reporting nothing, and the
 * integration test (`test/integration/telemetry-http.test.ts`) reads the real `$SRV.STATS`.
 */
import type { Service } from '@nats-io/services';

/** The library's per-endpoint counters (what `$SRV.STATS` reports). */
interface LibraryStats {
  name: string;
  num_requests: number;
  processing_time: number;
  average_processing_time: number;
  num_errors: number;
  last_error?: string;
  countLatency(start: number): void;
  countError(err: Error): void;
}

/** Records one finished request of an endpoint. */
export interface EndpointStats {
  /** `startedMs` from `performance.now()` when the request arrived; `error` the error reply's message. */
  done(startedMs: number, error?: string): void;
}

/** Takes over the counters of `service`'s endpoint `name` (call right after `addEndpoint`). */
export function endpointStats(service: Service, name: string): EndpointStats {
  const handlers = (service as unknown as { handlers?: Array<{ name?: string; stats?: LibraryStats }> })
    .handlers;
  const stats = handlers?.find((h) => h.name === name)?.stats;
  if (
    stats === undefined ||
    typeof stats.countLatency !== 'function' ||
    typeof stats.num_requests !== 'number' ||
    typeof stats.processing_time !== 'number'
  ) {
    throw new Error(`@nats-io/services: no stats record for endpoint ${name} (library internals changed)`);
  }
  // The library's own timing stops when the handler returns: replaced by the one below.
  stats.countLatency = () => undefined;
  return {
    done(startedMs, error) {
      stats.num_requests++;
      stats.processing_time += Math.max(0, Math.round((performance.now() - startedMs) * 1e6));
      stats.average_processing_time = Math.round(stats.processing_time / stats.num_requests);
      if (error !== undefined) {
        stats.num_errors++;
        stats.last_error = error;
      }
    },
  };
}
