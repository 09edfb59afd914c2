import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DspexError } from '../../../src/errors.js';
import {
  decode,
  encode,
  Encoding,
  MAX_REQUEST_DEPTH,
  nestedDeeperThan,
} from '../../../src/protocol/codec.js';

/** A value whose lists and maps nest exactly `depth` levels, along one path among siblings. */
const nested = (depth: number, asMap: (level: number) => boolean): unknown => {
  let v: unknown = 'leaf';
  for (let i = 0; i < depth; i++) v = asMap(i) ? { a: 1, k: v, b: 'x' } : [0, v, null];
  return v;
};

describe('nesting depth', () => {
  it('is measured exactly, for lists and maps mixed', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 1, max: 300 }),
        fc.boolean(),
        (depth, max, flip) => {
          const v = nested(depth, (i) => (i % 2 === 0) === flip);
          expect(nestedDeeperThan(v, max)).toBe(depth > max);
        },
      ),
      { seed: 31 },
    );
  });

  it('refuses a request body nested deeper than the limit with a 400 on body, in both encodings', () => {
    for (const encoding of [Encoding.Json, Encoding.Msgpack]) {
      const ok = encode(
        nested(MAX_REQUEST_DEPTH, () => true),
        encoding,
      );
      expect(() => decode(ok, encoding, MAX_REQUEST_DEPTH)).not.toThrow();
      const deep = encode(
        nested(200, (i) => i % 3 === 0),
        encoding,
      );
      const error = (() => {
        try {
          decode(deep, encoding, MAX_REQUEST_DEPTH);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(error).toBeInstanceOf(DspexError);
      expect(error).toMatchObject({
        code: 'bad_request',
        details: { field: 'body', limit: MAX_REQUEST_DEPTH },
      });
    }
  });

  it('never overflows the stack, even on a body that is all nesting', () => {
    // 500,000 nested one-element lists in msgpack: the decoder's own limit answers 400.
    const bytes = new Uint8Array(500_001).fill(0x91);
    bytes[500_000] = 0xc0;
    expect(() => decode(bytes, Encoding.Msgpack, MAX_REQUEST_DEPTH)).toThrow(DspexError);
    const json = new TextEncoder().encode('['.repeat(200_000) + ']'.repeat(200_000));
    expect(() => decode(json, Encoding.Json, MAX_REQUEST_DEPTH)).toThrow(DspexError);
  });
});
