import { describe, expect, it } from 'vitest';
import { FrontCache, type FrontCacheOptions } from '../../../src/llm/front-cache.js';
import { Encoding } from '../../../src/protocol/codec.js';
import { createMetrics } from '../../../src/telemetry/metrics.js';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

function front(options: Partial<FrontCacheOptions> = {}) {
  const metrics = createMetrics();
  const cache = new FrontCache({
    entries: 100,
    maxBytes: 1 << 20,
    maxRequestBytes: 1024,
    lookups: metrics.llmCache,
    ...options,
  });
  const count = async (result: 'hit' | 'miss'): Promise<number> => {
    const metric = (await metrics.registry.getMetricsAsJSON()).find(
      (m) => m.name === 'dspex_llm_cache_total',
    );
    const values = (metric?.values ?? []) as Array<{ labels: Record<string, string>; value: number }>;
    return values.find((v) => v.labels.tier === 'front' && v.labels.result === result)?.value ?? 0;
  };
  return { cache, count };
}

describe('FrontCache', () => {
  it('answers exactly the bytes it was given, per encoding, and counts hits and misses', async () => {
    const { cache, count } = front();
    cache.set(bytes('request'), Encoding.Msgpack, bytes('reply'));
    expect(cache.get(bytes('request'), Encoding.Msgpack)).toEqual(bytes('reply'));
    expect(cache.get(bytes('request'), Encoding.Json)).toBeUndefined();
    expect(cache.get(bytes('request '), Encoding.Msgpack)).toBeUndefined();
    // Bytes that are not UTF-8 are keys like any other.
    cache.set(new Uint8Array([0xff, 0x00, 0xc3]), Encoding.Msgpack, bytes('binary'));
    expect(cache.get(new Uint8Array([0xff, 0x00, 0xc3]), Encoding.Msgpack)).toEqual(bytes('binary'));
    expect(cache.get(new Uint8Array([0xff, 0x00, 0xc4]), Encoding.Msgpack)).toBeUndefined();
    expect(await count('hit')).toBe(2);
    expect(await count('miss')).toBe(3);
  });

  it('keeps its own copy of the reply, not a view into the encoder buffer', () => {
    const { cache } = front();
    const shared = bytes('..reply..');
    cache.set(bytes('r'), Encoding.Msgpack, shared.subarray(2, 7));
    shared.fill(0);
    expect(cache.get(bytes('r'), Encoding.Msgpack)).toEqual(bytes('reply'));
  });

  it('is bounded in entries and in bytes, evicting the least recently used', () => {
    const byCount = front({ entries: 2 }).cache;
    for (const k of ['a', 'b']) byCount.set(bytes(k), Encoding.Msgpack, bytes(k));
    byCount.get(bytes('a'), Encoding.Msgpack);
    byCount.set(bytes('c'), Encoding.Msgpack, bytes('c'));
    expect(byCount.size).toBe(2);
    expect(byCount.get(bytes('b'), Encoding.Msgpack)).toBeUndefined();
    expect(byCount.get(bytes('a'), Encoding.Msgpack)).toBeDefined();

    // Each entry: a 2-character key (tag + 1 byte) and a 98-byte reply = 100.
    const bySize = front({ maxBytes: 250 }).cache;
    for (const k of ['a', 'b', 'c']) bySize.set(bytes(k), Encoding.Msgpack, new Uint8Array(98));
    expect(bySize.size).toBe(2);
    expect(bySize.get(bytes('a'), Encoding.Msgpack)).toBeUndefined();
  });

  it('neither keeps nor looks up requests over its size limit, or empty ones', () => {
    const { cache } = front({ maxRequestBytes: 8 });
    cache.set(new Uint8Array(9), Encoding.Msgpack, bytes('big'));
    cache.set(new Uint8Array(0), Encoding.Msgpack, bytes('empty'));
    expect(cache.size).toBe(0);
    cache.set(new Uint8Array(8), Encoding.Msgpack, bytes('fits'));
    expect(cache.get(new Uint8Array(8), Encoding.Msgpack)).toEqual(bytes('fits'));
  });

  it('empties on clear', () => {
    const { cache } = front();
    cache.set(bytes('r'), Encoding.Msgpack, bytes('x'));
    cache.clear();
    expect(cache.size).toBe(0);
    expect(cache.get(bytes('r'), Encoding.Msgpack)).toBeUndefined();
  });
});
