/**
 * Sliding windows over recent measurements of one series, in fixed time buckets so memory is bounded
 * by the number of buckets (not by the call rate): a ring of `buckets` slots of `bucketMs` each.
 */
import type { CallRecord } from '../protocol/events.js';
import { QuantileSketch } from './sketch.js';

/** Sums over a window of calls; `*Calls` count the calls that reported that measurement. */
export interface CallAggregate {
  start: number;
  end: number;
  calls: number;
  errors: number;
  /** Parse and validation failures of the LM's output. */
  parse: number;
  tokenCalls: number;
  tokens: number;
  costCalls: number;
  cost: number;
  outputCalls: number;
  outputChars: number;
  latency: QuantileSketch;
}

interface Bucket extends CallAggregate {
  slot: number;
}

function emptyAggregate(start: number, end: number, accuracy: number): CallAggregate {
  return {
    start,
    end,
    calls: 0,
    errors: 0,
    parse: 0,
    tokenCalls: 0,
    tokens: 0,
    costCalls: 0,
    cost: 0,
    outputCalls: 0,
    outputChars: 0,
    latency: new QuantileSketch(accuracy),
  };
}

/** The calls of one series over the last `buckets × bucketMs` milliseconds. */
export class CallWindow {
  private readonly ring: Array<Bucket | undefined>;

  constructor(
    readonly bucketMs: number,
    readonly buckets: number,
    private readonly accuracy = 0.02,
  ) {
    this.ring = new Array<Bucket | undefined>(buckets).fill(undefined);
  }

  /** Length of the window, ms. */
  get spanMs(): number {
    return this.bucketMs * this.buckets;
  }

  /** Counts one call in the bucket of its end time; a call older than the ring holds is ignored. */
  add(call: CallRecord): void {
    const slot = Math.floor(call.ts / this.bucketMs);
    const at = slot % this.buckets;
    let bucket = this.ring[at];
    if (bucket === undefined || bucket.slot < slot) {
      const start = slot * this.bucketMs;
      bucket = { slot, ...emptyAggregate(start, start + this.bucketMs, this.accuracy) };
      this.ring[at] = bucket;
    } else if (bucket.slot > slot) {
      return;
    }
    bucket.calls++;
    if (call.outcome === 'parse_failure' || call.outcome === 'validation_failure') {
      bucket.parse++;
      bucket.errors++;
    } else if (call.outcome !== 'ok') {
      bucket.errors++;
    }
    bucket.latency.add(call.latency_ms);
    if (call.tokens_in !== undefined || call.tokens_out !== undefined) {
      bucket.tokenCalls++;
      bucket.tokens += (call.tokens_in ?? 0) + (call.tokens_out ?? 0);
    }
    if (call.cost_usd !== undefined) {
      bucket.costCalls++;
      bucket.cost += call.cost_usd;
    }
    if (call.output_chars !== undefined) {
      bucket.outputCalls++;
      bucket.outputChars += call.output_chars;
    }
  }

  /** Everything in the window that ends at `now`. */
  aggregate(now: number): CallAggregate {
    const total = emptyAggregate(now - this.spanMs, now, this.accuracy);
    for (const bucket of this.ring) {
      if (bucket === undefined || bucket.end <= now - this.spanMs || bucket.start > now) continue;
      total.calls += bucket.calls;
      total.errors += bucket.errors;
      total.parse += bucket.parse;
      total.tokenCalls += bucket.tokenCalls;
      total.tokens += bucket.tokens;
      total.costCalls += bucket.costCalls;
      total.cost += bucket.cost;
      total.outputCalls += bucket.outputCalls;
      total.outputChars += bucket.outputChars;
      total.latency.merge(bucket.latency);
    }
    return total;
  }
}

/** One point of a gauge series (a worker's RSS from its heartbeats). */
export interface GaugePoint {
  ts: number;
  value: number;
}

/**
 * A gauge over the last `spanMs`, thinned to one point per `spacingMs` (heartbeats arrive every
 * second; a trend over ten minutes needs far fewer points), at most `maxPoints`.
 */
export class GaugeSeries {
  points: GaugePoint[] = [];

  constructor(
    readonly spanMs: number,
    readonly spacingMs: number,
    readonly maxPoints = 60,
  ) {}

  add(ts: number, value: number): void {
    const last = this.points.at(-1);
    if (last !== undefined && ts < last.ts + this.spacingMs) return;
    this.points.push({ ts, value });
    if (this.points.length > this.maxPoints) this.points.shift();
  }

  /** Drops points older than the span before `now` and returns what is left. */
  recent(now: number): GaugePoint[] {
    const from = now - this.spanMs;
    while (this.points.length > 0 && (this.points[0]?.ts ?? 0) < from) this.points.shift();
    return this.points;
  }
}
