/**
 * Built-in transform stages: pure data shaping that every node can run, so a pipeline sent over the
 * wire can glue DSPy stages together without shipping code. Inputs are the stage's resolved inputs.
 */
import { ValidationError } from '../errors.js';
import { TransformOp } from '../protocol/pipelines.js';

/** The output fields a transform produces; `undefined` for `identity` (its inputs). */
export function transformOutputs(op: TransformOp): readonly string[] | undefined {
  switch (op) {
    case TransformOp.Identity:
      return undefined;
    case TransformOp.Join:
    case TransformOp.Template:
      return ['text'];
    case TransformOp.Split:
    case TransformOp.Flatten:
      return ['items'];
    case TransformOp.Pick:
      return ['value'];
    default: {
      const never: never = op;
      throw new Error(`unknown transform ${String(never)}`);
    }
  }
}

function list(inputs: Record<string, unknown>, name: string): unknown[] {
  const value = inputs[name];
  if (!Array.isArray(value))
    throw new ValidationError(`inputs.${name}`, `expected list, got ${typeName(value)}`);
  return value;
}

function text(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map(text).join('\n');
  return JSON.stringify(value) ?? 'null';
}

function separator(args: Record<string, unknown>): string {
  const sep = args.separator ?? '\n';
  if (typeof sep !== 'string')
    throw new ValidationError('args.separator', `expected string, got ${typeName(sep)}`);
  return sep;
}

/** Runs a transform; a wrong input type is a 422 naming the input (not retryable). */
export function runTransform(
  op: TransformOp,
  inputs: Record<string, unknown>,
  args: Record<string, unknown> = {},
): Record<string, unknown> {
  switch (op) {
    case TransformOp.Identity:
      return { ...inputs };
    case TransformOp.Join:
      return { text: list(inputs, 'items').map(text).join(separator(args)) };
    case TransformOp.Split: {
      const value = inputs.text;
      if (typeof value !== 'string')
        throw new ValidationError('inputs.text', `expected string, got ${typeName(value)}`);
      return {
        items: value
          .split(separator(args))
          .map((s) => s.trim())
          .filter((s) => s !== ''),
      };
    }
    case TransformOp.Flatten:
      return { items: list(inputs, 'items').flatMap((v) => (Array.isArray(v) ? (v as unknown[]) : [v])) };
    case TransformOp.Template: {
      const template = args.template;
      if (typeof template !== 'string') throw new ValidationError('args.template', 'expected string');
      return {
        text: template.replace(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (whole, name: string) =>
          name in inputs ? text(inputs[name]) : whole,
        ),
      };
    }
    case TransformOp.Pick: {
      const path = args.path;
      if (typeof path !== 'string') throw new ValidationError('args.path', 'expected string');
      let value: unknown = inputs.from;
      for (const key of path.split('.')) {
        value =
          typeof value === 'object' && value !== null
            ? (value as Record<string, unknown>)[Array.isArray(value) ? Number(key) : key]
            : undefined;
      }
      return { value: value ?? null };
    }
    default: {
      const never: never = op;
      throw new Error(`unknown transform ${String(never)}`);
    }
  }
}

/** Wire type names, as the rest of the protocol spells them. */
export function typeName(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return 'list';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  if (typeof value === 'object') return 'map';
  return typeof value;
}
