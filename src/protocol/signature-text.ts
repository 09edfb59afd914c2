/**
 * Signature and type strings on the wire, parsed by the signature engine when a message is decoded:
 * every endpoint that carries one (predict, optimize.compile, pipeline stages, variable types)
 * answers 400 naming the field before any worker sees the text. A decoded body carries the text in
 * its canonical form (docs/signatures.md), so workers are sent one spelling that their grammar
 * (`python/dspex_worker/signature_grammar.py`) reads to the same fields, whatever the caller wrote.
 * Workers parse again, since a raw NATS client may skip the node.
 */
import { z } from 'zod';
import { SignatureParseError } from '../errors.js';
import { canonicalSignature, parseSignature } from '../signature/memo.js';
import { formatType } from '../signature/format.js';
import { parseTypeText } from '../signature/parser.js';

function addParseIssue(ctx: z.RefinementCtx, error: unknown): void {
  if (!(error instanceof SignatureParseError)) throw error;
  ctx.addIssue({
    code: 'custom',
    message: error.message,
    params: {
      column: error.column,
      expected: error.expected,
      ...(error.refusal !== undefined && { refusal: error.refusal }),
    },
  });
}

/** The canonical text of what parsed (after the refinement reported what did not). */
function orUnchanged(text: string, canonical: (text: string) => string): string {
  try {
    return canonical(text);
  } catch {
    return text;
  }
}

/**
 * A DSPy signature string the engine parses, with at least one output field, decoded to its
 * canonical text; the issue carries the parser's message and `params: {column, expected, refusal?}`
 * (copied into the error reply's `details`).
 */
export const SignatureTextSchema = z
  .string()
  .superRefine((text, ctx) => {
    try {
      if (parseSignature(text).outputs.length === 0) {
        ctx.addIssue({ code: 'custom', message: 'expected at least one output field' });
      }
    } catch (error) {
      addParseIssue(ctx, error);
    }
  })
  .overwrite((text) => orUnchanged(text, canonicalSignature));

/** One type of the signature grammar (`float`, `list[str]`, `Literal['a', 'b']`, …), decoded to its canonical text. */
export const TypeTextSchema = z
  .string()
  .superRefine((text, ctx) => {
    try {
      parseTypeText(text);
    } catch (error) {
      addParseIssue(ctx, error);
    }
  })
  .overwrite((text) => orUnchanged(text, (t) => formatType(parseTypeText(t))));
