/**
 * Telemetry events on `<prefix>.events.<kind>`: measurement batches of calls (`call`), anomalies the
 * telemetry actor detected (`anomaly`) and the adaptations its policies took (`adaptation`).
 * Published fire-and-forget on core NATS; any subscriber (another node, a dashboard) decodes them
 * with these schemas.
 */
import { z } from 'zod';

const token = z.string().regex(/^[A-Za-z0-9_-]+$/, 'expected letters, digits, "_" or "-"');
const nonNegInt = z.number().int().nonnegative();
const nonNeg = z.number().nonnegative();

/** Kinds of `<prefix>.events.<kind>` subjects. */
export const EventKind = { Call: 'call', Anomaly: 'anomaly', Adaptation: 'adaptation' } as const;
export type EventKind = (typeof EventKind)[keyof typeof EventKind];

/** How a call ended, as the telemetry layer classifies it. */
export const CallOutcome = {
  Ok: 'ok',
  /** Any error reply (its catalogue code in `code`), parse and validation failures excepted. */
  Error: 'error',
  /** The LM's reply could not be parsed into the signature's outputs (DSPy's `AdapterParseError`). */
  ParseFailure: 'parse_failure',
  /** The outputs did not validate against the signature's types. */
  ValidationFailure: 'validation_failure',
} as const;
export type CallOutcome = (typeof CallOutcome)[keyof typeof CallOutcome];

/** Longest signature text a call record carries; longer ones are cut by the publisher. */
export const MAX_SIGNATURE_CHARS = 512;
/** Most calls in one `events.call` batch. */
export const MAX_BATCH_CALLS = 1000;

/** The measurements of one finished call. */
export const CallRecordSchema = z.object({
  /** End of the call, unix ms. */
  ts: nonNeg,
  pool: token,
  /** The worker that answered; absent when the call never reached one (rejected, timed out waiting). */
  worker: token.optional(),
  module: z.string().min(1).max(64),
  signature: z.string().min(1).max(MAX_SIGNATURE_CHARS),
  /** The LM that answered (DSPy model name), when known. */
  model: z.string().min(1).max(128).optional(),
  latency_ms: nonNeg,
  outcome: z.enum([
    CallOutcome.Ok,
    CallOutcome.Error,
    CallOutcome.ParseFailure,
    CallOutcome.ValidationFailure,
  ]),
  /** The error catalogue code when `outcome` is not `ok`. */
  code: z.string().min(1).max(64).optional(),
  tokens_in: nonNegInt.optional(),
  tokens_out: nonNegInt.optional(),
  cost_usd: nonNeg.optional(),
  /** Characters of the outputs' text, a proxy of output length that needs no tokenizer. */
  output_chars: nonNegInt.optional(),
  cache_hit: z.boolean().optional(),
  hedged: z.boolean().optional(),
  retries: nonNegInt.optional(),
  trace: z.string().min(1).max(64).optional(),
});
export type CallRecord = z.infer<typeof CallRecordSchema>;

/** `<prefix>.events.call`: a sampled batch of call records from one node. */
export const CallBatchSchema = z.object({
  node: token,
  /** Batch number from this node's publisher, from 1; a gap means batches were lost. */
  seq: z.number().int().positive(),
  ts: nonNeg,
  /** Fraction of calls recorded (uniform sampling); divide counts by it to estimate totals. */
  sample_rate: z.number().gt(0).max(1),
  /** Calls sampled but dropped (buffer full or publish failed) since the previous batch. */
  dropped: nonNegInt,
  calls: z.array(CallRecordSchema).min(1).max(MAX_BATCH_CALLS),
});
export type CallBatch = z.infer<typeof CallBatchSchema>;

/** The level a series is kept at. */
export const Scope = { Pool: 'pool', Worker: 'worker', Module: 'module', Model: 'model' } as const;
export type Scope = (typeof Scope)[keyof typeof Scope];

/** Names one analysed series: its scope, id, and the labels that id stands for. */
export const SeriesKeySchema = z.object({
  scope: z.enum([Scope.Pool, Scope.Worker, Scope.Module, Scope.Model]),
  /** Unique within the scope: pool name, `pool/worker`, `module:<signature hash>`, model name. */
  id: z.string().min(1).max(256),
  pool: z.string().optional(),
  worker: z.string().optional(),
  module: z.string().optional(),
  signature: z.string().max(MAX_SIGNATURE_CHARS).optional(),
  model: z.string().optional(),
});
export type SeriesKey = z.infer<typeof SeriesKeySchema>;

/** What an anomaly detector watches. */
export const AnomalyKind = {
  LatencyShift: 'latency_shift',
  TailLatency: 'tail_latency',
  ErrorRate: 'error_rate',
  ParseFailures: 'parse_failures',
  TokenDrift: 'token_drift',
  CostDrift: 'cost_drift',
  OutputLengthDrift: 'output_length_drift',
  RssGrowth: 'rss_growth',
} as const;
export type AnomalyKind = (typeof AnomalyKind)[keyof typeof AnomalyKind];
export const anomalyKinds = Object.values(AnomalyKind) as [AnomalyKind, ...AnomalyKind[]];

/** Why a detector raised or cleared: the numbers behind the decision. */
export const EvidenceSchema = z.object({
  /** The window the value was computed over, unix ms, and how many samples it held. */
  window: z.object({ start: nonNeg, end: nonNeg, samples: nonNegInt }),
  /**
   * The reference, from `points` past window values: `median` and `ewma` in natural units, `mad` on
   * the detector's `scale` (`log`: natural log of the value, so 0.1 is a ~10% spread; `linear` and
   * `rate`: natural units). For RSS growth it is the series' own median and spread.
   */
  baseline: z.object({
    median: z.number(),
    mad: nonNeg,
    ewma: z.number(),
    points: nonNegInt,
    scale: z.enum(['log', 'linear', 'rate']),
  }),
  /** The window's statistic in natural units (ms, rate, tokens, USD, chars, bytes/min). */
  value: z.number(),
  /** Distance from the baseline in the detector's own measure (robust z, binomial z, growth). */
  score: z.number(),
  /** Score at which the detector raises. */
  threshold: z.number(),
  /** `value` relative to the baseline in natural units (2 = twice the usual). */
  ratio: z.number().optional(),
});
export type Evidence = z.infer<typeof EvidenceSchema>;

/** `<prefix>.events.anomaly`: a detector raised, or cleared, an anomaly on one series. */
export const AnomalyEventSchema = z.object({
  /** Stable across the raise and its clear. */
  id: z.string().min(1).max(64),
  node: token,
  ts: nonNeg,
  kind: z.enum(anomalyKinds),
  state: z.enum(['raised', 'cleared']),
  key: SeriesKeySchema,
  evidence: EvidenceSchema,
  /** When it was raised (on `cleared`). */
  since: nonNeg.optional(),
  /** Why it cleared: back to normal, its series went silent, or the baseline was relearned. */
  reason: z.enum(['recovered', 'expired', 'relearned']).optional(),
});
export type AnomalyEvent = z.infer<typeof AnomalyEventSchema>;

/** A command the telemetry actor gives the node (see `Actuator` in `src/telemetry/actuator.ts`). */
export const ActuatorCallSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('avoid_worker'),
    pool: token,
    worker: token,
    probe_ratio: z.number().min(0).max(1),
  }),
  z.object({ type: z.literal('restore_worker'), pool: token, worker: token }),
  z.object({ type: z.literal('recycle_worker'), pool: token, worker: token }),
  z.object({
    type: z.literal('resize_pool'),
    pool: token,
    delta: z.number().int(),
    min: nonNegInt,
    max: z.number().int().positive(),
  }),
  z.object({
    type: z.literal('set_fallback_model'),
    model: z.string().min(1),
    fallback: z.string().min(1).nullable(),
  }),
  z.object({ type: z.literal('set_hedging'), pool: token, factor: z.number().positive().nullable() }),
  z.object({
    type: z.literal('optimizer'),
    command: z.enum(['pause', 'resume', 'trigger']),
    module: z.string().min(1),
    signature: z.string().min(1),
  }),
]);
export type ActuatorCall = z.infer<typeof ActuatorCallSchema>;

/** Where an adaptation stands. */
export const AdaptationPhase = {
  /** Dry-run: what would have been done. */
  Suggested: 'suggested',
  Applied: 'applied',
  /** The node refused or failed to apply it (`reason`). */
  Failed: 'failed',
  /** Its effect measured some time after it was applied (`observed`). */
  Observed: 'observed',
  /** Undone after its cause cleared (or it expired); for a dry run, the suggestion withdrawn. */
  Reverted: 'reverted',
} as const;
export type AdaptationPhase = (typeof AdaptationPhase)[keyof typeof AdaptationPhase];

/** What an adaptation is expected to change, measured on `key` with the `kind` detector's statistic. */
export const ExpectedEffectSchema = z.object({
  key: SeriesKeySchema,
  kind: z.enum(anomalyKinds),
  direction: z.enum(['decrease', 'increase']),
  /** The statistic when the adaptation was decided. */
  before: z.number(),
  /** Where it should return to: the trigger's baseline, in natural units. */
  target: z.number(),
});
export type ExpectedEffect = z.infer<typeof ExpectedEffectSchema>;

/** `<prefix>.events.adaptation`: one step in the life of a recorded decision. */
export const AdaptationEventSchema = z.object({
  id: z.string().min(1).max(64),
  node: token,
  ts: nonNeg,
  policy: z.string().min(1).max(64),
  phase: z.enum([
    AdaptationPhase.Suggested,
    AdaptationPhase.Applied,
    AdaptationPhase.Failed,
    AdaptationPhase.Observed,
    AdaptationPhase.Reverted,
  ]),
  dry_run: z.boolean(),
  trigger: z.object({ anomaly: z.string().min(1), kind: z.enum(anomalyKinds), key: SeriesKeySchema }),
  evidence: EvidenceSchema,
  action: ActuatorCallSchema,
  expected: ExpectedEffectSchema,
  /** The statistic `observeAfterMs` after applying; `value` null when the series had no data. */
  observed: z.object({ ts: nonNeg, value: z.number().nullable(), improved: z.boolean() }).optional(),
  reason: z.string().max(512).optional(),
});
export type AdaptationEvent = z.infer<typeof AdaptationEventSchema>;

/** The telemetry message types by the name used in `fixtures/protocol/*.json`. */
export const eventMessageSchemas = {
  call_batch: CallBatchSchema,
  anomaly_event: AnomalyEventSchema,
  adaptation_event: AdaptationEventSchema,
} as const;
