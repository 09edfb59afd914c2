import { describe, expect, it } from 'vitest';
import { DUMMY_CONCURRENCY, IO_BOUND_CONCURRENCY, resolveConfig } from '../../../src/runtime/config.js';

describe('pool concurrency defaults', () => {
  it('is I/O-bound (512) for a real LM, 4 for the dummy LM, and never overrides an explicit value', () => {
    const config = resolveConfig({
      worker: { lm: 'openai/gpt-4o-mini' },
      pools: {
        byNode: { size: 1 },
        byPool: { size: 1, lm: 'anthropic/claude-3-5-haiku' },
        byEnv: { size: 1, lm: undefined, env: { DSPEX_LM: 'openai/gpt-4o' } },
        dummy: { size: 1, lm: 'dummy' },
        explicit: { size: 1, lm: 'openai/gpt-4o', concurrency: 7 },
      },
    });
    expect(IO_BOUND_CONCURRENCY).toBe(512);
    expect(DUMMY_CONCURRENCY).toBe(4);
    const c = (name: string): number => config.pools[name]!.concurrency;
    expect([c('byNode'), c('byPool'), c('byEnv'), c('dummy'), c('explicit')]).toEqual([512, 512, 512, 4, 7]);
  });

  it('defaults to the dummy LM, and so to 4, when nothing names a model', () => {
    expect(resolveConfig({}).pools.general!.concurrency).toBe(4);
    expect(resolveConfig({ pools: { p: { size: 0, env: {} } } }).pools.p!.concurrency).toBe(4);
  });

  it('still refuses a concurrency out of range, naming the field', () => {
    expect(() => resolveConfig({ pools: { p: { concurrency: 0 } } })).toThrow(/pools\.p\.concurrency/);
  });
});
