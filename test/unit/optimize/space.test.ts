import { describe, expect, it } from 'vitest';
import { progressBar } from '../../../src/cli/optimize.js';
import { bestTrial, studyToken, type Trial } from '../../../src/optimize/ledger.js';
import {
  canonicalJson,
  candidateKey,
  createRng,
  sampleCandidate,
  SearchSpaceSchema,
  spaceSize,
} from '../../../src/optimize/space.js';

const space = SearchSpaceSchema.parse({
  temperature: { kind: 'float', min: 0, max: 1, step: 0.25 },
  k: { kind: 'int', min: 1, max: 3 },
  style: { kind: 'categorical', values: ['terse', 'verbose'] },
});

describe('search spaces', () => {
  it('samples the same sequence from the same seed and stays inside the bounds', () => {
    const draw = (seed: number) => {
      const rng = createRng(seed);
      return Array.from({ length: 50 }, () => sampleCandidate(space, rng));
    };
    const first = draw(42);
    expect(draw(42)).toEqual(first);
    expect(draw(43)).not.toEqual(first);
    for (const c of first) {
      expect([0, 0.25, 0.5, 0.75, 1]).toContain(c.temperature);
      expect([1, 2, 3]).toContain(c.k);
      expect(['terse', 'verbose']).toContain(c.style);
    }
  });

  it('counts finite spaces and gives up on continuous ones', () => {
    expect(spaceSize(space)).toBe(5 * 3 * 2);
    expect(spaceSize(SearchSpaceSchema.parse({ t: { kind: 'float', min: 0, max: 1 } }))).toBeUndefined();
  });

  it('names a candidate by its canonical JSON, whatever the key order', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { f: 2, e: 3 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[1,{"e":3,"f":2}]},"b":1}',
    );
    expect(candidateKey({ k: 1, style: 'terse' })).toBe(candidateKey({ style: 'terse', k: 1 }));
    expect(candidateKey({ k: 1 })).not.toBe(candidateKey({ k: 2 }));
    expect(candidateKey({ k: 1 })).toMatch(/^[0-9a-f]{32}$/);
  });

  it('refuses inverted bounds and log scales through zero, naming the field', () => {
    const bad = SearchSpaceSchema.safeParse({ t: { kind: 'int', min: 3, max: 1 } });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.path).toEqual(['t', 'max']);
    expect(SearchSpaceSchema.safeParse({ t: { kind: 'float', min: 0, max: 1, log: true } }).success).toBe(
      false,
    );
    expect(SearchSpaceSchema.safeParse({}).success).toBe(false);
  });
});

describe('the trial ledger', () => {
  const trial = (
    key: string,
    budget: number,
    score: number | undefined,
    status: Trial['status'] = 'done',
  ): Trial => ({
    study: 's',
    key,
    candidate: {},
    budget,
    status,
    ...(score !== undefined && { score }),
    by: 'o',
    node: 'n',
    at: 0,
  });

  it('picks the best finished trial at the highest budget, ties broken by key', () => {
    expect(bestTrial([])).toBeUndefined();
    const trials = [
      trial('a', 1, 0.9),
      trial('b', 4, 0.5),
      trial('c', 4, 0.7),
      trial('d', 4, 0.7),
      trial('e', 4, undefined, 'claimed'),
      trial('f', 8, undefined, 'failed'),
    ];
    expect(bestTrial(trials)?.key).toBe('c');
  });

  it('turns a study name into a key token', () => {
    expect(studyToken('temperature+instructions')).toBe('temperature_instructions');
    expect(studyToken('')).toBe('study');
  });
});

describe('the CLI progress bar', () => {
  it('shows the share done, the counts and the best score', () => {
    expect(progressBar({ done: 5, total: 20, best_score: null, status: 'running' }, 10)).toBe(
      '[###-------]  25% 5/20 best - running',
    );
    expect(progressBar({ done: 12, total: 20, best_score: 0.5, status: 'completed' }, 10)).toBe(
      '[##########] 100% 12/20 best 0.500 completed',
    );
  });
});
