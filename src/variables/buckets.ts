/**
 * The three JetStream KV buckets behind variables, and how records are encoded in them (msgpack
 * maps, the same bytes any NATS client reads from `$KV.<bucket>.<name>` or the republished events).
 */
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstreamManager } from '@nats-io/jetstream';
import { openBucket } from '../nats/kv-bucket.js';
import { decodeEntry } from '../nats/kv-entry.js';
import { type KV, type KvEntry } from '@nats-io/kv';
import { encode, Encoding } from '../protocol/codec.js';
import {
  VarLeaseSchema,
  VarObserverSchema,
  VarStoredSchema,
  type VarLease,
  type VarObserver,
  type VarRecord,
  type VarStored,
} from '../protocol/variables.js';
import type { ResolvedVariablesOptions } from './options.js';

/** Resolved bucket names and the subject prefix change events are republished under. */
export interface BucketNames {
  values: string;
  leases: string;
  observers: string;
  /** `<prefix>.events.var`: events arrive on `<prefix>.events.var.<name>`. */
  events: string;
}

export function bucketNames(prefix: string, o: ResolvedVariablesOptions): BucketNames {
  return {
    values: o.bucket ?? `${prefix}_vars`,
    leases: o.leaseBucket ?? `${prefix}_var_leases`,
    observers: o.observerBucket ?? `${prefix}_var_observers`,
    events: `${prefix}.events.var`,
  };
}

export interface Buckets {
  values: KV;
  leases: KV;
  observers: KV;
  names: BucketNames;
}

/**
 * Opens the buckets, creating them when missing. The values bucket republishes every change on
 * `<prefix>.events.var.<name>` (server-side, so writes made by plain KV clients are announced too).
 */
export async function openBuckets(
  nc: NatsConnection,
  names: BucketNames,
  o: ResolvedVariablesOptions,
): Promise<Buckets> {
  const storage = o.storage;
  const common = { replicas: o.replicas, storage } as const;
  const [values, leases, observers] = await Promise.all([
    openBucket(nc, names.values, {
      ...common,
      history: o.history,
      maxValueSize: o.maxValueBytes,
      description: 'dspex variables',
      republish: { src: `$KV.${names.values}.>`, dest: `${names.events}.>` },
    }),
    openBucket(nc, names.leases, {
      ...common,
      history: 1,
      ttl: o.leaseTtlMs,
      description: 'dspex variable leases',
    }),
    openBucket(nc, names.observers, {
      ...common,
      history: 1,
      ttl: o.observerTtlMs,
      description: 'dspex variable observers',
    }),
  ]);
  return { values, leases, observers, names };
}

/** The TTL the lease bucket really has (it may predate this node's options). */
export async function leaseTtlOf(nc: NatsConnection, names: BucketNames): Promise<number> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(`KV_${names.leases}`);
  return Math.round(info.config.max_age / 1_000_000);
}

export function encodeStored(stored: VarStored): Uint8Array {
  return encode(stored, Encoding.Msgpack);
}

/** Decodes a values-bucket entry; `undefined` for deletes and for bytes that are not a record. */
export function recordOf(entry: KvEntry): VarRecord | undefined {
  const stored = decodeEntry(VarStoredSchema, entry);
  return stored === undefined ? undefined : { ...stored, revision: entry.revision };
}

export function leaseOf(entry: KvEntry | null): (VarLease & { revision: number }) | undefined {
  const lease = decodeEntry(VarLeaseSchema, entry);
  return lease === undefined || entry === null ? undefined : { ...lease, revision: entry.revision };
}

export function observerOf(entry: KvEntry): VarObserver | undefined {
  return decodeEntry(VarObserverSchema, entry);
}

export { isWrongLastSequence } from '../nats/kv-entry.js';
