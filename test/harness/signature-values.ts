/**
 * Valid wire values of a signature's types, as fast-check arbitraries: what a caller may send as
 * `inputs` (docs/signatures.md: JSON values; sets and tuples as arrays; DSPy's types in their wire
 * forms). An optional field is sometimes left out.
 */
import fc from 'fast-check';
import type { FieldSpec, TypeNode } from '../../src/signature/types.js';

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const text = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 8 }).filter((s) => !LONE_SURROGATE.test(s)),
);
const json: fc.Arbitrary<unknown> = fc
  .jsonValue({ maxDepth: 2 })
  .map((v) => JSON.parse(JSON.stringify(v)) as unknown);
const base64 = fc.base64String({ maxLength: 24 });
const record = fc.dictionary(fc.string({ maxLength: 6 }), json, { maxKeys: 3 });

const dspyValues: Record<string, fc.Arbitrary<unknown>> = {
  Image: fc.oneof(
    fc.webUrl({ validSchemes: ['https', 'http'] }).filter((u) => /^[\x21-\x7e]+$/.test(u) && u.length < 8192),
    fc.constantFrom('gs://bucket/cat.png'),
    fc.tuple(fc.constantFrom('png', 'jpeg', 'webp'), base64).map(([t, b]) => `data:image/${t};base64,${b}`),
  ),
  Audio: fc
    .tuple(fc.constantFrom('wav', 'mp3', 'x-wav'), base64)
    .map(([t, b]) => `data:audio/${t};base64,${b}`),
  File: fc.oneof(
    fc.record(
      { file_data: base64.map((b) => `data:application/pdf;base64,${b}`), filename: fc.constant('a.pdf') },
      { requiredKeys: ['file_data'] },
    ),
    fc.record({ file_id: fc.constantFrom('file-1', 'file-abc') }),
  ),
  History: fc.record({
    messages: fc.array(fc.dictionary(fc.constantFrom('q', 'question', 'answer', 'a'), text, { maxKeys: 2 }), {
      maxLength: 3,
    }),
  }),
  Tool: fc.record(
    {
      name: fc.stringMatching(/^[A-Za-z0-9_-]{1,16}$/),
      description: text,
      parameters: fc.constant({ type: 'object', properties: { q: { type: 'string' } } }),
    },
    { requiredKeys: ['name'] },
  ),
  ToolCalls: fc.record({
    tool_calls: fc.array(fc.record({ name: fc.stringMatching(/^[a-z_]{1,12}$/), args: record }), {
      maxLength: 2,
    }),
  }),
  Code: text,
  Reasoning: text,
};

/** A valid value of `node`. */
export function valueOf(node: TypeNode, depth = 0): fc.Arbitrary<unknown> {
  switch (node.kind) {
    case 'str':
      return text;
    case 'int':
      return fc.integer({ min: -1e9, max: 1e9 });
    case 'float':
      return fc.double({ noNaN: true, noDefaultInfinity: true });
    case 'bool':
      return fc.boolean();
    case 'any':
      return json;
    case 'list':
      return fc.array(valueOf(node.item, depth + 1), { maxLength: depth > 2 ? 1 : 3 });
    case 'set':
      return fc.uniqueArray(valueOf(node.item, depth + 1), {
        maxLength: 3,
        selector: (v) => JSON.stringify(v),
      });
    case 'tuple':
      return node.variadic
        ? fc.array(valueOf(node.items[0] as TypeNode, depth + 1), { maxLength: 3 })
        : fc.tuple(...node.items.map((t) => valueOf(t, depth + 1)));
    case 'dict':
      return fc.dictionary(fc.string({ maxLength: 6 }), valueOf(node.value, depth + 1), { maxKeys: 3 });
    case 'optional':
      return fc.oneof(fc.constant(null), valueOf(node.inner, depth));
    case 'literal':
      return fc.constantFrom(...node.values);
    case 'union':
      return fc.oneof(...node.members.map((m) => valueOf(m, depth)));
    case 'dspy':
      return dspyValues[node.name] as fc.Arbitrary<unknown>;
  }
}

/** Valid `inputs` for the given input fields; an optional (or Any) field is sometimes left out. */
export function inputsFor(fields: readonly FieldSpec[]): fc.Arbitrary<Record<string, unknown>> {
  const entries = fields.map((f) => {
    const omittable = f.type.kind === 'optional' || f.type.kind === 'any';
    const value = omittable ? fc.option(valueOf(f.type), { nil: undefined }) : valueOf(f.type);
    return fc.tuple(fc.constant(f.name), value);
  });
  return fc.tuple(...entries).map((pairs) => Object.fromEntries(pairs.filter(([, v]) => v !== undefined)));
}
