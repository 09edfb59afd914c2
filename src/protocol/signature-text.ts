/**
 * Signature and type strings on the wire, parsed by the signature engine when a message is decoded:
 * every endpoint that carries one (predict, optimize.compile, pipeline stages, variable types)
 * answers 400 naming the field before any worker sees the text. Workers parse again with the same
 * grammar (`python/dspex_worker/signature_grammar.py`), since a raw NATS client may skip the node.
 */
import { z } from 'zod';
import { SignatureParseError } from '../errors.js';
import { parseSignature } from '../signature/memo.js';
import { parseTypeText } from '../signature/parser.js';

function addParseIssue(ctx: z.RefinementCtx, error: unknown): void {
  if (!(error instanceof SignatureParseError)) throw error;
  ctx.addIssue({
    code: 'custom',
    message: error.message,
    params: { column: error.column, expected: error.expected },
  });
}

/**
 * A DSPy signature string the engine parses, with at least one output field; the issue carries the
 * parser's message and `params: {column, expected}` (copied into the error reply's `details`).
 */
export const SignatureTextSchema = z.string().superRefine((text, ctx) => {
  try {
    if (parseSignature(text).outputs.length === 0) {
      ctx.addIssue({ code: 'custom', message: 'expected at least one output field' });
    }
  } catch (error) {
    addParseIssue(ctx, error);
  }
});

/** One type of the signature grammar (`float`, `list[str]`, `Literal['a', 'b']`, …). */
export const TypeTextSchema = z.string().superRefine((text, ctx) => {
  try {
    parseTypeText(text);
  } catch (error) {
    addParseIssue(ctx, error);
  }
});
