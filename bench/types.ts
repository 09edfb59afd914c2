/** One measured subject within a scenario (ours or a peer measured in the same run). */
export interface BenchRow {
  /** e.g. "dspex predict (DummyLM)", "python in-process Predict", "raw NATS echo" */
  subject: string;
  /** Whether this row is a peer/baseline rather than dspex itself. */
  baseline: boolean;
  /** Metric name → value; latency in ms (`p50_ms`, `p99_ms`), throughput as `per_s`, counts as `n`. */
  metrics: Record<string, number>;
}

export interface ScenarioResult {
  rows: BenchRow[];
  /** Ratios of ours against the baseline, e.g. `{ "p50 overhead x": 1.8 }`. */
  ratios?: Record<string, number>;
  notes?: string[];
}

export interface Scenario {
  name: string;
  description: string;
  /** `quick` shrinks iteration counts (CI smoke run). */
  run(options: { quick: boolean }): Promise<ScenarioResult>;
}
