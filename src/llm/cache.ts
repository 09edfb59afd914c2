/**
 * The LM result cache: a size-bounded in-memory LRU per node, optionally backed by a JetStream KV
 * bucket shared by every node (entries expire with the bucket's `ttl`; nats-server 2.9 has no
 * per-key TTL). Values are stored as msgpack so any node (or language) can read them.
 */
import type { NatsConnection } from '@nats-io/nats-core';
import { LRUCache } from 'lru-cache';
import { type KV } from '@nats-io/kv';
import { openBucket } from '../nats/kv-bucket.js';
import type { Logger } from 'pino';
import type { Counter } from 'prom-client';
import { decode, encode, Encoding } from '../protocol/codec.js';

/** The shared tier: a KV bucket of msgpack values. */
export interface SharedTier {
  get(key: string): Promise<unknown>;
  put(key: string, value: unknown): Promise<void>;
}

/** Opens (or creates) the KV bucket `bucket` with a bucket-level TTL. */
export async function openKvTier(nc: NatsConnection, bucket: string, ttlMs: number): Promise<SharedTier> {
  const kv: KV = await openBucket(nc, bucket, { ttl: ttlMs, history: 1 });
  return {
    async get(key) {
      const entry = await kv.get(key);
      if (entry === null || entry.operation !== 'PUT' || entry.value.length === 0) return undefined;
      return decode(entry.value, Encoding.Msgpack);
    },
    async put(key, value) {
      await kv.put(key, encode(value, Encoding.Msgpack));
    },
  };
}

export interface ResultCacheOptions {
  /** Entries kept in memory. */
  entries: number;
  shared?: SharedTier | undefined;
  /** `dspex_llm_cache_total`; labels `cache` (this cache's name), `tier`, `result`. */
  lookups: Counter<'cache' | 'tier' | 'result'>;
  name: string;
  logger: Logger;
}

/** Two-tier cache of finished results (successes only; errors are never cached). */
export class ResultCache<V extends object> {
  /** Undefined when `entries` is 0: nothing is kept in memory. */
  private readonly memory: LRUCache<string, V> | undefined;
  private readonly hit;
  private readonly miss;
  private readonly sharedHit;
  private readonly sharedMiss;

  constructor(private readonly o: ResultCacheOptions) {
    this.memory = o.entries > 0 ? new LRUCache<string, V>({ max: o.entries }) : undefined;
    // Bound children: the hot path increments without a label lookup.
    this.hit = o.lookups.labels({ cache: o.name, tier: 'memory', result: 'hit' });
    this.miss = o.lookups.labels({ cache: o.name, tier: 'memory', result: 'miss' });
    this.sharedHit = o.lookups.labels({ cache: o.name, tier: 'kv', result: 'hit' });
    this.sharedMiss = o.lookups.labels({ cache: o.name, tier: 'kv', result: 'miss' });
  }

  /** The in-memory tier only, synchronously (the hot path). */
  getLocal(key: string): V | undefined {
    const value = this.memory?.get(key);
    (value === undefined ? this.miss : this.hit).inc();
    return value;
  }

  /** Adds the shared tier (once the node's connection is up). */
  share(tier: SharedTier): void {
    this.o.shared = tier;
  }

  get shared(): boolean {
    return this.o.shared !== undefined;
  }

  /** The shared tier (after a local miss); a hit is copied into memory. Failures count as misses. */
  async getShared(key: string, accept: (value: unknown) => value is V): Promise<V | undefined> {
    if (this.o.shared === undefined) return undefined;
    let value: unknown;
    try {
      value = await this.o.shared.get(key);
    } catch (err) {
      this.o.logger.warn({ err, key }, 'shared LM cache read failed');
    }
    if (value === undefined || !accept(value)) {
      this.sharedMiss.inc();
      return undefined;
    }
    this.sharedHit.inc();
    this.memory?.set(key, value);
    return value;
  }

  /** Stores in memory and, without waiting, in the shared tier. */
  set(key: string, value: V): void {
    this.memory?.set(key, value);
    this.o.shared?.put(key, value).catch((err: unknown) => {
      this.o.logger.warn({ err, key }, 'shared LM cache write failed');
    });
  }

  get size(): number {
    return this.memory?.size ?? 0;
  }

  clear(): void {
    this.memory?.clear();
  }
}
