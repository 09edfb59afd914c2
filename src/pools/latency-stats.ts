/**
 * Running statistics of one stream of calls (a worker, or a module+signature on a pool): latency
 * EWMA and quantiles over a bounded window of recent samples, error-rate EWMA, counts and tokens.
 */
export class LatencyStats {
  private readonly samples: number[] = [];
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
    else this.samples[this.next] = latencyMs;
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
    if (this.samples.length === 0) return undefined;
    const sorted = [...this.samples].sort((a, b) => a - b);
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
