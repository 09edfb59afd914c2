import { createHash } from 'node:crypto';
import type { NatsConnection } from '@nats-io/nats-core';
import { type KV } from '@nats-io/kv';
import type { Logger } from 'pino';
import { decode, encode, Encoding } from '../protocol/codec.js';
import type { AttemptResult } from '../pools/dispatcher.js';
import { LatencyStats } from '../pools/latency-stats.js';
import { openBucket } from '../nats/kv-bucket.js';

/** What the store learns from: one finished attempt on a worker. */
export type PatternSample = Pick<
  AttemptResult,
  'pool' | 'worker' | 'module' | 'signature' | 'latencyMs' | 'ok'
>;

/** A prediction of how long a call will take before it runs. */
export interface LatencyEstimate {
  /** Predicted time in the worker, ms; undefined when nothing similar has run yet. */
  latencyMs: number | undefined;
  /** Where the prediction comes from: this task's own history here, the cluster's, or the pool's. */
  basis: 'pattern' | 'cluster' | 'pool' | 'none';
  samples: number;
  errorRate: number;
}

interface StoredPattern {
  node: string;
  key: string;
  ewma_ms: number | null;
  p50_ms: number | null;
  p95_ms: number | null;
  error_rate: number;
  count: number;
  at: number;
}

/** Signature hashes already computed (every attempt records one), bounded. */
const signatureHashes = new Map<string, string>();
const SIGNATURE_HASHES_KEPT = 1024;

function signatureHash(signature: string): string {
  let hash = signatureHashes.get(signature);
  if (hash === undefined) {
    hash = createHash('sha256').update(signature).digest('hex').slice(0, 16);
    if (signatureHashes.size >= SIGNATURE_HASHES_KEPT) signatureHashes.clear();
    signatureHashes.set(signature, hash);
  }
  return hash;
}

/** Key of a task pattern: pool, module and (a hash of) the signature. */
export function patternKey(pool: string, module: string, signature: string): string {
  return `${pool}.${module}.${signatureHash(signature)}`;
}

/**
 * Execution statistics per task pattern (pool × module × signature) and per pool, learnt from every
 * attempt and shared across nodes through a JetStream KV bucket: each node writes its own entries
 * every few seconds and reads the others' as priors, so a node that never ran a task can still
 * predict it. Feeds latency predictions and the orchestrator's plans.
 */
export class PatternStore {
  private readonly local = new Map<string, LatencyStats>();
  private readonly pools = new Map<string, LatencyStats>();
  private readonly cluster = new Map<string, StoredPattern[]>();
  private kv: KV | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly dirty = new Set<string>();

  constructor(private readonly o: { nodeId: string; prefix: string; logger: Logger; flushMs?: number }) {}

  /** Opens (or creates) the shared bucket and loads what other nodes learnt. */
  async start(nc: NatsConnection): Promise<void> {
    try {
      this.kv = await openBucket(nc, `${this.o.prefix}_patterns`, { history: 1, ttl: 24 * 3600 * 1000 });
      await this.load();
    } catch (err) {
      this.o.logger.warn({ err }, 'pattern store runs without its shared bucket');
      this.kv = undefined;
    }
    this.timer = setInterval(() => void this.flush(), this.o.flushMs ?? 5000);
    this.timer.unref();
  }

  record(s: PatternSample): void {
    const key = patternKey(s.pool, s.module, s.signature);
    for (const [map, k] of [
      [this.local, key],
      [this.pools, s.pool],
    ] as const) {
      let stats = map.get(k);
      if (stats === undefined) map.set(k, (stats = new LatencyStats()));
      if (s.ok) stats.recordSuccess(s.latencyMs, Date.now());
      else stats.recordFailure(Date.now());
    }
    this.dirty.add(key);
  }

  /** Predicted worker time of a task, from the most specific history available. */
  estimate(pool: string, module: string, signature: string): LatencyEstimate {
    const key = patternKey(pool, module, signature);
    const own = this.local.get(key);
    if (own?.ewmaMs !== undefined && own.count >= 3) {
      return { latencyMs: own.ewmaMs, basis: 'pattern', samples: own.count, errorRate: own.errorEwma };
    }
    const others = (this.cluster.get(key) ?? []).filter(
      (p) => p.ewma_ms !== null && p.node !== this.o.nodeId,
    );
    if (others.length > 0) {
      const samples = others.reduce((n, p) => n + p.count, 0);
      const latency = others.reduce((sum, p) => sum + p.ewma_ms! * p.count, 0) / Math.max(1, samples);
      const errorRate = others.reduce((sum, p) => sum + p.error_rate * p.count, 0) / Math.max(1, samples);
      return { latencyMs: latency, basis: 'cluster', samples, errorRate };
    }
    const poolStats = this.pools.get(pool);
    if (poolStats?.ewmaMs !== undefined) {
      return {
        latencyMs: poolStats.ewmaMs,
        basis: 'pool',
        samples: poolStats.count,
        errorRate: poolStats.errorEwma,
      };
    }
    return { latencyMs: undefined, basis: 'none', samples: 0, errorRate: 0 };
  }

  /** Re-reads what every node knows from the shared bucket (the orchestrator actor does, when it starts). */
  reload(): Promise<void> {
    return this.load();
  }

  /** The local patterns, for status and telemetry. */
  snapshot(): Record<string, ReturnType<LatencyStats['toJSON']>> {
    return Object.fromEntries([...this.local].map(([k, v]) => [k, v.toJSON()]));
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    await this.flush();
  }

  /** Saves what changed here, then reads what every node knows (also when nothing changed here). */
  private async flush(): Promise<void> {
    const kv = this.kv;
    if (kv === undefined) return;
    const keys = [...this.dirty];
    this.dirty.clear();
    for (const key of keys) {
      const stats = this.local.get(key);
      if (stats === undefined) continue;
      const json = stats.toJSON();
      const record: StoredPattern = { node: this.o.nodeId, key, ...json, at: Date.now() };
      try {
        await kv.put(`${key}.${this.o.nodeId}`, encode(record, Encoding.Msgpack));
      } catch (err) {
        this.o.logger.debug({ err, key }, 'pattern not saved');
      }
    }
    await this.load().catch(() => undefined);
  }

  private async load(): Promise<void> {
    const kv = this.kv;
    if (kv === undefined) return;
    const next = new Map<string, StoredPattern[]>();
    for await (const name of await kv.keys()) {
      const entry = await kv.get(name);
      if (entry === null || entry.value.length === 0) continue;
      let record: StoredPattern;
      try {
        record = decode(entry.value, Encoding.Msgpack) as StoredPattern;
      } catch {
        continue;
      }
      if (typeof record.key !== 'string' || typeof record.count !== 'number') continue;
      const list = next.get(record.key) ?? [];
      list.push(record);
      next.set(record.key, list);
    }
    this.cluster.clear();
    for (const [k, v] of next) this.cluster.set(k, v);
  }
}
