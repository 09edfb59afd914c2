/**
 * Checks of the module-specific request fields (`options`, `tools`, `completions`, `demos`) per module,
 * done by the node before a worker sees the call. The worker repeats them
 * (`python/dspex_worker/module_options.py`) with the same fields named, for clients that bypass the node.
 */
import { DspexError, ErrorCode } from '../errors.js';
import { isName, NameKind } from '../protocol/names.js';
import type { ModuleName } from '../protocol/modules.js';
import type { PredictRequest } from '../protocol/schemas.js';

/** Which `options` keys each module accepts. */
export const moduleOptionKeys: Readonly<Record<ModuleName, readonly string[]>> = {
  Predict: [],
  ChainOfThought: [],
  ReAct: ['max_iters'],
  MultiChainComparison: ['M'],
  BestOfN: ['N', 'threshold', 'reward', 'fail_count', 'base'],
  Refine: ['N', 'threshold', 'reward', 'fail_count', 'base'],
};

/** Limits shared with the worker. */
export const ModuleLimits = { maxIters: 50, defaultMaxIters: 20, maxM: 16, defaultM: 3, maxN: 16 } as const;

/** Built-in reward functions of the worker (see `docs/modules.md`). */
export const BuiltinRewards = ['non_empty', 'exact_match', 'contains'] as const;
export type BuiltinReward = (typeof BuiltinRewards)[number];

function bad(field: string, message: string): DspexError {
  return new DspexError(ErrorCode.BadRequest, `${field}: ${message}`, { details: { field } });
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'list';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  if (typeof value === 'object') return 'map';
  return typeof value;
}

function int(options: Record<string, unknown>, key: string, low: number, high: number): number | undefined {
  const value = options[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < low || value > high) {
    throw bad(`options.${key}`, `must be an integer from ${low} to ${high}, got ${JSON.stringify(value)}`);
  }
  return value;
}

function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Checks `options.reward` against the signature's output fields. */
export function checkReward(value: unknown, outputs: readonly string[]): void {
  if (!isMap(value)) throw bad('options.reward', `must be a map, got ${describe(value)}`);
  const { kind, name } = value;
  const extra = (allowed: string[]) => Object.keys(value).find((k) => !allowed.includes(k));
  if (kind === 'tool') {
    if (!isName(NameKind.Tool, name)) {
      throw bad('options.reward.name', "must be 1-64 letters, digits, '_' or '-'");
    }
    const key = extra(['kind', 'name']);
    if (key !== undefined) throw bad(`options.reward.${key}`, 'is not a tool reward option');
    return;
  }
  if (kind !== 'builtin') {
    throw bad('options.reward.kind', `must be "builtin" or "tool", got ${JSON.stringify(kind)}`);
  }
  if (!(BuiltinRewards as readonly unknown[]).includes(name)) {
    throw bad(
      'options.reward.name',
      `must be one of ${BuiltinRewards.join(', ')}, got ${JSON.stringify(name)}`,
    );
  }
  if (typeof value.field !== 'string' || !outputs.includes(value.field)) {
    throw bad(
      'options.reward.field',
      `must name an output field (${outputs.join(', ')}), got ${JSON.stringify(value.field)}`,
    );
  }
  const needsValue = name === 'exact_match' || name === 'contains';
  if (needsValue && typeof value.value !== 'string') {
    throw bad('options.reward.value', `is required for ${String(name)} (a string)`);
  }
  if (!needsValue && value.value !== undefined && value.value !== null) {
    throw bad('options.reward.value', `is not used by ${String(name)}`);
  }
  const key = extra(['kind', 'name', 'field', 'value']);
  if (key !== undefined) throw bad(`options.reward.${key}`, 'is not a builtin reward option');
}

/** Throws a 400 naming the field when a module-specific field does not fit `module`. */
export function checkModuleFields(
  module: ModuleName,
  body: PredictRequest,
  sig: { readonly outputs: readonly { readonly name: string }[] },
): void {
  const options = body.options ?? {};
  const allowed = moduleOptionKeys[module];
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) {
      throw bad(
        `options.${key}`,
        `is not an option of ${module} (its options: ${allowed.length > 0 ? allowed.join(', ') : 'none'})`,
      );
    }
  }
  if (body.tools !== undefined && body.tools.length > 0 && module !== 'ReAct') {
    throw bad('tools', `only ReAct uses tools (${module} does not take it)`);
  }
  if (body.completions !== undefined && module !== 'MultiChainComparison') {
    throw bad('completions', `only MultiChainComparison compares completions (${module} does not take it)`);
  }
  const outputs = sig.outputs.map((f) => f.name);
  switch (module) {
    case 'Predict':
    case 'ChainOfThought':
      return;
    case 'ReAct': {
      if (body.demos !== undefined && body.demos.length > 0) {
        throw bad('demos', 'ReAct has two predictors; give its demos in state (react, extract.predict)');
      }
      const seen = new Set<string>();
      (body.tools ?? []).forEach((t, i) => {
        if (t.name === 'finish' || seen.has(t.name)) {
          throw bad(
            `tools.${i}.name`,
            `"${t.name}" is ${t.name === 'finish' ? 'reserved by ReAct' : 'listed twice'}`,
          );
        }
        seen.add(t.name);
      });
      int(options, 'max_iters', 1, ModuleLimits.maxIters);
      return;
    }
    case 'MultiChainComparison': {
      const m = int(options, 'M', 1, ModuleLimits.maxM) ?? ModuleLimits.defaultM;
      if (body.completions === undefined) return;
      if (body.completions.length !== m) {
        throw bad('completions', `has ${body.completions.length} entries; options.M is ${m}`);
      }
      const last = outputs[outputs.length - 1]!;
      body.completions.forEach((c, i) => {
        const reason = c.rationale ?? c.reasoning;
        if (typeof reason !== 'string') {
          throw bad(
            `completions.${i}.reasoning`,
            `is required (a string; or rationale), got ${describe(reason)}`,
          );
        }
        if (!(last in c)) throw bad(`completions.${i}.${last}`, 'is required (the last output field)');
      });
      return;
    }
    case 'BestOfN':
    case 'Refine': {
      const n = int(options, 'N', 1, ModuleLimits.maxN);
      if (n === undefined) throw bad('options.N', `is required (1 to ${ModuleLimits.maxN})`);
      if (typeof options.threshold !== 'number') {
        throw bad('options.threshold', `is required (a number), got ${describe(options.threshold)}`);
      }
      if (!('reward' in options)) {
        throw bad('options.reward', "is required ({kind: 'builtin'|'tool', name, …})");
      }
      checkReward(options.reward, outputs);
      int(options, 'fail_count', 1, n);
      const base = options.base ?? 'Predict';
      if (base !== 'Predict' && base !== 'ChainOfThought') {
        throw bad('options.base', `must be one of Predict, ChainOfThought, got ${JSON.stringify(base)}`);
      }
      return;
    }
    default: {
      const never: never = module;
      throw new Error(`unhandled module ${String(never)}`);
    }
  }
}
