/**
 * Checking values against field types, walking the {@link TypeNode} directly: strict for inputs
 * (what a caller sends), lenient for outputs (what comes back from Python or an LLM, where `"0.9"`
 * means 0.9). Errors name the field path, e.g. `inputs.items[2]`.
 */
import { ValidationError } from '../errors.js';
import { DSPY_DESCRIPTIONS, DSPY_SCHEMAS } from './dspy-types.js';
import { formatLiteral } from './format.js';
import { assertNever, type TypeNode } from './types.js';

/** How a value looks, in the words used by error messages. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return 'NaN';
    return Number.isInteger(value) ? 'integer' : 'number';
  }
  return typeof value;
}

/** What a type accepts, in the words used by error messages. */
export function describeType(node: TypeNode): string {
  switch (node.kind) {
    case 'str':
      return 'string';
    case 'int':
      return 'integer';
    case 'float':
      return 'number';
    case 'bool':
      return 'boolean';
    case 'any':
      return 'any value';
    case 'list':
      return 'array';
    case 'set':
      return 'array of distinct items';
    case 'tuple':
      return node.variadic ? 'array' : `array of ${node.items.length}`;
    case 'dict':
      return 'object';
    case 'dspy':
      return DSPY_DESCRIPTIONS[node.name];
    case 'optional':
      return `${describeType(node.inner)} or null`;
    case 'literal':
      return node.values.length === 1
        ? formatLiteral(node.values[0] ?? null)
        : `one of ${node.values.map(formatLiteral).join(', ')}`;
    case 'union':
      return node.members.map(describeType).join(' or ');
    default:
      return assertNever(node);
  }
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Whether a field may be left out of an inputs object. */
export function isOmittable(node: TypeNode): boolean {
  return node.kind === 'optional' || node.kind === 'any';
}

function mismatch(path: string, node: TypeNode, value: unknown): ValidationError {
  return new ValidationError(path, `expected ${describeType(node)}, got ${describeValue(value)}`);
}

/** Throws a {@link ValidationError} unless `value` has type `node`; never changes the value. */
export function checkValue(node: TypeNode, value: unknown, path: string): void {
  switch (node.kind) {
    case 'str':
      if (typeof value !== 'string') throw mismatch(path, node, value);
      return;
    case 'int':
      if (!Number.isSafeInteger(value)) throw mismatch(path, node, value);
      return;
    case 'float':
      if (typeof value !== 'number' || !Number.isFinite(value)) throw mismatch(path, node, value);
      return;
    case 'bool':
      if (typeof value !== 'boolean') throw mismatch(path, node, value);
      return;
    case 'any':
      return;
    case 'list':
      if (!Array.isArray(value)) throw mismatch(path, node, value);
      for (let i = 0; i < value.length; i++) checkValue(node.item, value[i], `${path}[${i}]`);
      return;
    case 'set': {
      if (!Array.isArray(value)) throw mismatch(path, node, value);
      for (let i = 0; i < value.length; i++) checkValue(node.item, value[i], `${path}[${i}]`);
      const twice = firstDuplicate(value);
      if (twice !== undefined)
        throw new ValidationError(`${path}[${twice}]`, 'expected distinct items (a set), got a repeated one');
      return;
    }
    case 'tuple':
      if (!Array.isArray(value)) throw mismatch(path, node, value);
      if (!node.variadic && value.length !== node.items.length) {
        throw new ValidationError(
          path,
          `expected an array of ${node.items.length} items, got ${value.length}`,
        );
      }
      for (let i = 0; i < value.length; i++) {
        checkValue(
          node.variadic ? (node.items[0] as TypeNode) : (node.items[i] as TypeNode),
          value[i],
          `${path}[${i}]`,
        );
      }
      return;
    case 'dict':
      if (!isPlainObject(value)) throw mismatch(path, node, value);
      for (const key of Object.keys(value)) checkValue(node.value, value[key], `${path}.${key}`);
      return;
    case 'dspy': {
      const parsed = DSPY_SCHEMAS[node.name].safeParse(value);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        const suffix = (issue?.path ?? [])
          .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
          .join('');
        const message =
          issue?.code === 'invalid_type' || issue?.path.length === 0
            ? `expected ${describeType(node)}, got ${describeValue(value)}`
            : (issue?.message ?? 'invalid value');
        throw new ValidationError(`${path}${suffix}`, message);
      }
      return;
    }
    case 'optional':
      if (value === null || value === undefined) return;
      try {
        checkValue(node.inner, value, path);
      } catch (error) {
        // A mismatch at this level should say that null was allowed too.
        if (error instanceof ValidationError && error.field === path) throw mismatch(path, node, value);
        throw error;
      }
      return;
    case 'literal':
      if (!node.values.includes(value as never)) throw mismatch(path, node, value);
      return;
    case 'union':
      for (const member of node.members) if (accepts(member, value)) return;
      throw mismatch(path, node, value);
    default:
      return assertNever(node);
  }
}

/** Whether `value` has type `node`; the allocation-free fast path in front of {@link checkValue}. */
export function accepts(node: TypeNode, value: unknown): boolean {
  switch (node.kind) {
    case 'str':
      return typeof value === 'string';
    case 'int':
      return Number.isSafeInteger(value);
    case 'float':
      return typeof value === 'number' && Number.isFinite(value);
    case 'bool':
      return typeof value === 'boolean';
    case 'any':
      return true;
    case 'list':
      if (!Array.isArray(value)) return false;
      for (const item of value) if (!accepts(node.item, item)) return false;
      return true;
    case 'set':
      if (!Array.isArray(value)) return false;
      for (const item of value) if (!accepts(node.item, item)) return false;
      return firstDuplicate(value) === undefined;
    case 'tuple':
      if (!Array.isArray(value) || (!node.variadic && value.length !== node.items.length)) return false;
      for (let i = 0; i < value.length; i++) {
        if (!accepts(node.variadic ? (node.items[0] as TypeNode) : (node.items[i] as TypeNode), value[i]))
          return false;
      }
      return true;
    case 'dict':
      if (!isPlainObject(value)) return false;
      for (const key in value) if (!accepts(node.value, value[key])) return false;
      return true;
    case 'dspy':
      return DSPY_SCHEMAS[node.name].safeParse(value).success;
    case 'optional':
      return value === null || value === undefined || accepts(node.inner, value);
    case 'literal':
      return node.values.includes(value as never);
    case 'union':
      for (const member of node.members) if (accepts(member, value)) return true;
      return false;
    default:
      return assertNever(node);
  }
}

const TRUE_WORDS = new Set(['true', 'yes', '1']);
const FALSE_WORDS = new Set(['false', 'no', '0']);

/**
 * Returns `value` converted to type `node` where the intent is unambiguous (numeric strings,
 * `"true"`/`"false"`, JSON text for lists and dicts, numbers for strings), else throws.
 */
export function coerceValue(node: TypeNode, value: unknown, path: string): unknown {
  switch (node.kind) {
    case 'str':
      if (typeof value === 'string') return value;
      if (typeof value === 'number' || typeof value === 'boolean') return String(value);
      throw mismatch(path, node, value);
    case 'int': {
      const n = toNumber(value);
      if (n === undefined || !Number.isSafeInteger(n)) throw mismatch(path, node, value);
      return n;
    }
    case 'float': {
      const n = toNumber(value);
      if (n === undefined) throw mismatch(path, node, value);
      return n;
    }
    case 'bool':
      if (typeof value === 'boolean') return value;
      if (typeof value === 'string') {
        const word = value.trim().toLowerCase();
        if (TRUE_WORDS.has(word)) return true;
        if (FALSE_WORDS.has(word)) return false;
      }
      if (value === 1 || value === 0) return value === 1;
      throw mismatch(path, node, value);
    case 'any':
      return value === undefined ? null : value;
    case 'list': {
      const list = fromJsonText(value, '[');
      if (!Array.isArray(list)) throw mismatch(path, node, value);
      return list.map((item, i) => coerceValue(node.item, item, `${path}[${i}]`));
    }
    case 'set': {
      const list = fromJsonText(value, '[');
      if (!Array.isArray(list)) throw mismatch(path, node, value);
      const items = list.map((item, i) => coerceValue(node.item, item, `${path}[${i}]`));
      // A set's members are distinct: repeats in a model's answer collapse into one.
      const seen = new Set<string>();
      return items.filter((item) => {
        const key = memberKey(item);
        return !seen.has(key) && seen.add(key) !== undefined;
      });
    }
    case 'tuple': {
      const list = fromJsonText(value, '[');
      if (!Array.isArray(list) || (!node.variadic && list.length !== node.items.length)) {
        throw mismatch(path, node, value);
      }
      return list.map((item, i) =>
        coerceValue(
          node.variadic ? (node.items[0] as TypeNode) : (node.items[i] as TypeNode),
          item,
          `${path}[${i}]`,
        ),
      );
    }
    case 'dspy': {
      const candidate = fromJsonText(value, '{');
      checkValue(node, candidate, path);
      return candidate;
    }
    case 'dict': {
      const dict = fromJsonText(value, '{');
      if (!isPlainObject(dict)) throw mismatch(path, node, value);
      const out: Record<string, unknown> = {};
      for (const key of Object.keys(dict)) out[key] = coerceValue(node.value, dict[key], `${path}.${key}`);
      return out;
    }
    case 'optional':
      if (value === null || value === undefined) return null;
      if (node.inner.kind !== 'str' && (value === 'None' || value === 'null')) return null;
      return coerceValue(node.inner, value, path);
    case 'literal':
      return coerceLiteral(node, value, path);
    case 'union':
      // An exact match wins over a coercion, so `int | str` keeps "3" a string.
      for (const member of node.members) if (accepts(member, value)) return value;
      for (const member of node.members) {
        try {
          return coerceValue(member, value, path);
        } catch {
          // try the next member
        }
      }
      throw mismatch(path, node, value);
    default:
      return assertNever(node);
  }
}

function toNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  const n = Number(value.trim());
  return Number.isFinite(n) ? n : undefined;
}

function fromJsonText(value: unknown, opener: string): unknown {
  if (typeof value !== 'string' || !value.trimStart().startsWith(opener)) return value;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return value;
  }
}

function coerceLiteral(node: Extract<TypeNode, { kind: 'literal' }>, value: unknown, path: string): unknown {
  if (node.values.includes(value as never)) return value;
  if (typeof value === 'string') {
    // LLMs often echo the Python spelling: quoted strings, True/False/None.
    const text = value.trim();
    for (const candidate of node.values) {
      if (typeof candidate === 'string' ? candidate === text : false) return candidate;
      if (formatLiteral(candidate) === text) return candidate;
      if (typeof candidate !== 'string' && String(candidate) === text) return candidate;
    }
  }
  throw mismatch(path, node, value);
}

/** A set member's identity: its JSON text (JSON has one number type, so `1` and `1.0` are one member). */
function memberKey(value: unknown): string {
  return JSON.stringify(value) ?? 'undefined';
}

/** Index of the first item equal to an earlier one, or undefined. */
function firstDuplicate(items: readonly unknown[]): number | undefined {
  const seen = new Set<string>();
  for (let i = 0; i < items.length; i++) {
    const key = memberKey(items[i]);
    if (seen.has(key)) return i;
    seen.add(key);
  }
  return undefined;
}
