/**
 * The policy engine: turns anomalies into recorded decisions and back. Pure: it takes events and
 * time, returns commands (`act` for the actuator, `emit` for `events.adaptation`), and keeps its state
 * as plain data that {@link PolicyEngine.snapshot} copies out.
 *
 * One adaptation's life:
 *   anomaly raised → [dry run] suggested | [act] pending → applied | failed
 *   applied + observeAfterMs → observed (the expected series' statistic, better or not)
 *   cause cleared, and still cleared after revertDelayMs → reverting → reverted (cooldown starts)
 * The cause re-raised during that delay (same series and kind) takes the adaptation back. One-shot
 * actions (recycle, optimizer trigger) end after they are observed; `maxDurationMs` reverts an
 * adaptation whose cause has not cleared, as a trial.
 */
import {
  AdaptationPhase,
  AnomalyKind,
  Scope,
  type ActuatorCall,
  type AdaptationEvent,
  type AnomalyEvent,
  type Evidence,
  type ExpectedEffect,
  type SeriesKey,
} from '../protocol/events.js';
import type { ActResult } from './actuator.js';
import type { Policy, ResolvedPolicies } from './policy-config.js';
import { modelKey, poolKey, seriesId } from './series-key.js';

/** Reads the latest evidence of `kind` on a series (`scope:id`); the analyzer's `current`. */
export type CurrentValue = (seriesId: string, kind: AnomalyKind) => Evidence | undefined;

/** What the engine asks of its host. */
export type PolicyCommand =
  | { type: 'act'; id: string; step: 'apply' | 'revert'; call: ActuatorCall }
  | { type: 'emit'; event: AdaptationEvent };

/** One adaptation as the engine keeps it. */
export interface Adaptation {
  id: string;
  policy: string;
  dryRun: boolean;
  trigger: { anomaly: string; kind: AnomalyKind; key: SeriesKey };
  evidence: Evidence;
  action: ActuatorCall;
  /** The call that undoes it; absent for one-shot actions. */
  revert?: ActuatorCall;
  expected: ExpectedEffect;
  status: 'pending' | 'active' | 'reverting' | 'done';
  decidedAt: number;
  appliedAt?: number;
  /** When its cause cleared (unset again if the cause comes back). */
  clearedAt?: number;
  revertReason?: string;
  observed?: { ts: number; value: number | null; improved: boolean };
  revertAttempts: number;
}

/** The engine's state: plain data, safe to persist. */
export interface PolicyState {
  seq: number;
  adaptations: Adaptation[];
  /** `policy|series` → until when it may not fire again. */
  cooldowns: Record<string, number>;
  /** Raised anomalies by id (the engine needs "is the pool degraded too?"). */
  anomalies: Record<string, { kind: AnomalyKind; key: SeriesKey }>;
}

const MAX_REVERT_ATTEMPTS = 3;

export class PolicyEngine {
  private state: PolicyState;

  constructor(
    private readonly config: ResolvedPolicies,
    private readonly node: string,
    state?: PolicyState,
  ) {
    this.state =
      state === undefined
        ? { seq: 0, adaptations: [], cooldowns: {}, anomalies: {} }
        : structuredClone(state);
  }

  snapshot(): PolicyState {
    return structuredClone(this.state);
  }

  /** Adaptations not yet done, in decision order. */
  active(): Adaptation[] {
    return this.state.adaptations.filter((a) => a.status !== 'done');
  }

  /** Reacts to a raised or cleared anomaly. */
  onAnomaly(event: AnomalyEvent, now: number, current: CurrentValue): PolicyCommand[] {
    if (event.state === 'cleared') {
      delete this.state.anomalies[event.id];
      for (const a of this.live()) {
        if (a.trigger.anomaly === event.id) {
          a.clearedAt = now;
          a.revertReason = `cause cleared (${event.reason ?? 'recovered'})`;
        }
      }
      return [];
    }
    this.state.anomalies[event.id] = { kind: event.kind, key: event.key };
    const commands: PolicyCommand[] = [];
    for (const policy of this.config.policies) {
      if (!matches(policy, event)) continue;
      const existing = this.live().find(
        (a) => a.policy === policy.name && sameSeries(a.trigger.key, event.key),
      );
      if (existing !== undefined) {
        // The cause came back (or another kind of the policy fired) before the revert: keep it in force.
        existing.trigger = { anomaly: event.id, kind: event.kind, key: event.key };
        delete existing.clearedAt;
        delete existing.revertReason;
        continue;
      }
      if ((this.state.cooldowns[cooldownKey(policy.name, event.key)] ?? 0) > now) continue;
      if (this.inForce(policy, event.key) >= policy.maxActive) continue;
      if (policy.skipIfPoolDegraded && event.key.scope === Scope.Worker && this.poolDegraded(event)) continue;
      commands.push(...this.decide(policy, event, now, current));
    }
    return commands;
  }

  /** The actuator's answer to an `act` command. */
  onResult(id: string, step: 'apply' | 'revert', result: ActResult, now: number): PolicyCommand[] {
    const a = this.state.adaptations.find((x) => x.id === id);
    if (a === undefined || a.status === 'done') return [];
    if (step === 'apply') {
      if (!result.ok) {
        this.finish(a, now);
        return [this.emit(a, AdaptationPhase.Failed, now, result.reason)];
      }
      a.status = 'active';
      a.appliedAt = now;
      const applied = result.detail?.delta;
      if (a.revert?.type === 'resize_pool' && typeof applied === 'number') a.revert.delta = -applied;
      return [this.emit(a, AdaptationPhase.Applied, now)];
    }
    if (result.ok) {
      this.finish(a, now);
      return [this.emit(a, AdaptationPhase.Reverted, now, a.revertReason)];
    }
    a.revertAttempts++;
    const reason = `revert failed: ${result.reason}`;
    if (a.revertAttempts >= MAX_REVERT_ATTEMPTS) {
      this.finish(a, now);
      return [this.emit(a, AdaptationPhase.Failed, now, `${reason} (gave up after ${a.revertAttempts})`)];
    }
    // Try again after another revert delay.
    a.status = 'active';
    a.clearedAt = now;
    return [this.emit(a, AdaptationPhase.Failed, now, reason)];
  }

  /** Observes effects, reverts what is due, ends one-shot adaptations. */
  onTick(now: number, current: CurrentValue): PolicyCommand[] {
    const commands: PolicyCommand[] = [];
    for (const a of this.state.adaptations) {
      if (a.status !== 'active') continue;
      const since = a.appliedAt ?? a.decidedAt;
      if (a.observed === undefined && now - since >= this.config.observeAfterMs) {
        const value = current(seriesId(a.expected.key), a.expected.kind)?.value ?? null;
        const improved =
          value !== null &&
          (a.expected.direction === 'decrease' ? value < a.expected.before : value > a.expected.before);
        a.observed = { ts: now, value, improved };
        commands.push(this.emit(a, AdaptationPhase.Observed, now));
        if (a.revert === undefined) this.finish(a, now);
      }
      if (a.revert === undefined) continue;
      const policy = this.config.policies.find((p) => p.name === a.policy);
      const expired = policy?.maxDurationMs !== undefined && now - since >= policy.maxDurationMs;
      const cleared = a.clearedAt !== undefined && now - a.clearedAt >= this.config.revertDelayMs;
      if (!expired && !cleared) continue;
      if (!cleared) a.revertReason = `expired after ${policy?.maxDurationMs} ms`;
      if (a.dryRun) {
        this.finish(a, now);
        commands.push(this.emit(a, AdaptationPhase.Reverted, now, a.revertReason));
        continue;
      }
      a.status = 'reverting';
      commands.push({ type: 'act', id: a.id, step: 'revert', call: a.revert });
    }
    this.state.adaptations = this.state.adaptations.filter((a) => a.status !== 'done');
    for (const [key, until] of Object.entries(this.state.cooldowns))
      if (until <= now) delete this.state.cooldowns[key];
    return commands;
  }

  private decide(policy: Policy, event: AnomalyEvent, now: number, current: CurrentValue): PolicyCommand[] {
    const { action, revert } = calls(policy, event.key);
    const dryRun = this.config.mode === 'dry_run' || policy.dryRun;
    const a: Adaptation = {
      id: `ad-${this.node}-${++this.state.seq}`,
      policy: policy.name,
      dryRun,
      trigger: { anomaly: event.id, kind: event.kind, key: event.key },
      evidence: event.evidence,
      action,
      ...(revert !== undefined ? { revert } : {}),
      expected: expectedEffect(policy, event, current),
      status: dryRun ? 'active' : 'pending',
      decidedAt: now,
      revertAttempts: 0,
    };
    this.state.adaptations.push(a);
    if (dryRun) return [this.emit(a, AdaptationPhase.Suggested, now)];
    return [{ type: 'act', id: a.id, step: 'apply', call: action }];
  }

  private finish(a: Adaptation, now: number): void {
    a.status = 'done';
    this.state.cooldowns[cooldownKey(a.policy, a.trigger.key)] = now + this.config.cooldownMs;
  }

  private live(): Adaptation[] {
    return this.state.adaptations.filter((a) => a.status !== 'done');
  }

  private inForce(policy: Policy, key: SeriesKey): number {
    return this.live().filter(
      (a) => a.policy === policy.name && (a.trigger.key.pool ?? '') === (key.pool ?? ''),
    ).length;
  }

  private poolDegraded(event: AnomalyEvent): boolean {
    return Object.values(this.state.anomalies).some(
      (x) => x.kind === event.kind && x.key.scope === Scope.Pool && x.key.id === event.key.pool,
    );
  }

  private emit(a: Adaptation, phase: AdaptationPhase, now: number, reason?: string): PolicyCommand {
    const event: AdaptationEvent = {
      id: a.id,
      node: this.node,
      ts: now,
      policy: a.policy,
      phase,
      dry_run: a.dryRun,
      trigger: a.trigger,
      evidence: a.evidence,
      action: a.action,
      expected: a.expected,
      ...(a.observed !== undefined ? { observed: a.observed } : {}),
      ...(reason !== undefined ? { reason: reason.slice(0, 512) } : {}),
    };
    return { type: 'emit', event };
  }
}

function matches(policy: Policy, event: AnomalyEvent): boolean {
  if (event.key.scope !== policy.on.scope || !policy.on.kinds.includes(event.kind)) return false;
  const match = policy.on.match ?? {};
  return (Object.keys(match) as Array<keyof typeof match>).every(
    (label) => match[label] === undefined || event.key[label] === match[label],
  );
}

function sameSeries(a: SeriesKey, b: SeriesKey): boolean {
  return a.scope === b.scope && a.id === b.id;
}

function cooldownKey(policy: string, key: SeriesKey): string {
  return `${policy}|${seriesId(key)}`;
}

/** The actuator call of a policy on a series, and the call that undoes it. */
function calls(policy: Policy, key: SeriesKey): { action: ActuatorCall; revert?: ActuatorCall } {
  const pool = key.pool ?? key.id;
  const worker = key.worker ?? key.id;
  const a = policy.action;
  switch (a.type) {
    case 'avoid_worker':
      return {
        action: { type: 'avoid_worker', pool, worker, probe_ratio: a.probeRatio },
        revert: { type: 'restore_worker', pool, worker },
      };
    case 'recycle_worker':
      return { action: { type: 'recycle_worker', pool, worker } };
    case 'resize_pool':
      return {
        action: { type: 'resize_pool', pool, delta: a.delta, min: a.min, max: a.max },
        revert: { type: 'resize_pool', pool, delta: -a.delta, min: a.min, max: a.max },
      };
    case 'fallback_model': {
      const model = key.model ?? key.id;
      return {
        action: { type: 'set_fallback_model', model, fallback: a.fallback },
        revert: { type: 'set_fallback_model', model, fallback: null },
      };
    }
    case 'set_hedging':
      return {
        action: { type: 'set_hedging', pool, factor: a.factor },
        revert: { type: 'set_hedging', pool, factor: null },
      };
    case 'optimizer': {
      const target = { module: key.module ?? key.id, signature: key.signature ?? '' };
      if (a.command === 'trigger') return { action: { type: 'optimizer', command: 'trigger', ...target } };
      return {
        action: { type: 'optimizer', command: 'pause', ...target },
        revert: { type: 'optimizer', command: 'resume', ...target },
      };
    }
    default: {
      const never: never = a;
      return never;
    }
  }
}

/**
 * Where the adaptation should show: routing around a worker shows on its pool, a fallback on the
 * fallback model's series, everything else on the series that raised. The statistic should move
 * from `before` back towards the trigger's baseline (`target`; 0 slope for RSS growth).
 */
function expectedEffect(policy: Policy, event: AnomalyEvent, current: CurrentValue): ExpectedEffect {
  const ev = event.evidence;
  let key = event.key;
  if (policy.action.type === 'avoid_worker' && event.key.pool !== undefined) key = poolKey(event.key.pool);
  if (policy.action.type === 'fallback_model') key = modelKey(policy.action.fallback);
  const now = key === event.key ? ev : current(seriesId(key), event.kind);
  const target = event.kind === AnomalyKind.RssGrowth ? 0 : ev.baseline.median;
  const before = now?.value ?? ev.value;
  return {
    key,
    kind: event.kind,
    direction: ev.value >= target ? 'decrease' : 'increase',
    before,
    target,
  };
}
