/**
 * The first of the admission rules (see src/pools/admission.ts): a per-endpoint count of requests
 * in progress, checked by the service before a body is decoded; past the endpoint's limit the
 * answer is 429 at once, at the cost of a counter.
 */

/**
 * Counts requests in progress per endpoint against a limit read on every check (the limit of
 * `predict` follows the pools' live capacity). `enter` and `leave` are O(1).
 */
export class InflightGate {
  private readonly counts = new Map<string, number>();

  /** @param limit most requests of an endpoint in progress at once */
  constructor(private readonly limit: (endpoint: string) => number) {}

  /** Admits one request of `endpoint` (the caller must `leave` once it answered), or returns false. */
  enter(endpoint: string): boolean {
    const n = this.counts.get(endpoint) ?? 0;
    if (n >= this.limit(endpoint)) return false;
    this.counts.set(endpoint, n + 1);
    return true;
  }

  leave(endpoint: string): void {
    const n = this.counts.get(endpoint) ?? 0;
    if (n <= 1) this.counts.delete(endpoint);
    else this.counts.set(endpoint, n - 1);
  }

  /** Requests of `endpoint` admitted and not yet answered. */
  inflight(endpoint: string): number {
    return this.counts.get(endpoint) ?? 0;
  }
}
