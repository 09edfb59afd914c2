/**
 * Synthetic load for the analysis tests: a seeded generator of call records with log-normal latency,
 * Bernoulli errors and Gaussian token counts, whose parameters a test can change mid-run (a step).
 */
import type { CallRecord } from '../../../src/protocol/events.js';

/** mulberry32: a small seeded PRNG, so every run sees the same "noise". */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function gaussian(random: () => number): number {
  const u = Math.max(random(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

/** Parameters of one worker's (or model's) behaviour; change them to inject an incident. */
export interface Behaviour {
  medianMs: number;
  /** Standard deviation of ln(latency). */
  sigma: number;
  errorRate: number;
  parseRate: number;
  tokens: number;
  outputChars: number;
}

export const normal = (): Behaviour => ({
  medianMs: 100,
  sigma: 0.3,
  errorRate: 0.02,
  parseRate: 0.005,
  tokens: 500,
  outputChars: 800,
});

export interface LoadOptions {
  seed?: number;
  pool?: string;
  workers?: string[];
  modules?: Array<{ module: string; signature: string }>;
  model?: string;
  /** Calls per second over the whole pool. */
  rate?: number;
}

/** Generates the calls of successive intervals; `behaviour(worker)` is read at each call. */
export function createLoad(options: LoadOptions = {}) {
  const random = rng(options.seed ?? 1);
  const pool = options.pool ?? 'general';
  const workers = options.workers ?? ['w1', 'w2', 'w3', 'w4'];
  const modules = options.modules ?? [
    { module: 'Predict', signature: 'question -> answer' },
    { module: 'ChainOfThought', signature: 'context, question -> answer' },
  ];
  const behaviours = new Map(workers.map((w) => [w, normal()]));
  const rate = options.rate ?? 20;
  return {
    behaviours,
    set(worker: string, change: Partial<Behaviour>) {
      behaviours.set(worker, { ...(behaviours.get(worker) ?? normal()), ...change });
    },
    setAll(change: Partial<Behaviour>) {
      for (const w of workers) this.set(w, change);
    },
    /** The calls that end in [from, to). */
    calls(from: number, to: number): CallRecord[] {
      const n = Math.round(((to - from) / 1000) * rate);
      const out: CallRecord[] = [];
      for (let i = 0; i < n; i++) {
        const worker = workers[Math.floor(random() * workers.length)] ?? 'w1';
        const m = modules[Math.floor(random() * modules.length)] ?? modules[0]!;
        const b = behaviours.get(worker) ?? normal();
        const r = random();
        const outcome = r < b.parseRate ? 'parse_failure' : r < b.parseRate + b.errorRate ? 'error' : 'ok';
        const tokens = Math.max(1, Math.round(b.tokens * (1 + 0.1 * gaussian(random))));
        out.push({
          ts: from + ((to - from) * i) / n,
          pool,
          worker,
          module: m.module,
          signature: m.signature,
          model: options.model ?? 'openai/gpt-test',
          latency_ms: b.medianMs * Math.exp(b.sigma * gaussian(random)),
          outcome,
          ...(outcome === 'error' ? { code: 'lm_error' } : {}),
          tokens_in: Math.round(tokens * 0.8),
          tokens_out: Math.round(tokens * 0.2),
          cost_usd: tokens * 1e-6,
          output_chars: Math.max(0, Math.round(b.outputChars * (1 + 0.1 * gaussian(random)))),
        });
      }
      return out;
    },
  };
}
