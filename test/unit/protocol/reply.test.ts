import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { predictReplyOf } from '../../../src/protocol/reply.js';
import { PredictReplySchema } from '../../../src/protocol/schemas.js';

const value = fc.oneof(
  fc.anything(),
  fc.constantFrom(null, undefined, [], {}, NaN, Infinity, -1, -0, 0, 1.5, 'x', new Uint8Array(2)),
);

/** Replies that are right or nearly so: each field valid, missing or replaced by any value. */
const nearReply = fc.record(
  {
    outputs: fc.oneof(fc.dictionary(fc.string(), fc.anything()), value),
    worker: fc.oneof(fc.string(), value),
    latency_ms: fc.oneof(fc.double(), fc.nat(), value),
    usage: fc.oneof(fc.dictionary(fc.string(), fc.jsonValue()), value),
    extra: value,
  },
  { requiredKeys: [] },
);

describe('predictReplyOf', () => {
  it('accepts and returns exactly what PredictReplySchema accepts and returns', () => {
    fc.assert(
      fc.property(fc.oneof(nearReply, value), (v) => {
        const zod = PredictReplySchema.safeParse(v);
        const ours = predictReplyOf(v);
        expect(ours).toEqual(zod.success ? zod.data : undefined);
      }),
      { numRuns: 3000, seed: 13 },
    );
  });

  it('drops keys the schema does not name and keeps a reply without usage that way', () => {
    expect(predictReplyOf({ outputs: {}, worker: 'w', latency_ms: 0, id: 'x' })).toStrictEqual({
      outputs: {},
      worker: 'w',
      latency_ms: 0,
    });
    expect(predictReplyOf({ outputs: [], worker: 'w', latency_ms: 0 })).toBeUndefined();
    expect(predictReplyOf({ outputs: {}, worker: 'w', latency_ms: 1, usage: null })).toBeUndefined();
  });
});
