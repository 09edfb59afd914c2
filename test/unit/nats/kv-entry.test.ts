import { JetStreamApiError } from '@nats-io/jetstream';
import type { KvEntry } from '@nats-io/kv';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { isCreateRace } from '../../../src/nats/kv-bucket.js';
import { decodeEntry, isWrongLastSequence } from '../../../src/nats/kv-entry.js';
import { encode, Encoding } from '../../../src/protocol/codec.js';

const Schema = z.object({ name: z.string(), n: z.number() });

const entry = (value: Uint8Array, operation: KvEntry['operation'] = 'PUT'): KvEntry =>
  ({ value, operation, length: value.length, revision: 7, key: 'k' }) as unknown as KvEntry;

const apiError = (code: number, description: string): JetStreamApiError =>
  new JetStreamApiError({ code: 400, err_code: code, description });

describe('decodeEntry', () => {
  it('decodes and validates a stored value', () => {
    expect(decodeEntry(Schema, entry(encode({ name: 'a', n: 1 }, Encoding.Msgpack)))).toEqual({
      name: 'a',
      n: 1,
    });
  });

  it('gives undefined for a missing entry, a delete, a purge and an empty value', () => {
    const bytes = encode({ name: 'a', n: 1 }, Encoding.Msgpack);
    expect(decodeEntry(Schema, null)).toBeUndefined();
    expect(decodeEntry(Schema, entry(bytes, 'DEL'))).toBeUndefined();
    expect(decodeEntry(Schema, entry(bytes, 'PURGE'))).toBeUndefined();
    expect(decodeEntry(Schema, entry(new Uint8Array()))).toBeUndefined();
  });

  it('gives undefined for bytes that are not msgpack and for a value the schema refuses', () => {
    expect(decodeEntry(Schema, entry(new Uint8Array([0xc1])))).toBeUndefined();
    expect(decodeEntry(Schema, entry(encode({ name: 'a', n: 'one' }, Encoding.Msgpack)))).toBeUndefined();
  });
});

describe('JetStream error codes', () => {
  it('tells a failed compare-and-set by its code, not its text', () => {
    expect(isWrongLastSequence(apiError(10071, 'wrong last sequence: 3'))).toBe(true);
    expect(isWrongLastSequence(apiError(10164, 'wrong last sequence'))).toBe(true);
    expect(isWrongLastSequence(apiError(10059, 'stream not found'))).toBe(false);
    expect(isWrongLastSequence(new Error('wrong last sequence: 3'))).toBe(false);
  });

  it('tells a bucket created by another node at the same moment by its code, not its text', () => {
    expect(isCreateRace(apiError(10065, 'subjects overlap with an existing stream'))).toBe(true);
    expect(isCreateRace(apiError(10058, 'stream name already in use with a different configuration'))).toBe(
      true,
    );
    expect(isCreateRace(apiError(10059, 'stream not found'))).toBe(false);
    expect(isCreateRace(new Error('subjects overlap with an existing stream'))).toBe(false);
  });
});
