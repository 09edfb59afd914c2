/**
 * The wire contract as JSON Schema, generated from the zod schemas: `npm run schemas` writes one file
 * per message type (the names of `messageSchemas`, as in `fixtures/protocol/`) to
 * `python/dspex_worker/schemas/`, where the Python worker validates with them. The unit suite
 * regenerates them in memory and fails on any difference, so the files never drift from the zod.
 *
 * Generated with `z.toJSONSchema` for draft-07 (what every Python validator reads) on the input side
 * (`io: "input"`: what a sender may put on the wire; a `.default()` makes a key optional).
 *
 * `z.toJSONSchema` silently drops refinements (`.refine`, `.superRefine`). Every refinement in a
 * message schema must be listed in {@link refinements}, the one place that names what JSON Schema
 * cannot say: either the JSON Schema expresses it anyway, or it becomes a `format` that the Python
 * side checks by hand (`HAND_CHECKS` in `python/dspex_worker/protocol.py`). An unlisted refinement
 * fails generation, naming the message and the path.
 */
import { z } from 'zod';
import { messageSchemas, ToolReplySchema } from './schemas.js';
import { SignatureTextSchema, TypeTextSchema } from './signature-text.js';
import { VarDefineRequestSchema, VarSetRequestSchema } from './variables.js';

/** One refinement that `z.toJSONSchema` drops, and what stands in for it in the JSON Schema. */
export interface Refinement {
  /** The schema whose own refinement this is (schemas derived from it with `.min()` etc. share it). */
  schema: z.ZodType;
  /** A `format` name put on the JSON Schema node; the Python side registers a check under this name. */
  format?: string;
  /** How the JSON Schema already expresses it, when it needs no `format`. */
  expressed?: string;
  /** What the refinement checks. */
  checks: string;
}

/** Every refinement in a message schema (see the module comment). */
export const refinements: readonly Refinement[] = [
  {
    schema: SignatureTextSchema,
    format: 'dspex-signature',
    checks: 'the signature grammar (src/signature/), with at least one output field',
  },
  {
    schema: TypeTextSchema,
    format: 'dspex-type',
    checks: 'one type of the signature grammar (a variable spec type)',
  },
  {
    schema: ToolReplySchema,
    expressed: '`required: ["result"]`: a z.unknown() key is required in the JSON Schema',
    checks: 'the `result` key is present (its value may be null)',
  },
  {
    schema: VarSetRequestSchema.shape.value,
    expressed: '`required: ["value"]`',
    checks: 'the `value` key is present',
  },
  {
    schema: VarDefineRequestSchema.shape.value,
    expressed: '`required: ["value"]`',
    checks: 'the `value` key is present',
  },
];

type Check = NonNullable<z.core.$ZodTypeDef['checks']>[number];

const customChecks = (schema: z.core.$ZodType): Check[] =>
  (schema._zod.def.checks ?? []).filter((c) => c._zod.def.check === 'custom');

/** The refinement a custom check belongs to, by identity (`.min()`, `.max()` copy the checks). */
function refinementOf(check: Check): Refinement | undefined {
  return refinements.find((r) => customChecks(r.schema).includes(check));
}

/** Where the generated files live, relative to the repository root. */
export const SCHEMA_DIR = 'python/dspex_worker/schemas';

/** The JSON Schema of one message type (`messageSchemas` key). */
export function messageJsonSchema(type: string, schema: z.ZodType): Record<string, unknown> {
  const json = z.toJSONSchema(schema, {
    target: 'draft-07',
    io: 'input',
    unrepresentable: 'throw',
    override: (ctx) => {
      for (const check of customChecks(ctx.zodSchema)) {
        const found = refinementOf(check);
        const where = `${type} at /${ctx.path.join('/')}`;
        if (found === undefined) {
          throw new Error(
            `${where}: a refinement z.toJSONSchema cannot express; list it in refinements ` +
              '(src/protocol/json-schema.ts) and check it by hand in python/dspex_worker/protocol.py',
          );
        }
        if (found.format !== undefined) ctx.jsonSchema.format = found.format;
      }
    },
  }) as Record<string, unknown>;
  const { $schema, ...rest } = json;
  return {
    $schema,
    $comment: 'Generated from src/protocol by `npm run schemas`; do not edit.',
    title: type,
    ...rest,
  };
}

/** Every generated file: name (`<type>.json`) → its text. */
export function renderJsonSchemas(): Map<string, string> {
  const files = new Map<string, string>();
  for (const [type, schema] of Object.entries(messageSchemas)) {
    files.set(`${type}.json`, `${JSON.stringify(messageJsonSchema(type, schema), null, 2)}\n`);
  }
  return files;
}
