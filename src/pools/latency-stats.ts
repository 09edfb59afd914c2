/**
 * Running statistics of one stream of calls (a worker, or a module+signature on a pool): latency
 * EWMA and quantiles over a bounded window of recent samples, error-rate EWMA, counts and tokens.
 *
 * The window is also kept sorted, one binary-search insert (and one removal of the sample it
 * replaces) per call, so a quantile is an index: hedging reads the pool's median on every call.
 */
export class LatencyStats {
  /** Recent samples in arrival order (a ring once full). */
  private readonly samples: number[] = [];
  /** The same samples, ascending. */
  private readonly sorted: number[] = [];
  private next = 0;
  ewmaMs: number | undefined;
  errorEwma = 0;
  count = 0;
  errors = 0;
  tokens = 0;
  lastAt = 0;

  constructor(
    private readonly alpha = 0.2,
    private readonly capacity = 128,
  ) {}

  recordSuccess(latencyMs: number, at: number, tokens = 0): void {
    this.count++;
    this.tokens += tokens;
    this.lastAt = at;
    this.ewmaMs =
      this.ewmaMs === undefined ? latencyMs : this.ewmaMs + this.alpha * (latencyMs - this.ewmaMs);
    this.errorEwma *= 1 - this.alpha;
    if (this.samples.length < this.capacity) this.samples.push(latencyMs);
    else {
      this.sorted.splice(lowerBound(this.sorted, this.samples[this.next]!), 1);
      this.samples[this.next] = latencyMs;
    }
    this.sorted.splice(lowerBound(this.sorted, latencyMs), 0, latencyMs);
    this.next = (this.next + 1) % this.capacity;
  }

  recordFailure(at: number): void {
    this.count++;
    this.errors++;
    this.lastAt = at;
    this.errorEwma += this.alpha * (1 - this.errorEwma);
  }

  /** The q-quantile (0..1) of recent latencies, or undefined before any sample. */
  quantile(q: number): number | undefined {
    const sorted = this.sorted;
    if (sorted.length === 0) return undefined;
    return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  }

  toJSON(): {
    ewma_ms: number | null;
    p50_ms: number | null;
    p95_ms: number | null;
    error_rate: number;
    count: number;
    errors: number;
    tokens: number;
  } {
    return {
      ewma_ms: this.ewmaMs ?? null,
      p50_ms: this.quantile(0.5) ?? null,
      p95_ms: this.quantile(0.95) ?? null,
      error_rate: this.errorEwma,
      count: this.count,
      errors: this.errors,
      tokens: this.tokens,
    };
  }
}

/** The first index of `sorted` (ascending) whose value is not below `value`. */
function lowerBound(sorted: readonly number[], value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
