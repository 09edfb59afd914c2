/**
 * Bridges between field types and zod: schemas generated from a {@link TypeNode}, and the
 * {@link TypeNode} a user-supplied zod schema stands for (what DSPy is told the field is).
 */
import { z } from 'zod';
import { SignatureParseError } from '../errors.js';
import { DSPY_SCHEMAS } from './dspy-types.js';
import { makeUnion } from './format.js';
import { isOmittable } from './validate.js';
import {
  ANY,
  BOOL,
  FLOAT,
  INT,
  STR,
  assertNever,
  type FieldSpec,
  type LiteralValue,
  type TypeNode,
} from './types.js';

/** The zod schema equivalent to a field type. */
export function typeToZod(node: TypeNode): z.ZodType {
  switch (node.kind) {
    case 'str':
      return z.string();
    case 'int':
      return z.int();
    case 'float':
      return z.number();
    case 'bool':
      return z.boolean();
    case 'any':
      return z.unknown();
    case 'list':
      return z.array(typeToZod(node.item));
    case 'set': {
      const item = typeToZod(node.item);
      return z
        .array(item)
        .refine((items) => new Set(items.map((v) => JSON.stringify(v))).size === items.length, {
          message: 'expected distinct items (a set)',
        });
    }
    case 'tuple': {
      const items = node.items.map(typeToZod);
      return node.variadic ? z.array(items[0] as z.ZodType) : z.tuple(items as [z.ZodType, ...z.ZodType[]]);
    }
    case 'dspy':
      return DSPY_SCHEMAS[node.name];
    case 'dict':
      return z.record(z.string(), typeToZod(node.value));
    case 'optional':
      return typeToZod(node.inner).nullable();
    case 'literal':
      return z.literal(node.values.map((v) => v ?? null));
    case 'union':
      return z.union(node.members.map(typeToZod));
    default:
      return assertNever(node);
  }
}

/** A user-supplied zod schema per field name, kept because it may carry refinements. */
export type ZodOverrides = ReadonlyMap<string, z.ZodType>;

/** `z.strictObject` over the inputs: unknown keys are rejected, optional fields may be omitted. */
export function inputsSchema(fields: readonly FieldSpec[], overrides: ZodOverrides): z.ZodType {
  const shape: Record<string, z.ZodType> = {};
  for (const field of fields) {
    const schema = overrides.get(field.name) ?? typeToZod(field.type);
    shape[field.name] = isOmittable(field.type) ? schema.optional() : schema;
  }
  return z.strictObject(shape);
}

/** `z.object` over the outputs: every field present (`null` for optional ones), extra keys dropped. */
export function outputsSchema(fields: readonly FieldSpec[], overrides: ZodOverrides): z.ZodType {
  const shape: Record<string, z.ZodType> = {};
  for (const field of fields) shape[field.name] = overrides.get(field.name) ?? typeToZod(field.type);
  return z.object(shape);
}

/**
 * The field type DSPy is told about for a zod schema. `z.object(...)` becomes `dict[str, Any]`
 * (a string signature cannot name a pydantic model); the zod schema still validates it here.
 * @throws {SignatureParseError} for schemas with no DSPy counterpart (dates, sets, bigints, …).
 */
export function zodToType(schema: z.ZodType, fieldName: string): TypeNode {
  if (schema instanceof z.ZodString) return STR;
  if (schema instanceof z.ZodNumber) return schema.isInt ? INT : FLOAT;
  if (schema instanceof z.ZodBoolean) return BOOL;
  if (schema instanceof z.ZodUnknown || schema instanceof z.ZodAny) return ANY;
  if (schema instanceof z.ZodArray)
    return { kind: 'list', item: zodToType(schema.element as z.ZodType, fieldName) };
  if (schema instanceof z.ZodRecord) {
    if (!(schema.keyType instanceof z.ZodString)) unsupported(fieldName, 'a record with non-string keys');
    return { kind: 'dict', value: zodToType(schema.valueType as z.ZodType, fieldName) };
  }
  if (schema instanceof z.ZodObject) return { kind: 'dict', value: ANY };
  if (schema instanceof z.ZodTuple) {
    const items = (schema._zod.def.items as readonly z.ZodType[]).map((m) => zodToType(m, fieldName));
    if (items.length === 0 || schema._zod.def.rest !== null)
      unsupported(fieldName, 'a tuple with a rest or no items');
    return { kind: 'tuple', items, variadic: false };
  }
  if (schema instanceof z.ZodOptional || schema instanceof z.ZodNullable || schema instanceof z.ZodDefault) {
    const inner = zodToType(schema.unwrap() as z.ZodType, fieldName);
    return makeUnion([inner, null]) ?? inner;
  }
  if (schema instanceof z.ZodLiteral) return literalType([...schema.values], fieldName);
  if (schema instanceof z.ZodEnum) return literalType(schema.options, fieldName);
  if (schema instanceof z.ZodUnion) {
    const members = (schema.options as readonly z.ZodType[]).map((m) => zodToType(m, fieldName));
    return makeUnion(members) ?? ANY;
  }
  return unsupported(fieldName, `zod type '${schema._zod.def.type}'`);
}

function literalType(values: readonly unknown[], fieldName: string): TypeNode {
  const out: LiteralValue[] = [];
  for (const value of values) {
    const ok = value === null || ['string', 'number', 'boolean'].includes(typeof value);
    if (!ok) unsupported(fieldName, `a literal of type ${typeof value}`);
    if (typeof value === 'number' && value < 0) unsupported(fieldName, 'a negative literal');
    out.push(value as LiteralValue);
  }
  return { kind: 'literal', values: out };
}

function unsupported(fieldName: string, what: string): never {
  throw new SignatureParseError(
    fieldName,
    1,
    'a zod schema DSPy can express (string, number, int, boolean, array, tuple, record, literal, enum, union, optional, nullable, object, unknown)',
    `field '${fieldName}': ${what} has no DSPy signature type`,
  );
}
