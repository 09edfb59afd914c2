/**
 * Reading JetStream KV entries, in one place: what a bucket holds is as hostile as any message
 * (another version of dspex, another client, a hand edit), so an entry is decoded and validated
 * before anything trusts it, and compare-and-set conflicts are told by their JetStream code.
 */
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import type { KvEntry } from '@nats-io/kv';
import type { z } from 'zod';
import { decode, Encoding } from '../protocol/codec.js';

/**
 * The value of a KV entry as `schema`'s type: undefined for a missing entry, a delete or purge
 * marker, an empty value, bytes that are not msgpack, or a value the schema refuses.
 */
export function decodeEntry<S extends z.ZodType>(schema: S, entry: KvEntry | null): z.output<S> | undefined {
  if (entry === null || entry.operation !== 'PUT' || entry.length === 0) return undefined;
  let value: unknown;
  try {
    value = decode(entry.value, Encoding.Msgpack);
  } catch {
    return undefined;
  }
  const parsed = schema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}

/** True when a KV write failed its compare-and-set (the key moved past the expected revision). */
export function isWrongLastSequence(error: unknown): boolean {
  return (
    error instanceof JetStreamApiError &&
    (error.code === JetStreamApiCodes.StreamWrongLastSequence ||
      error.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}
