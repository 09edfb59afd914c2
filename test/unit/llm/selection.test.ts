import { describe, expect, it } from 'vitest';
import { isDspexError } from '../../../src/errors.js';
import { AdapterStats, selectAdapter, type SelectionOptions } from '../../../src/llm/selection.js';
import type { PredictRequest } from '../../../src/protocol/schemas.js';

const options: SelectionOptions = {
  alpha: 0.5,
  maxErrorRate: 0.5,
  latencyFactor: 4,
  minSamples: 3,
  probeEvery: 10,
};
const offer: { directModel: string | undefined; mock: boolean } = { directModel: 'openai/m', mock: false };
const plain: PredictRequest = { module: 'Predict', signature: 'q -> a', inputs: { q: 'x' } };
const pick = (body: PredictRequest, stats = new AdapterStats(0.5), o = offer, tick = 1) =>
  selectAdapter(body, o, stats, options, tick);

describe('selectAdapter', () => {
  it('sends a plain Predict without demos direct', () => {
    expect(pick(plain)).toEqual({ adapter: 'direct', reason: 'eligible' });
    expect(pick({ ...plain, module: 'ChainOfThought' }).adapter).toBe('direct');
  });

  it('sends everything to Python when no HTTP LM is configured', () => {
    expect(pick(plain, undefined, { directModel: undefined, mock: false })).toEqual({
      adapter: 'python',
      reason: 'no_http_lm',
    });
  });

  it('sends demos, other modules, another LM and other pools to Python', () => {
    expect(pick({ ...plain, module: 'ChainOfThought', demos: [{ q: 'a', a: 'b' }] }).reason).toBe('demos');
    expect(pick({ ...plain, module: 'ReAct' }).reason).toBe('module');
    expect(pick({ ...plain, config: { lm: 'anthropic/claude' } }).reason).toBe('lm');
    expect(pick({ ...plain, config: { lm: 'openai/m' } }).adapter).toBe('direct');
    expect(pick({ ...plain, pool: 'optimizer' }).reason).toBe('pool');
  });

  it("sends signatures with DSPy's own types to Python, whose adapters format them", () => {
    for (const sig of ['img: dspy.Image -> a', 'q, h: dspy.History -> a', 'q -> c: Optional[dspy.Code]']) {
      expect(pick({ ...plain, signature: sig })).toEqual({ adapter: 'python', reason: 'types' });
    }
  });

  it('honours config.adapter and rejects an unknown or unavailable one naming the field', () => {
    expect(pick({ ...plain, config: { adapter: 'python' } })).toEqual({
      adapter: 'python',
      reason: 'requested',
    });
    expect(pick({ ...plain, config: { adapter: 'auto' } }).adapter).toBe('direct');
    for (const [body, o] of [
      [{ ...plain, config: { adapter: 'telepathy' } }, offer],
      [
        { ...plain, config: { adapter: 'direct' } },
        { directModel: undefined, mock: false },
      ],
      [{ ...plain, config: { adapter: 'mock' } }, offer],
    ] as const) {
      let error: unknown;
      try {
        pick(body, undefined, o);
      } catch (e) {
        error = e;
      }
      expect(isDspexError(error) && error.details?.field).toBe('config.adapter');
    }
  });

  it('sends everything to a configured mock', () => {
    expect(
      pick({ ...plain, module: 'ReAct' }, undefined, { directModel: undefined, mock: true }).adapter,
    ).toBe('mock');
  });

  it('moves calls to Python when the direct error rate is high, probing every n-th call', () => {
    const stats = new AdapterStats(0.5);
    for (let i = 0; i < 4; i++) stats.record('direct', 100, true);
    expect(pick(plain, stats, offer, 1)).toEqual({ adapter: 'python', reason: 'errors' });
    expect(pick(plain, stats, offer, 10)).toEqual({ adapter: 'direct', reason: 'probe' });
    // Successes bring the EWMA down and the calls back.
    for (let i = 0; i < 4; i++) stats.record('direct', 100, false);
    expect(pick(plain, stats, offer, 1).adapter).toBe('direct');
  });

  it('moves calls to Python when direct is much slower than Python', () => {
    const stats = new AdapterStats(0.5);
    for (let i = 0; i < 3; i++) {
      stats.record('direct', 2_000, false);
      stats.record('python', 100, false);
    }
    expect(pick(plain, stats)).toEqual({ adapter: 'python', reason: 'latency' });
    for (let i = 0; i < 10; i++) stats.record('direct', 150, false);
    expect(pick(plain, stats).adapter).toBe('direct');
  });

  it('ignores the EWMAs until an adapter has enough samples', () => {
    const stats = new AdapterStats(0.5);
    stats.record('direct', 100, true);
    stats.record('direct', 100, true);
    expect(pick(plain, stats).adapter).toBe('direct');
  });
});

describe('AdapterStats', () => {
  it('keeps EWMAs of latency (successes only) and error rate', () => {
    const stats = new AdapterStats(0.5);
    stats.record('direct', 100, false);
    stats.record('direct', 300, false);
    stats.record('direct', 9_999, true);
    expect(stats.get('direct')).toEqual({ samples: 3, latencyMs: 200, errorRate: 0.5 });
  });
});
