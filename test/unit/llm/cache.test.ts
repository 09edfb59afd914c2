import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { canonicalJson, lmCacheKey, predictCacheKey } from '../../../src/llm/cache-key.js';
import { ResultCache, type SharedTier } from '../../../src/llm/cache.js';
import { createMetrics } from '../../../src/telemetry/metrics.js';

describe('cache keys', () => {
  it('canonical JSON sorts keys at every depth and drops undefined', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: undefined } })).toBe(
      '{"a":{"d":[1,{"y":2,"z":1}]},"b":1}',
    );
  });

  const body = {
    module: 'Predict',
    signature: 'question -> answer',
    inputs: { question: 'q', context: 'c' },
    config: { temperature: 0.2 },
  };

  it('gives one predict key whatever the key order', () => {
    const reordered = {
      config: { temperature: 0.2 },
      inputs: { context: 'c', question: 'q' },
      signature: 'question -> answer',
      module: 'Predict',
    };
    expect(predictCacheKey(reordered, 'm')).toBe(predictCacheKey(body, 'm'));
  });

  it('changes the predict key with module, signature, instructions, inputs, config, demos and LM', () => {
    const base = predictCacheKey(body, 'm');
    const variants = [
      predictCacheKey({ ...body, module: 'ChainOfThought' }, 'm'),
      predictCacheKey({ ...body, signature: 'question -> reply' }, 'm'),
      predictCacheKey({ ...body, instructions: 'Be brief.' }, 'm'),
      predictCacheKey({ ...body, inputs: { question: 'q2', context: 'c' } }, 'm'),
      predictCacheKey({ ...body, config: { temperature: 0.3 } }, 'm'),
      predictCacheKey({ ...body, demos: [{ question: 'a', answer: 'b' }] }, 'm'),
      predictCacheKey(body, 'other'),
    ];
    expect(new Set([base, ...variants]).size).toBe(variants.length + 1);
  });

  it('ignores the routing keys cache and adapter', () => {
    expect(
      predictCacheKey({ ...body, config: { temperature: 0.2, adapter: 'python', cache: true } }, 'm'),
    ).toBe(predictCacheKey(body, 'm'));
  });

  it('keys LM completions by model, messages and parameters', () => {
    const req = { messages: [{ role: 'user' as const, content: 'hi' }], params: { temperature: 0 } };
    const key = lmCacheKey('openai/a', req);
    expect(lmCacheKey('openai/a', { ...req, params: { temperature: 0 } })).toBe(key);
    expect(lmCacheKey('openai/b', req)).not.toBe(key);
    expect(lmCacheKey('openai/a', { ...req, params: { temperature: 1 } })).not.toBe(key);
    expect(lmCacheKey('openai/a', { ...req, messages: [{ role: 'user', content: 'ho' }] })).not.toBe(key);
    expect(key).toMatch(/^lm1\.[0-9a-f]{64}$/);
  });
});

describe('ResultCache', () => {
  function setup(shared?: SharedTier, entries = 10) {
    const metrics = createMetrics();
    const cache = new ResultCache<{ v: number }>({
      entries,
      lookups: metrics.llmCache,
      name: 'predict',
      logger: pino({ level: 'silent' }),
      shared,
    });
    const count = async (tier: string, result: string) =>
      (
        (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === 'dspex_llm_cache_total')?.values ??
        []
      )
        .filter((v) => v.labels.tier === tier && v.labels.result === result)
        .reduce((s, v) => s + v.value, 0);
    return { cache, count };
  }
  const accept = (v: unknown): v is { v: number } => typeof v === 'object' && v !== null && 'v' in v;

  it('keeps the most recently used entries up to its size', () => {
    const { cache } = setup(undefined, 2);
    cache.set('a', { v: 1 });
    cache.set('b', { v: 2 });
    expect(cache.getLocal('a')).toEqual({ v: 1 });
    cache.set('c', { v: 3 });
    expect(cache.getLocal('b')).toBeUndefined();
    expect(cache.getLocal('a')).toEqual({ v: 1 });
    expect(cache.size).toBe(2);
  });

  it('keeps nothing in memory with 0 entries', () => {
    const { cache } = setup(undefined, 0);
    cache.set('a', { v: 1 });
    expect(cache.getLocal('a')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('counts memory hits and misses', async () => {
    const { cache, count } = setup();
    expect(cache.getLocal('k')).toBeUndefined();
    cache.set('k', { v: 1 });
    expect(cache.getLocal('k')).toEqual({ v: 1 });
    expect(await count('memory', 'hit')).toBe(1);
    expect(await count('memory', 'miss')).toBe(1);
  });

  it('writes through to the shared tier and fills memory from it', async () => {
    const store = new Map<string, unknown>();
    const shared: SharedTier = {
      get: (k) => Promise.resolve(store.get(k)),
      put: (k, v) => {
        store.set(k, v);
        return Promise.resolve();
      },
    };
    const a = setup(shared);
    a.cache.set('k', { v: 7 });
    await Promise.resolve();
    const b = setup(shared);
    expect(b.cache.getLocal('k')).toBeUndefined();
    expect(await b.cache.getShared('k', accept)).toEqual({ v: 7 });
    expect(b.cache.getLocal('k')).toEqual({ v: 7 });
    expect(await b.count('kv', 'hit')).toBe(1);
    expect(await b.cache.getShared('missing', accept)).toBeUndefined();
    expect(await b.count('kv', 'miss')).toBe(1);
  });

  it('treats a failing shared tier as a miss', async () => {
    const { cache } = setup({
      get: () => Promise.reject(new Error('down')),
      put: () => Promise.reject(new Error('down')),
    });
    cache.set('k', { v: 1 });
    expect(await cache.getShared('other', accept)).toBeUndefined();
  });
});
