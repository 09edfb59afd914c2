/**
 * The anomaly detectors: what statistic each one reads from a window, how it is compared with its
 * baseline, and the thresholds that decide "over" (counts towards raising) and "under" (counts
 * towards clearing). Pure functions of a window aggregate and a baseline history.
 *
 * Three tests, each chosen for the shape of its data:
 * - `log`: latency quantiles. Latency is multiplicative and heavy-tailed, so the robust z-score
 *   (median/MAD) is taken on ln(value); a change must also be large in relative terms (`minChange`),
 *   so a very steady series does not alarm on a 3% wobble that is many MADs away.
 * - `rate`: error and parse-failure rates. Counts of rare events have a MAD of 0 most of the time, so
 *   the window's count is tested against the baseline rate with a binomial z-score (normal
 *   approximation), with a floor on the baseline rate and a minimum number of events.
 * - `linear`: tokens, cost and output length per call, two-sided (a drop in output length can be
 *   truncation), robust z on natural units with a relative spread floor.
 * RSS growth is a trend, not a level: {@link evaluateGrowth} fits a Theil–Sen slope.
 */
import { z } from 'zod';
import { AnomalyKind, Scope, anomalyKinds, type Evidence } from '../protocol/events.js';
import { MAD_TO_SIGMA, ewma, mad, median, theilSen } from './robust.js';
import type { CallAggregate, GaugePoint } from './window.js';

/** The comparison a detector makes. */
export type Test = 'log' | 'rate' | 'linear';

const scopeEnum = z.enum([Scope.Pool, Scope.Worker, Scope.Module, Scope.Model]);

const KindSettingsSchema = z.object({
  enabled: z.boolean().optional(),
  /** Robust (or binomial) z-score at or above which a window counts as over. */
  zOn: z.number().positive().optional(),
  /** z-score at or below which a window counts towards clearing. */
  zOff: z.number().nonnegative().optional(),
  /** Fewest calls (reporting the measurement) a window needs to be judged. */
  minSamples: z.int().positive().optional(),
  /** Smallest change that matters: relative (`log`, `linear`) or absolute rate (`rate`). */
  minChange: z.number().positive().optional(),
  /** Which series this detector runs on. */
  scopes: z.array(scopeEnum).min(1).optional(),
});
export type KindSettings = z.infer<typeof KindSettingsSchema>;

/** Settings of one detector with every default applied. */
export interface ResolvedKindSettings {
  enabled: boolean;
  test: Test;
  zOn: number;
  zOff: number;
  minSamples: number;
  minChange: number;
  scopes: Scope[];
}

const callScopes: Scope[] = [Scope.Pool, Scope.Worker, Scope.Module, Scope.Model];
const driftScopes: Scope[] = [Scope.Module, Scope.Model];

/** Defaults per kind. RSS growth's `zOn`/`zOff` are growth fractions over the RSS span. */
export const kindDefaults: Record<AnomalyKind, ResolvedKindSettings> = {
  latency_shift: {
    enabled: true,
    test: 'log',
    zOn: 4,
    zOff: 2,
    minSamples: 8,
    minChange: 0.5,
    scopes: callScopes,
  },
  tail_latency: {
    enabled: true,
    test: 'log',
    zOn: 4,
    zOff: 2,
    minSamples: 20,
    minChange: 0.5,
    scopes: callScopes,
  },
  error_rate: {
    enabled: true,
    test: 'rate',
    zOn: 4.5,
    zOff: 2,
    minSamples: 10,
    minChange: 0.05,
    scopes: callScopes,
  },
  parse_failures: {
    enabled: true,
    test: 'rate',
    zOn: 4.5,
    zOff: 2,
    minSamples: 10,
    minChange: 0.05,
    scopes: callScopes,
  },
  token_drift: {
    enabled: true,
    test: 'linear',
    zOn: 4,
    zOff: 2,
    minSamples: 8,
    minChange: 0.25,
    scopes: driftScopes,
  },
  cost_drift: {
    enabled: true,
    test: 'linear',
    zOn: 4,
    zOff: 2,
    minSamples: 8,
    minChange: 0.25,
    scopes: driftScopes,
  },
  output_length_drift: {
    enabled: true,
    test: 'linear',
    zOn: 4,
    zOff: 2,
    minSamples: 8,
    minChange: 0.25,
    scopes: driftScopes,
  },
  rss_growth: {
    enabled: true,
    test: 'linear',
    zOn: 0.2,
    zOff: 0.05,
    minSamples: 12,
    minChange: 1,
    scopes: [Scope.Worker],
  },
};

/** Options of the analysis: windows, baselines, hysteresis, bounds. Every field has a default. */
export const AnalysisOptionsSchema = z.object({
  /** How often detectors run, ms. @default 2000 */
  tickMs: z.int().min(10).default(2000),
  /** Width of one window bucket, ms. @default 2000 */
  bucketMs: z.int().min(10).default(2000),
  /** Buckets in the current window (window = bucketMs × windowBuckets). @default 5 (10 s) */
  windowBuckets: z.int().min(1).max(600).default(5),
  /** Past window values a baseline keeps (one per tick while normal). @default 150 (5 min at 2 s) */
  baselinePoints: z.int().min(5).max(10_000).default(150),
  /** Baseline values needed before a detector judges anything (warm-up). @default 10 */
  minBaselinePoints: z.int().min(3).default(10),
  /** Consecutive over ticks that raise an anomaly. @default 2 */
  confirmTicks: z.int().min(1).default(2),
  /** Consecutive under ticks that clear it. @default 3 */
  clearTicks: z.int().min(1).default(3),
  /** An anomaly raised this long is taken as the new normal: cleared (`relearned`), baseline reset. @default 900000 */
  relearnAfterMs: z.int().positive().default(900_000),
  /** A series with no data this long is forgotten (a raised anomaly on it clears as `expired`). @default 600000 */
  keyTtlMs: z.int().positive().default(600_000),
  /** Most series kept; past it the least recently seen is forgotten. @default 2000 */
  maxKeys: z.int().positive().default(2000),
  /** Relative accuracy of latency quantiles. @default 0.02 */
  sketchAccuracy: z.number().gt(0).lt(0.5).default(0.02),
  /** RSS trend: span fitted, spacing of kept points, and the least slope that matters. */
  rss: z
    .object({
      spanMs: z.int().positive().default(600_000),
      spacingMs: z.int().positive().default(10_000),
      minSlopeBytesPerMin: z
        .number()
        .nonnegative()
        .default(1024 * 1024),
    })
    .prefault({}),
  /** Per-kind overrides of {@link kindDefaults}. */
  kinds: z.partialRecord(z.enum(anomalyKinds), KindSettingsSchema).default({}),
});
export type AnalysisOptions = z.input<typeof AnalysisOptionsSchema>;
export type ResolvedAnalysisOptions = Omit<z.output<typeof AnalysisOptionsSchema>, 'kinds'> & {
  kinds: Record<AnomalyKind, ResolvedKindSettings>;
};

/** Applies defaults; throws a zod error naming the bad field. */
export function resolveAnalysisOptions(options: AnalysisOptions = {}): ResolvedAnalysisOptions {
  const parsed = AnalysisOptionsSchema.parse(options);
  const kinds = Object.fromEntries(
    anomalyKinds.map((kind) => [
      kind,
      { ...kindDefaults[kind], ...stripUndefined(parsed.kinds[kind] ?? {}) },
    ]),
  ) as Record<AnomalyKind, ResolvedKindSettings>;
  return { ...parsed, kinds };
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** A baseline: past accepted window values on the detector's scale, and their EWMA. */
export interface Baseline {
  history: number[];
  ewma: number | undefined;
}

const EWMA_ALPHA = 0.1;
/** Smallest spread a baseline is credited with, relative (log: ~5%; linear: 5% of the median). */
const SPREAD_FLOOR = 0.05;
/** Baseline rates below this are taken as this, so one error after a clean hour is not a spike. */
const RATE_FLOOR = 0.01;
/** Fewest failing calls a rate spike needs. */
const MIN_EVENTS = 3;

/** Adds an accepted value to a baseline, keeping at most `points`. */
export function learn(baseline: Baseline, value: number, points: number): void {
  baseline.history.push(value);
  if (baseline.history.length > points) baseline.history.shift();
  baseline.ewma = ewma(baseline.ewma, value, EWMA_ALPHA);
}

/** One detector's judgement of one window. */
export interface Judgement {
  evidence: Evidence;
  /** Counts towards raising. */
  over: boolean;
  /** Counts towards clearing. */
  under: boolean;
  /** The value to learn into the baseline when the window is accepted as normal. */
  learnValue: number;
}

/** The window statistic of a call detector, in natural units, and its sample count. */
export function statistic(
  kind: AnomalyKind,
  agg: CallAggregate,
): { value: number; samples: number } | undefined {
  switch (kind) {
    case AnomalyKind.LatencyShift:
    case AnomalyKind.TailLatency: {
      const value = agg.latency.quantile(kind === AnomalyKind.LatencyShift ? 0.5 : 0.95);
      return value === undefined ? undefined : { value, samples: agg.calls };
    }
    case AnomalyKind.ErrorRate:
      return agg.calls === 0 ? undefined : { value: agg.errors / agg.calls, samples: agg.calls };
    case AnomalyKind.ParseFailures:
      return agg.calls === 0 ? undefined : { value: agg.parse / agg.calls, samples: agg.calls };
    case AnomalyKind.TokenDrift:
      return agg.tokenCalls === 0
        ? undefined
        : { value: agg.tokens / agg.tokenCalls, samples: agg.tokenCalls };
    case AnomalyKind.CostDrift:
      return agg.costCalls === 0 ? undefined : { value: agg.cost / agg.costCalls, samples: agg.costCalls };
    case AnomalyKind.OutputLengthDrift:
      return agg.outputCalls === 0
        ? undefined
        : { value: agg.outputChars / agg.outputCalls, samples: agg.outputCalls };
    case AnomalyKind.RssGrowth:
      return undefined;
    default: {
      const never: never = kind;
      return never;
    }
  }
}

/**
 * Judges a call window against its baseline; undefined while the window has too few samples or the
 * baseline is still warming up (the detector then keeps its state).
 */
export function evaluateWindow(
  kind: AnomalyKind,
  settings: ResolvedKindSettings,
  agg: CallAggregate,
  baseline: Baseline,
  minBaselinePoints: number,
): Judgement | undefined {
  const stat = statistic(kind, agg);
  if (stat === undefined || stat.samples < settings.minSamples) return undefined;
  const learnValue = settings.test === 'log' ? Math.log(Math.max(stat.value, 1e-3)) : stat.value;
  const window = { start: agg.start, end: agg.end, samples: stat.samples };
  if (baseline.history.length < minBaselinePoints) {
    // Warm-up: accept as normal, judge nothing.
    return {
      evidence: {
        window,
        baseline: describe(settings.test, baseline),
        value: stat.value,
        score: 0,
        threshold: settings.zOn,
      },
      over: false,
      under: true,
      learnValue,
    };
  }
  const center = median(baseline.history) ?? 0;
  const spread = mad(baseline.history, center) ?? 0;
  let score: number;
  let change: number;
  let ratio: number;
  switch (settings.test) {
    case 'log': {
      score = (learnValue - center) / Math.max(MAD_TO_SIGMA * spread, Math.log1p(SPREAD_FLOOR));
      ratio = stat.value / Math.exp(center);
      change = ratio - 1;
      break;
    }
    case 'rate': {
      const p0 = Math.min(Math.max(center, RATE_FLOOR), 1 - RATE_FLOOR);
      const n = stat.samples;
      score = rateScore(stat.value, p0, n);
      change = stat.value * n >= MIN_EVENTS ? stat.value - p0 : 0;
      ratio = stat.value / p0;
      break;
    }
    case 'linear': {
      const floor = Math.max(SPREAD_FLOOR * Math.abs(center), 1e-9);
      score = (stat.value - center) / Math.max(MAD_TO_SIGMA * spread, floor);
      ratio = center === 0 ? (stat.value === 0 ? 1 : Infinity) : stat.value / center;
      change = Math.abs(ratio - 1);
      score = Math.abs(score);
      break;
    }
    default: {
      const never: never = settings.test;
      return never;
    }
  }
  const over = score >= settings.zOn && change >= settings.minChange;
  const under = score <= settings.zOff || change < settings.minChange / 2;
  return {
    evidence: {
      window,
      baseline: describe(settings.test, baseline, center, spread),
      value: stat.value,
      score: round(score),
      threshold: settings.zOn,
      ...(Number.isFinite(ratio) ? { ratio: round(ratio) } : {}),
    },
    over,
    under,
    learnValue,
  };
}

function describe(
  test: Test,
  baseline: Baseline,
  center = median(baseline.history),
  spread = mad(baseline.history),
) {
  const natural = (v: number | undefined) => (v === undefined ? 0 : test === 'log' ? Math.exp(v) : v);
  return {
    median: round(natural(center)),
    mad: round(spread ?? 0),
    ewma: round(natural(baseline.ewma)),
    points: baseline.history.length,
    scale: test === 'log' ? ('log' as const) : test === 'rate' ? ('rate' as const) : ('linear' as const),
  };
}

/**
 * RSS growth of a worker: the Theil–Sen slope of its RSS over the span, as the fraction of its median
 * RSS it would add over one span. Over when that fraction reaches `zOn` and the slope is at least
 * `minSlopeBytesPerMin`; under at or below `zOff`. Undefined until the points cover half the span.
 */
export function evaluateGrowth(
  settings: ResolvedKindSettings,
  points: readonly GaugePoint[],
  spanMs: number,
  minSlopeBytesPerMin: number,
): Judgement | undefined {
  const first = points[0];
  const last = points.at(-1);
  if (first === undefined || last === undefined || points.length < settings.minSamples) return undefined;
  if (last.ts - first.ts < spanMs / 2) return undefined;
  const values = points.map((p) => p.value);
  const slopePerMs = theilSen(
    points.map((p) => p.ts),
    values,
  );
  const center = median(values) ?? 0;
  if (slopePerMs === undefined || center <= 0) return undefined;
  const slope = slopePerMs * 60_000;
  const growth = (slopePerMs * spanMs) / center;
  const baseline = {
    median: center,
    mad: mad(values, center) ?? 0,
    ewma: values.reduce<number | undefined>((acc, v) => ewma(acc, v, EWMA_ALPHA), undefined) ?? center,
    points: values.length,
    scale: 'linear' as const,
  };
  return {
    evidence: {
      window: { start: first.ts, end: last.ts, samples: points.length },
      baseline,
      value: round(slope),
      score: round(growth),
      threshold: settings.zOn,
      ratio: round(1 + growth),
    },
    over: growth >= settings.zOn && slope >= minSlopeBytesPerMin,
    under: growth <= settings.zOff,
    learnValue: growth,
  };
}

/**
 * How far a window's rate `q` over `n` calls lies above the baseline rate `p0`, as the signed root of
 * the binomial likelihood-ratio statistic, sqrt(2·n·KL(q‖p0)): about a standard normal z under the
 * baseline, but unlike the Wald z, (k − n·p0)/sqrt(n·p0·(1−p0)), it stays calibrated for the rare
 * events error rates are (with p0 = 2% and 50 calls, Wald puts 6 errors at z = 5.3, a one in ten
 * million event, when it happens about once in two thousand windows; this puts it at 3.6).
 * One-sided: 0 when `q` is not above `p0`.
 */
export function rateScore(q: number, p0: number, n: number): number {
  if (q <= p0 || n === 0) return 0;
  const term = (a: number, b: number) => (a === 0 ? 0 : a * Math.log(a / b));
  const kl = term(q, p0) + term(1 - q, 1 - p0);
  return Math.sqrt(2 * n * Math.max(0, kl));
}

function round(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}
