import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DspexError } from '../../../src/errors.js';
import { isName, NAME_PATTERN, NameKind, nameMax, nameSchema, preview } from '../../../src/protocol/names.js';
import { CompileRequestSchema } from '../../../src/protocol/optimize.js';
import { PipelineRunRequestSchema } from '../../../src/protocol/pipelines.js';
import { parseMessage, PredictRequestSchema, WorkerHeartbeatSchema } from '../../../src/protocol/schemas.js';
import { SessionIdRequestSchema } from '../../../src/protocol/sessions.js';
import { VarGetRequestSchema } from '../../../src/protocol/variables.js';
import { resolveConfig } from '../../../src/runtime/config.js';
import { hostileString, hugeToken, repeatToken } from '../../harness/hostile.js';

const kinds = Object.values(NameKind);
const validName = (max: number) => fc.stringMatching(new RegExp(`^[A-Za-z0-9_-]{1,${max}}$`));
/** Strings that are not names: wrong characters, empty, or one character too many and beyond. */
const invalidName = (max: number) =>
  fc.oneof(
    hostileString.filter((s) => !NAME_PATTERN.test(s)),
    fc.constant(''),
    fc.integer({ min: max + 1, max: max + 5000 }).map((n) => 'a'.repeat(n)),
    fc.tuple(validName(10), fc.constantFrom('.', '*', '>', ' ', '\n', '/', '=', 'é')).map(([a, b]) => a + b),
  );

describe('names', () => {
  it.each(kinds)('accepts exactly the %s names of the documented charset and length', (kind) => {
    const schema = nameSchema(kind);
    fc.assert(
      fc.property(validName(nameMax[kind]), (name) => {
        expect(schema.safeParse(name).success).toBe(true);
        expect(isName(kind, name)).toBe(true);
      }),
      { seed: 1 },
    );
    fc.assert(
      fc.property(invalidName(nameMax[kind]), (name) => {
        const result = schema.safeParse(name);
        expect(result.success).toBe(false);
        expect(isName(kind, name)).toBe(false);
        // The message states the rule, never the value.
        const message = result.error!.issues[0]!.message;
        expect(message).toBe(`expected 1-${nameMax[kind]} letters, digits, "_" or "-"`);
      }),
      { seed: 2 },
    );
  });

  it('caps every kind at 64 except variable names and session ids (128, as documented)', () => {
    for (const kind of kinds) {
      expect(nameMax[kind]).toBe(kind === 'variable' || kind === 'session' ? 128 : 64);
    }
  });

  it('is checked in every wire schema where a request string becomes a subject token or key', () => {
    const bad = (s: string) => ({
      predictPool: () =>
        PredictRequestSchema.safeParse({ module: 'Predict', signature: 'a -> b', inputs: {}, pool: s }),
      predictSession: () =>
        PredictRequestSchema.safeParse({ module: 'Predict', signature: 'a -> b', inputs: {}, session: s }),
      compilePool: () =>
        CompileRequestSchema.safeParse({
          optimizer: 'BootstrapFewShot',
          signature: 'a -> b',
          trainset: [{ a: 1 }],
          metric: { name: 'exact_match' },
          pool: s,
        }),
      compileRun: () =>
        CompileRequestSchema.safeParse({
          optimizer: 'BootstrapFewShot',
          signature: 'a -> b',
          trainset: [{ a: 1 }],
          metric: { name: 'exact_match' },
          run_id: s,
        }),
      stagePool: () =>
        PipelineRunRequestSchema.safeParse({
          pipeline: {
            name: 'p',
            stages: [{ id: 's', kind: 'predict', module: 'Predict', signature: 'a -> b', pool: s }],
          },
        }),
      runId: () =>
        PipelineRunRequestSchema.safeParse({
          pipeline: { name: 'p', stages: [{ id: 's', kind: 'transform', op: 'identity' }] },
          run_id: s,
        }),
      variable: () => VarGetRequestSchema.safeParse({ name: s }),
      session: () => SessionIdRequestSchema.safeParse({ id: s }),
      heartbeatPool: () =>
        WorkerHeartbeatSchema.safeParse({
          id: 'w',
          pool: s,
          host: 'h',
          pid: 1,
          state: 'ready',
          inflight: 0,
          concurrency: 1,
          calls: 0,
          rss_bytes: 0,
          started_at: 0,
          ts: 0,
          heartbeat_ms: 1000,
          version: '1',
          lm: 'dummy',
        }),
    });
    fc.assert(
      fc.property(fc.oneof(hugeToken.map(repeatToken), invalidName(128)), (s) => {
        for (const [where, check] of Object.entries(bad(s))) {
          expect(check().success, `${where} accepted ${preview(s)}`).toBe(false);
        }
      }),
      { numRuns: 200, seed: 3 },
    );
    expect(() => resolveConfig({ pools: { ['p'.repeat(65)]: { size: 0 } } })).toThrow(/pools/);
  });

  it('names the field and echoes at most a short printable preview in a 400', () => {
    fc.assert(
      fc.property(hostileString, fc.integer({ min: 0, max: 20_000 }), (junk, n) => {
        const key = junk + 'k'.repeat(n);
        try {
          parseMessage(
            PipelineRunRequestSchema,
            { pipeline: { name: 'p', stages: [], [key]: 1 } },
            'pipeline.run',
          );
          expect.unreachable();
        } catch (error) {
          expect(error).toBeInstanceOf(DspexError);
          expect((error as DspexError).message.length).toBeLessThan(400);
          // eslint-disable-next-line no-control-regex -- the property is about control characters
          expect(/[\u0000-\u001f]/.test((error as DspexError).message)).toBe(false);
        }
      }),
      { numRuns: 300, seed: 4 },
    );
  });

  it('previews values shortly and printably', () => {
    expect(preview('Predict\nX')).toBe('Predict?X');
    expect(preview('a'.repeat(100))).toBe(`${'a'.repeat(32)}… (100 characters)`);
  });
});
