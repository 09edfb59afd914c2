import { isDeepStrictEqual } from 'node:util';
import type { z } from 'zod';
import { DspexError, ErrorCode, ValidationError } from '../errors.js';
import type { VarConstraints, VarSpec } from '../protocol/variables.js';
import { parseTypeText, typeToZod } from '../signature/index.js';

/** A check of a candidate value; returns a message when the value is refused. */
export type VarPredicate = (value: unknown) => true | string;

/** Checks that only the defining node holds: a zod schema and a custom predicate. */
export interface LocalChecks {
  schema?: z.ZodType;
  predicate?: VarPredicate;
}

/** A validator for a variable's values: returns the (zod-coerced) value or throws a 422 on `value`. */
export type Validator = (value: unknown) => unknown;

const cache = new Map<string, z.ZodType>();

/** The zod schema of a signature-engine type string; a bad string is a 400 naming `spec.type`. */
export function typeSchema(type: string): z.ZodType {
  let schema = cache.get(type);
  if (schema === undefined) {
    try {
      schema = typeToZod(parseTypeText(type));
    } catch (cause) {
      throw new DspexError(ErrorCode.BadRequest, `spec.type: cannot parse "${type}"`, {
        details: { field: 'spec.type' },
        cause,
      });
    }
    if (cache.size > 256) cache.clear();
    cache.set(type, schema);
  }
  return schema;
}

/** Rejects constraints that cannot work (bad regex, min > max) with a 400 naming the field. */
export function checkConstraints(c: VarConstraints | undefined): void {
  if (c === undefined) return;
  const bad = (field: string, message: string): never => {
    throw new DspexError(ErrorCode.BadRequest, `spec.constraints.${field}: ${message}`, {
      details: { field: `spec.constraints.${field}` },
    });
  };
  if (c.min !== undefined && c.max !== undefined && c.min > c.max) bad('min', 'is greater than max');
  if (c.min_length !== undefined && c.max_length !== undefined && c.min_length > c.max_length) {
    bad('min_length', 'is greater than max_length');
  }
  if (c.pattern !== undefined) {
    try {
      new RegExp(c.pattern, 'u');
    } catch {
      bad('pattern', 'is not a valid regular expression');
    }
  }
}

/** Builds the validator of a spec (type, constraints) plus the defining node's local checks. */
export function compileValidator(spec: VarSpec, local: LocalChecks = {}): Validator {
  const schema = local.schema ?? (spec.type === undefined ? undefined : typeSchema(spec.type));
  const c = spec.constraints;
  const pattern = c?.pattern === undefined ? undefined : new RegExp(c.pattern, 'u');
  return (input) => {
    let value = input;
    if (schema !== undefined) {
      const parsed = schema.safeParse(input);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        const where = issue === undefined || issue.path.length === 0 ? '' : `.${issue.path.join('.')}`;
        throw new ValidationError(`value${where}`, issue?.message ?? 'does not match the type');
      }
      value = parsed.data;
    }
    if (c !== undefined) checkValue(value, c, pattern);
    if (local.predicate !== undefined) {
      const verdict = local.predicate(value);
      if (verdict !== true) throw new ValidationError('value', verdict);
    }
    return value;
  };
}

function checkValue(value: unknown, c: VarConstraints, pattern: RegExp | undefined): void {
  if (typeof value === 'number') {
    if (c.min !== undefined && value < c.min)
      throw new ValidationError('value', `${value} is below min ${c.min}`);
    if (c.max !== undefined && value > c.max)
      throw new ValidationError('value', `${value} is above max ${c.max}`);
  }
  if (c.enum !== undefined && !c.enum.some((allowed) => isDeepStrictEqual(allowed, value))) {
    throw new ValidationError('value', `must be one of ${JSON.stringify(c.enum)}`);
  }
  if (pattern !== undefined) {
    if (typeof value !== 'string') throw new ValidationError('value', 'must be a string to match pattern');
    if (!pattern.test(value)) throw new ValidationError('value', `does not match pattern ${c.pattern}`);
  }
  const length = typeof value === 'string' || Array.isArray(value) ? value.length : undefined;
  if (length !== undefined) {
    if (c.min_length !== undefined && length < c.min_length) {
      throw new ValidationError('value', `length ${length} is below min_length ${c.min_length}`);
    }
    if (c.max_length !== undefined && length > c.max_length) {
      throw new ValidationError('value', `length ${length} is above max_length ${c.max_length}`);
    }
  }
}
