/**
 * `signature()`: the typed, validated signature built from a DSPy string or an object of zod
 * schemas / type strings, and the helpers that derive new signatures from it.
 */
import type { z } from 'zod';
import { SignatureParseError, ValidationError } from '../errors.js';
import { preview } from '../errors.js';
import { LRUCache } from 'lru-cache';
import { parseSignature } from './memo.js';
import { formatSignature, formatType } from './format.js';
import { fieldNameProblem } from './names.js';
import { parseTypeText } from './parser.js';
import { placementProblem } from './rules.js';
import { Refusal } from './refusals.js';
import type { CheckedSignature, ParseSignatureString, ParseTypeString, Simplify } from './type-level.js';
import { containsDspy, type FieldSpec, type TypeNode } from './types.js';
import {
  accepts,
  checkValue,
  coerceValue,
  describeType,
  describeValue,
  isOmittable,
  isPlainObject,
} from './validate.js';
import { inputsSchema, outputsSchema, zodToType, type ZodOverrides } from './zod.js';

/** One field of the object form: a zod schema, a type string (`'list[str]'`), or either with a description. */
export type FieldDefinition =
  | z.ZodType
  | string
  | { readonly type: z.ZodType | string; readonly desc?: string; readonly description?: string };

/** The object form of a signature. Key order is field order. */
export interface SignatureDefinition {
  readonly instructions?: string;
  readonly inputs: Readonly<Record<string, FieldDefinition>>;
  readonly outputs: Readonly<Record<string, FieldDefinition>>;
}

/** The TypeScript type of one {@link FieldDefinition}. */
export type InferFieldDefinition<D> = D extends z.ZodType
  ? z.output<D>
  : D extends string
    ? ParseTypeString<D>
    : D extends { readonly type: infer T }
      ? InferFieldDefinition<T>
      : unknown;

type MayBeOmitted<V> = null extends V ? true : undefined extends V ? true : false;
type DefinitionInputs<F> = Simplify<
  {
    -readonly [
      K in keyof F as MayBeOmitted<InferFieldDefinition<F[K]>> extends true ? never : K
    ]: InferFieldDefinition<F[K]>;
  } & {
    -readonly [
      K in keyof F as MayBeOmitted<InferFieldDefinition<F[K]>> extends true ? K : never
    ]?: InferFieldDefinition<F[K]>;
  }
>;
type DefinitionOutputs<F> = Simplify<{ -readonly [K in keyof F]: InferFieldDefinition<F[K]> }>;

/** JSON form of a signature for the wire: DSPy's string plus what a string cannot carry. */
export interface SignatureJSON {
  signature: string;
  instructions?: string;
  /** Field descriptions by field name (DSPy's `desc`). */
  descriptions?: Record<string, string>;
}

/** A parsed, typed signature. `I` and `O` are the input and output object types. */
export interface Signature<I = Record<string, unknown>, O = Record<string, unknown>> {
  readonly instructions: string | undefined;
  readonly inputs: readonly FieldSpec[];
  readonly outputs: readonly FieldSpec[];
  /** Strict object schema of the inputs: unknown keys are rejected, optional fields may be omitted. */
  readonly inputSchema: z.ZodType<I>;
  /** Object schema of the outputs (after {@link Signature.parseOutputs} coercion). */
  readonly outputSchema: z.ZodType<O>;
  /**
   * Checks caller inputs strictly and returns them typed.
   * @throws {ValidationError} with `field` like `inputs.question` and a message like `expected string, got integer`.
   */
  validateInputs(value: unknown): I;
  /**
   * Checks outputs from Python or an LLM, coercing unambiguous text (`"0.9"` → 0.9, `"true"` → true,
   * JSON text for lists and dicts); returns only the declared fields, `null` for missing optional ones.
   * @throws {ValidationError} with `field` like `outputs.confidence`.
   */
  parseOutputs(value: unknown): O;
  /** A string `dspy.Signature(...)` parses to the same fields (types in canonical Python spelling). */
  toString(): string;
  toJSON(): SignatureJSON;
  /** A copy with other instructions. */
  withInstructions(instructions: string): Signature<I, O>;
  /** A copy with extra outputs placed before the existing ones (as ChainOfThought adds `reasoning`). */
  prependOutputs<const F extends Readonly<Record<string, FieldDefinition>>>(
    fields: F,
  ): Signature<I, Simplify<DefinitionOutputs<F> & O>>;
}

/** The input type of a {@link Signature} or of a signature string literal. */
export type InferInputs<S> =
  S extends Signature<infer I, unknown> ? I : S extends string ? InputsOf<S> : never;
/** The output type of a {@link Signature} or of a signature string literal. */
export type InferOutputs<S> =
  S extends Signature<unknown, infer O> ? O : S extends string ? OutputsOf<S> : never;

type InputsOf<S extends string> = ParseSignatureString<S> extends { inputs: infer I } ? I : never;
type OutputsOf<S extends string> = ParseSignatureString<S> extends { outputs: infer O } ? O : never;

interface SignatureParts {
  instructions: string | undefined;
  inputs: readonly FieldSpec[];
  outputs: readonly FieldSpec[];
  overrides: ZodOverrides;
}

class TypedSignature<I, O> implements Signature<I, O> {
  readonly instructions: string | undefined;
  readonly inputs: readonly FieldSpec[];
  readonly outputs: readonly FieldSpec[];
  private readonly overrides: ZodOverrides;
  private readonly inputNames: ReadonlySet<string>;
  private schemas: { input: z.ZodType; output: z.ZodType } | undefined;

  constructor(parts: SignatureParts) {
    this.instructions = parts.instructions;
    this.inputs = parts.inputs;
    this.outputs = parts.outputs;
    this.overrides = parts.overrides;
    this.inputNames = new Set(parts.inputs.map((f) => f.name));
  }

  // Built on first use: per-request signatures that are only validated never pay for zod.
  private get builtSchemas(): { input: z.ZodType; output: z.ZodType } {
    this.schemas ??= {
      input: inputsSchema(this.inputs, this.overrides),
      output: outputsSchema(this.outputs, this.overrides),
    };
    return this.schemas;
  }
  get inputSchema(): z.ZodType<I> {
    return this.builtSchemas.input as z.ZodType<I>;
  }
  get outputSchema(): z.ZodType<O> {
    return this.builtSchemas.output as z.ZodType<O>;
  }

  validateInputs(value: unknown): I {
    if (!isPlainObject(value))
      throw new ValidationError('inputs', `expected object, got ${describeValue(value)}`);
    for (const key in value) {
      // The key is request content: named by a short printable preview only.
      if (!this.inputNames.has(key)) throw new ValidationError(`inputs.${preview(key)}`, 'unexpected field');
    }
    let result: Record<string, unknown> | undefined;
    for (const field of this.inputs) {
      const raw = value[field.name];
      const schema = this.overrides.get(field.name);
      if (schema !== undefined) {
        (result ??= { ...value })[field.name] = runZod(schema, raw, `inputs.${field.name}`);
      } else if (!accepts(field.type, raw) && (raw !== undefined || !isOmittable(field.type))) {
        // Only now build the paths that say where the mismatch is.
        checkValue(field.type, raw, `inputs.${field.name}`);
      }
    }
    return (result ?? value) as I;
  }

  parseOutputs(value: unknown): O {
    const source = typeof value === 'string' && value.trimStart().startsWith('{') ? parseJson(value) : value;
    if (!isPlainObject(source))
      throw new ValidationError('outputs', `expected object, got ${describeValue(value)}`);
    const result: Record<string, unknown> = {};
    for (const field of this.outputs) {
      const path = `outputs.${field.name}`;
      const raw = source[field.name];
      if (raw === undefined && !isOmittable(field.type)) {
        throw new ValidationError(path, `expected ${describeType(field.type)}, got undefined`);
      }
      const schema = this.overrides.get(field.name);
      if (schema === undefined) {
        result[field.name] = coerceValue(field.type, raw, path);
      } else {
        let coerced: unknown = raw;
        try {
          coerced = coerceValue(field.type, raw, path);
        } catch {
          // Let the user's schema report the problem in its own terms.
        }
        result[field.name] = runZod(schema, coerced, path);
      }
    }
    return result as O;
  }

  toString(): string {
    return formatSignature(this);
  }

  toJSON(): SignatureJSON {
    const json: SignatureJSON = { signature: this.toString() };
    if (this.instructions !== undefined) json.instructions = this.instructions;
    const described = [...this.inputs, ...this.outputs].filter((f) => f.description !== undefined);
    if (described.length > 0) {
      json.descriptions = Object.fromEntries(described.map((f) => [f.name, f.description ?? '']));
    }
    return json;
  }

  withInstructions(instructions: string): Signature<I, O> {
    return new TypedSignature<I, O>({ ...this.parts(), instructions });
  }

  prependOutputs<const F extends Readonly<Record<string, FieldDefinition>>>(
    fields: F,
  ): Signature<I, Simplify<DefinitionOutputs<F> & O>> {
    const added = buildFields(fields, 'output');
    const parts = this.parts();
    const overrides = new Map([...parts.overrides, ...added.overrides]);
    checkDistinct([...parts.inputs, ...added.fields, ...parts.outputs]);
    return new TypedSignature({ ...parts, outputs: [...added.fields, ...parts.outputs], overrides });
  }

  private parts(): SignatureParts {
    return {
      instructions: this.instructions,
      inputs: this.inputs,
      outputs: this.outputs,
      overrides: this.overrides,
    };
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function runZod(schema: z.ZodType, value: unknown, path: string): unknown {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const suffix = (issue?.path ?? [])
    .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
    .join('');
  throw new ValidationError(`${path}${suffix}`, issue?.message ?? 'invalid value', { cause: parsed.error });
}

function buildFields(
  definitions: Readonly<Record<string, FieldDefinition>>,
  role: FieldSpec['role'],
): { fields: FieldSpec[]; overrides: Map<string, z.ZodType> } {
  const fields: FieldSpec[] = [];
  const overrides = new Map<string, z.ZodType>();
  let historySeen = false;
  for (const [name, definition] of Object.entries(definitions)) {
    const problem = fieldNameProblem(name);
    if (problem !== undefined) {
      throw new SignatureParseError(name, 1, problem, `field '${name}': expected ${problem}`);
    }
    const isWrapped = typeof definition === 'object' && 'type' in definition && !isZodSchema(definition);
    const spec = isWrapped ? definition.type : definition;
    const description = isWrapped ? (definition.desc ?? definition.description) : undefined;
    let type: TypeNode;
    let zodDescription: string | undefined;
    if (typeof spec === 'string') {
      type = parseFieldType(name, spec);
    } else {
      type = zodToType(spec, name);
      overrides.set(name, spec);
      zodDescription = spec.description;
    }
    const misplaced = placementProblem(type, role, historySeen);
    if (misplaced !== undefined) {
      throw new SignatureParseError(
        name,
        1,
        misplaced,
        `field '${name}': expected ${misplaced}`,
        Refusal.DspyPlacement,
      );
    }
    historySeen ||= containsDspy(type, 'History');
    const field: FieldSpec = { name, role, type, typeText: formatType(type) };
    const desc = description ?? zodDescription;
    fields.push(desc === undefined ? field : { ...field, description: desc });
  }
  return { fields, overrides };
}

function isZodSchema(value: unknown): value is z.ZodType {
  return typeof value === 'object' && value !== null && '_zod' in value;
}

function parseFieldType(name: string, text: string): TypeNode {
  try {
    return parseTypeText(text);
  } catch (error) {
    if (!(error instanceof SignatureParseError)) throw error;
    throw new SignatureParseError(
      text,
      error.column,
      error.expected,
      `field '${name}': type column ${error.column}: expected ${error.expected}`,
    );
  }
}

function checkDistinct(fields: readonly FieldSpec[]): void {
  const seen = new Set<string>();
  for (const field of fields) {
    if (seen.has(field.name)) {
      throw new SignatureParseError(
        field.name,
        1,
        'a field name not already used',
        `field '${field.name}' appears twice (names must be distinct across inputs and outputs)`,
      );
    }
    seen.add(field.name);
  }
}

const stringMemo = new LRUCache<string, Signature>({ max: 256 });

/**
 * Builds a typed signature from a DSPy signature string (types inferred at compile time) or from
 * an object of zod schemas, type strings or `{type, desc}` entries.
 *
 * @example
 * ```ts
 * const qa = signature('question: str, context: str -> answer: str, confidence: float');
 * const inputs = qa.validateInputs(body); // { question: string; context: string }
 * const out = qa.parseOutputs({ answer: 'Paris', confidence: '0.9' }); // confidence: 0.9
 *
 * const cls = signature({
 *   instructions: 'Classify the sentiment.',
 *   inputs: { text: z.string().describe('the review') },
 *   outputs: { label: "Literal['pos', 'neg']", score: { type: 'float', desc: '0..1' } },
 * });
 * ```
 * @throws {SignatureParseError} for a malformed string (with its column) or definition.
 */
export function signature<const S extends string>(
  text: CheckedSignature<S>,
  options?: { instructions?: string },
): Signature<InputsOf<S>, OutputsOf<S>>;
export function signature<const D extends SignatureDefinition>(
  definition: D,
): Signature<DefinitionInputs<D['inputs']>, DefinitionOutputs<D['outputs']>>;
export function signature(
  source: string | SignatureDefinition | object,
  options: { instructions?: string } = {},
): Signature {
  if (typeof source === 'string') {
    if (options.instructions === undefined) {
      const cached = stringMemo.get(source);
      if (cached !== undefined) return cached;
    }
    const parsed = parseSignature(source);
    const built = new TypedSignature<Record<string, unknown>, Record<string, unknown>>({
      instructions: options.instructions,
      inputs: parsed.inputs,
      outputs: parsed.outputs,
      overrides: new Map(),
    });
    if (options.instructions === undefined) stringMemo.set(source, built);
    return built;
  }
  const definition = source as SignatureDefinition;
  const inputs = buildFields(definition.inputs, 'input');
  const outputs = buildFields(definition.outputs, 'output');
  checkDistinct([...inputs.fields, ...outputs.fields]);
  return new TypedSignature<Record<string, unknown>, Record<string, unknown>>({
    instructions: definition.instructions,
    inputs: inputs.fields,
    outputs: outputs.fields,
    overrides: new Map([...inputs.overrides, ...outputs.overrides]),
  });
}

/** The signature with a `reasoning: str` output first, as `dspy.ChainOfThought` builds it. */
export function withReasoning<I, O>(sig: Signature<I, O>): Signature<I, Simplify<{ reasoning: string } & O>> {
  return sig.prependOutputs({ reasoning: 'str' });
}
