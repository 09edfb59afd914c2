/**
 * Issue 16: whatever signature the node accepts, a real worker accepts with the same fields.
 * Signatures generated across the whole grammar (test/harness/signature-gen.ts), with inputs
 * generated for their input fields (test/harness/signature-values.ts), go to `dspex.rpc.predict` of a
 * node with real DSPy workers on the dummy LM, in msgpack, as any client would send them. The node's
 * own verdict is computed beside it with the node's code (decode + preparePredict). Counted: node
 * refused (must be a 4xx from the node), node accepted and worker answered (outputs checked against
 * the signature by the TS engine), node accepted and worker refused (must be 0), an output no text LM
 * can answer (a Literal of blank-edged strings only: DSPy strips answers; docs/signatures.md), anything
 * else (must be 0).
 */
import { type NatsConnection } from '@nats-io/nats-core';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isDspexError } from '../../src/errors.js';
import { decode, encode, Encoding } from '../../src/protocol/codec.js';
import { parseMessage, PredictRequestSchema } from '../../src/protocol/schemas.js';
import { preparePredict } from '../../src/modules/prepare-predict.js';
import { parseSignatureUncached } from '../../src/signature/parser.js';
import { signature, withReasoning } from '../../src/signature/signature.js';
import type { TypeNode } from '../../src/signature/types.js';
import { client } from '../harness/nats.js';
import { sharedNode } from '../harness/shared-node.js';
import { nearMiss, wellFormed, withOneRefusal } from '../harness/signature-gen.js';
import { inputsFor } from '../harness/signature-values.js';
import type { Reply } from '../harness/wire.js';

const GENERATED = 1000;

// Mostly text the node accepts: the property is about what happens to it on a worker.
const texts = fc.oneof(wellFormed, wellFormed, wellFormed, withOneRefusal, nearMiss);
const cases = fc.tuple(texts, fc.constantFrom('Predict', 'ChainOfThought')).chain(([text, module]) => {
  try {
    const parsed = parseSignatureUncached(text);
    return inputsFor(parsed.inputs).map((inputs) => ({ text, module, inputs }));
  } catch {
    return fc.constant({ text, module, inputs: {} });
  }
});

/** Python's `str.strip()` set (`isspace()`): DSPy's text adapters strip every answer with it. */
const PY_SPACES = new Set(
  [9, 10, 11, 12, 13, 28, 29, 30, 31, 32, 0x85, 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000]
    .concat(Array.from({ length: 11 }, (_, i) => 0x2000 + i))
    .map((cp) => String.fromCodePoint(cp)),
);
const blankEdged = (v: string): boolean =>
  v === '' || PY_SPACES.has(v[0] as string) || PY_SPACES.has(v.at(-1) as string);

/**
 * Whether an output is a Literal with only string options a text answer cannot carry (blank, or
 * with surrounding whitespace, which DSPy strips): no LM, the dummy included, can answer it.
 */
function unanswerable(node: TypeNode): boolean {
  switch (node.kind) {
    case 'literal':
      return node.values.every((v) => typeof v === 'string' && blankEdged(v));
    case 'list':
    case 'set':
      return unanswerable(node.item);
    case 'optional':
      return unanswerable(node.inner);
    case 'union':
      return unanswerable(node.members[0] as TypeNode);
    case 'tuple':
      return node.items.some(unanswerable);
    case 'dict':
    case 'str':
    case 'int':
    case 'float':
    case 'bool':
    case 'any':
    case 'dspy':
      return false;
  }
}

/** What the node does with the body before any worker sees it: undefined when it accepts. */
function nodeRefusal(body: unknown): number | undefined {
  try {
    preparePredict(parseMessage(PredictRequestSchema, body, 'predict'));
    return undefined;
  } catch (error) {
    if (isDspexError(error)) return error.status;
    throw error;
  }
}

describe('signatures the node accepts, through a real worker', () => {
  let nc: NatsConnection & AsyncDisposable;
  const counts = {
    generated: 0,
    nodeRefused: 0,
    nodeAccepted: 0,
    workerAnswered: 0,
    workerRefused: 0,
    /** 502: an output Literal whose only options are blank-edged strings (DSPy strips answers). */
    unanswerableLiteral: 0,
  };
  const other = new Map<string, number>();
  const samples: string[] = [];

  beforeAll(async () => {
    nc = await client((await sharedNode()).url);
  }, 180_000);
  afterAll(async () => {
    console.log(
      `node-accepts-implies-worker-accepts: ${JSON.stringify(counts)}, other outcomes ${JSON.stringify(Object.fromEntries(other))}` +
        (samples.length > 0 ? `\n  e.g. ${samples.slice(0, 5).join('\n  e.g. ')}` : ''),
    );
    await nc?.close();
  });

  it('never has a worker refuse what the node accepted, and checks every answer against the signature', async () => {
    await fc.assert(
      fc.asyncProperty(cases, async ({ text, module, inputs }) => {
        counts.generated++;
        const body = { module, signature: text, inputs };
        const refusal = nodeRefusal(body);
        const msg = await nc.request('dspex.rpc.predict', encode(body, Encoding.Msgpack), {
          timeout: 60_000,
        });
        const status = Number(msg.headers?.get('Nats-Service-Error-Code') || 0);
        const reply = decode(msg.data, Encoding.Msgpack) as Reply;
        if (refusal !== undefined) {
          counts.nodeRefused++;
          expect(status, text).toBe(refusal);
          return;
        }
        counts.nodeAccepted++;
        if (status === 400 || status === 422) {
          counts.workerRefused++;
          samples.push(
            `${JSON.stringify(text)} ${JSON.stringify(inputs).slice(0, 200)}: ${reply.error?.message}`,
          );
          return;
        }
        if (status === 502 && parseSignatureUncached(text).outputs.some((f) => unanswerable(f.type))) {
          counts.unanswerableLiteral++;
          return;
        }
        if (status !== 0) {
          other.set(
            `${status} ${reply.error?.code ?? ''}`,
            (other.get(`${status} ${reply.error?.code ?? ''}`) ?? 0) + 1,
          );
          samples.push(`${JSON.stringify(text)}: ${status} ${reply.error?.message}`);
          return;
        }
        counts.workerAnswered++;
        const sig = signature(text);
        const answering = module === 'ChainOfThought' ? withReasoning(sig) : sig;
        const outputs = reply.outputs as Record<string, unknown>;
        expect(Object.keys(outputs).sort(), text).toEqual(answering.outputs.map((f) => f.name).sort());
        answering.parseOutputs(outputs);
      }),
      { numRuns: GENERATED, seed: 16 },
    );
    expect(counts.generated).toBe(GENERATED);
    expect(counts.nodeAccepted).toBeGreaterThan(GENERATED * 0.4);
    expect(counts.workerRefused, samples.join('\n')).toBe(0);
    expect(Object.fromEntries(other), samples.join('\n')).toEqual({});
    expect(counts.workerAnswered + counts.unanswerableLiteral).toBe(counts.nodeAccepted);
  }, 600_000);
});
