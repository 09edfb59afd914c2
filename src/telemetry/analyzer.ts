/**
 * The analysis core: sliding windows per series (pool, worker, module+signature, model), a robust
 * baseline per series and detector, and a small state machine per detector with hysteresis:
 *
 *   normal ──(confirmTicks windows over)──▶ raised ──(clearTicks windows under)──▶ normal
 *
 * A baseline learns only windows judged normal, so an incident is never learned as the new normal;
 * an anomaly that lasts `relearnAfterMs` is, explicitly (cleared as `relearned`, baseline reset).
 * Pure: time comes in as arguments, events go out as return values, state is plain data that
 * {@link Analyzer.snapshot} copies out and {@link Analyzer.restore} takes back.
 */
import {
  AnomalyKind,
  Scope,
  anomalyKinds,
  type AnomalyEvent,
  type CallRecord,
  type Evidence,
  type SeriesKey,
} from '../protocol/events.js';
import {
  evaluateGrowth,
  evaluateWindow,
  learn,
  type Baseline,
  type Judgement,
  type ResolvedAnalysisOptions,
} from './detectors.js';
import { keysOfCall, seriesId, workerKey } from './series-key.js';
import { CallWindow, GaugeSeries, type GaugePoint } from './window.js';

/** A gauge sample of one worker, from its heartbeat. */
export interface WorkerSample {
  ts: number;
  pool: string;
  worker: string;
  rss_bytes: number;
}

/** Where one detector stands on one series. */
export interface DetectorState extends Baseline {
  state: 'normal' | 'raised';
  /** Consecutive windows over (while normal) or under (while raised). */
  streak: number;
  /** The raised anomaly's id and start. */
  anomaly?: string;
  since?: number;
  /** The last judged window's evidence (what policies read as "the current value"). */
  last?: Evidence;
}

interface Series {
  key: SeriesKey;
  lastSeen: number;
  calls: CallWindow | undefined;
  rss: GaugeSeries | undefined;
  detectors: Partial<Record<AnomalyKind, DetectorState>>;
}

/** The part of the analysis worth keeping across a restart: baselines and raised anomalies. */
export interface AnalyzerSnapshot {
  seq: number;
  series: Array<{
    key: SeriesKey;
    lastSeen: number;
    rss?: GaugePoint[];
    detectors: Partial<Record<AnomalyKind, DetectorState>>;
  }>;
}

/** Counters of the analysis itself. */
export interface AnalyzerStats {
  series: number;
  evicted: number;
  raised: number;
  cleared: number;
}

export class Analyzer {
  private readonly series = new Map<string, Series>();
  private readonly pending: AnomalyEvent[] = [];
  private seq = 0;
  private evicted = 0;
  private raisedCount = 0;
  private clearedCount = 0;

  constructor(
    private readonly options: ResolvedAnalysisOptions,
    private readonly node: string,
  ) {}

  /** Counts a batch of calls into the windows of their series. */
  ingestCalls(calls: readonly CallRecord[], now: number): void {
    for (const call of calls) {
      for (const key of keysOfCall(call)) {
        const s = this.touch(key, now);
        s.calls ??= new CallWindow(
          this.options.bucketMs,
          this.options.windowBuckets,
          this.options.sketchAccuracy,
        );
        s.calls.add(call);
      }
    }
  }

  /** Adds heartbeat gauges (RSS) to the worker series. */
  ingestSamples(samples: readonly WorkerSample[], now: number): void {
    if (!this.options.kinds.rss_growth.enabled) return;
    for (const sample of samples) {
      const s = this.touch(workerKey(sample.pool, sample.worker), now);
      s.rss ??= new GaugeSeries(this.options.rss.spanMs, this.options.rss.spacingMs);
      s.rss.add(sample.ts, sample.rss_bytes);
    }
  }

  /** Runs every detector on every series; returns the anomalies raised and cleared. */
  tick(now: number): AnomalyEvent[] {
    const events = this.pending.splice(0);
    for (const [id, s] of this.series) {
      if (now - s.lastSeen > this.options.keyTtlMs) {
        this.series.delete(id);
        events.push(...this.forget(s, now));
        continue;
      }
      const agg = s.calls?.aggregate(now);
      for (const kind of anomalyKinds) {
        const settings = this.options.kinds[kind];
        if (!settings.enabled || !settings.scopes.includes(s.key.scope)) continue;
        const d = (s.detectors[kind] ??= { history: [], ewma: undefined, state: 'normal', streak: 0 });
        let judgement: Judgement | undefined;
        if (kind === AnomalyKind.RssGrowth) {
          if (s.rss === undefined) continue;
          const rss = this.options.rss;
          judgement = evaluateGrowth(settings, s.rss.recent(now), rss.spanMs, rss.minSlopeBytesPerMin);
        } else if (agg !== undefined) {
          judgement = evaluateWindow(kind, settings, agg, d, this.options.minBaselinePoints);
        }
        const event = this.step(s.key, kind, d, judgement, now);
        if (event !== undefined) events.push(event);
      }
    }
    return events;
  }

  private step(
    key: SeriesKey,
    kind: AnomalyKind,
    d: DetectorState,
    judgement: Judgement | undefined,
    now: number,
  ): AnomalyEvent | undefined {
    if (judgement === undefined) {
      // No evidence either way: a pending raise or clear starts over, a raised anomaly stays.
      d.streak = 0;
      return undefined;
    }
    d.last = judgement.evidence;
    if (d.state === 'normal') {
      if (!judgement.over) {
        d.streak = 0;
        if (kind !== AnomalyKind.RssGrowth) learn(d, judgement.learnValue, this.options.baselinePoints);
        return undefined;
      }
      if (++d.streak < this.options.confirmTicks) return undefined;
      d.state = 'raised';
      d.streak = 0;
      d.since = now;
      d.anomaly = `an-${this.node}-${++this.seq}`;
      this.raisedCount++;
      return this.event(key, kind, d, 'raised', now, judgement.evidence);
    }
    if (now - (d.since ?? now) >= this.options.relearnAfterMs) {
      const event = this.clear(key, kind, d, now, judgement.evidence, 'relearned');
      d.history = [];
      d.ewma = undefined;
      return event;
    }
    if (!judgement.under) {
      d.streak = 0;
      return undefined;
    }
    if (++d.streak < this.options.clearTicks) return undefined;
    return this.clear(key, kind, d, now, judgement.evidence, 'recovered');
  }

  private clear(
    key: SeriesKey,
    kind: AnomalyKind,
    d: DetectorState,
    now: number,
    evidence: Evidence,
    reason: NonNullable<AnomalyEvent['reason']>,
  ): AnomalyEvent {
    const event = this.event(key, kind, d, 'cleared', now, evidence, reason);
    d.state = 'normal';
    d.streak = 0;
    delete d.anomaly;
    delete d.since;
    this.clearedCount++;
    return event;
  }

  private event(
    key: SeriesKey,
    kind: AnomalyKind,
    d: DetectorState,
    state: 'raised' | 'cleared',
    now: number,
    evidence: Evidence,
    reason?: AnomalyEvent['reason'],
  ): AnomalyEvent {
    return {
      id: d.anomaly ?? `an-${this.node}-0`,
      node: this.node,
      ts: now,
      kind,
      state,
      key,
      evidence,
      ...(state === 'cleared' && d.since !== undefined ? { since: d.since } : {}),
      ...(reason !== undefined ? { reason } : {}),
    };
  }

  /** Clears (as `expired`) what was raised on a series being forgotten. */
  private forget(s: Series, now: number): AnomalyEvent[] {
    const events: AnomalyEvent[] = [];
    for (const kind of anomalyKinds) {
      const d = s.detectors[kind];
      if (d?.state === 'raised' && d.last !== undefined)
        events.push(this.clear(s.key, kind, d, now, d.last, 'expired'));
    }
    return events;
  }

  private touch(key: SeriesKey, now: number): Series {
    const id = seriesId(key);
    let s = this.series.get(id);
    if (s !== undefined) {
      // Re-inserting keeps the map in least-recently-seen order for eviction.
      this.series.delete(id);
    } else {
      s = { key, lastSeen: now, calls: undefined, rss: undefined, detectors: {} };
      if (this.series.size >= this.options.maxKeys) this.evictOldest(now);
    }
    s.lastSeen = now;
    this.series.set(id, s);
    return s;
  }

  private evictOldest(now: number): void {
    const [id, oldest] = this.series.entries().next().value ?? [];
    if (id === undefined || oldest === undefined) return;
    this.series.delete(id);
    this.evicted++;
    this.pending.push(...this.forget(oldest, now));
  }

  /** The last judged evidence of `kind` on a series (`scope:id`), if any. */
  current(id: string, kind: AnomalyKind): Evidence | undefined {
    return this.series.get(id)?.detectors[kind]?.last;
  }

  /** The series key of `scope:id`, while it is kept. */
  key(id: string): SeriesKey | undefined {
    return this.series.get(id)?.key;
  }

  /** Anomalies raised and not yet cleared. */
  active(): Array<{
    id: string;
    kind: AnomalyKind;
    key: SeriesKey;
    since: number;
    evidence: Evidence | undefined;
  }> {
    const out = [];
    for (const s of this.series.values()) {
      for (const kind of anomalyKinds) {
        const d = s.detectors[kind];
        if (d?.state === 'raised' && d.anomaly !== undefined) {
          out.push({ id: d.anomaly, kind, key: s.key, since: d.since ?? 0, evidence: d.last });
        }
      }
    }
    return out;
  }

  stats(): AnalyzerStats {
    return {
      series: this.series.size,
      evicted: this.evicted,
      raised: this.raisedCount,
      cleared: this.clearedCount,
    };
  }

  /** A deep copy of baselines and detector states (windows of raw calls are not kept). */
  snapshot(): AnalyzerSnapshot {
    return structuredClone({
      seq: this.seq,
      series: [...this.series.values()].map((s) => ({
        key: s.key,
        lastSeen: s.lastSeen,
        ...(s.rss !== undefined ? { rss: s.rss.points } : {}),
        detectors: s.detectors,
      })),
    });
  }

  /** An analyzer that resumes from a snapshot (its windows refill within one window span). */
  static restore(options: ResolvedAnalysisOptions, node: string, snapshot: AnalyzerSnapshot): Analyzer {
    const analyzer = new Analyzer(options, node);
    const copy = structuredClone(snapshot);
    analyzer.seq = copy.seq;
    for (const s of copy.series.slice(-options.maxKeys)) {
      let rss: GaugeSeries | undefined;
      if (s.rss !== undefined && s.key.scope === Scope.Worker) {
        rss = new GaugeSeries(options.rss.spanMs, options.rss.spacingMs);
        rss.points = s.rss;
      }
      analyzer.series.set(seriesId(s.key), {
        key: s.key,
        lastSeen: s.lastSeen,
        calls: undefined,
        rss,
        detectors: s.detectors,
      });
    }
    return analyzer;
  }
}
