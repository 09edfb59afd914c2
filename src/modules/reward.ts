import { z } from 'zod';
import type { BuiltinReward } from './module-options.js';
import { tool, type Tool } from './tool.js';

/** A reward function written in TypeScript: a tool the worker calls with `{inputs, outputs}`. */
export type RewardTool = Tool<{ inputs: Record<string, unknown>; outputs: Record<string, unknown> }, number>;

/** How BestOfN / Refine score an attempt. */
export type Reward =
  /** A reward built into the worker, scoring one output field (1.0 or 0.0). */
  | { kind: 'builtin'; name: BuiltinReward; field: string; value?: string }
  /** A reward function served by some runtime node on `<prefix>.tool.<name>`. */
  | { kind: 'tool'; name: string }
  /** A reward function from {@link reward}, registered on the executor's runtime. */
  | RewardTool;

/** The wire form of a reward (`options.reward`). */
export type RewardSpec =
  { kind: 'builtin'; name: BuiltinReward; field: string; value?: string } | { kind: 'tool'; name: string };

/**
 * A reward function in TypeScript. The worker calls it over NATS for each attempt of BestOfN / Refine;
 * it returns a number (higher is better). An error or a timeout fails that attempt.
 *
 * @example
 * ```ts
 * const oneWord = reward('one_word', ({ outputs }) => (String(outputs.answer).split(' ').length === 1 ? 1 : 0));
 * ```
 */
export function reward(
  name: string,
  score: (call: {
    inputs: Record<string, unknown>;
    outputs: Record<string, unknown>;
  }) => number | Promise<number>,
  description = 'Scores one attempt of a BestOfN/Refine module',
): RewardTool {
  return tool({
    name,
    description,
    args: z.object({ inputs: z.record(z.string(), z.unknown()), outputs: z.record(z.string(), z.unknown()) }),
    run: async (args) => {
      const value = await score(args);
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        throw new TypeError(`reward ${name} returned ${String(value)}, expected a finite number`);
      }
      return value;
    },
  });
}

/** Built-in rewards of the worker, by name. */
export const Rewards = {
  /** 1.0 when `field` is a non-blank string or a non-empty value. */
  nonEmpty: (field: string): Reward => ({ kind: 'builtin', name: 'non_empty', field }),
  /** 1.0 when `field`, trimmed, equals `value`. */
  exactMatch: (field: string, value: string): Reward => ({
    kind: 'builtin',
    name: 'exact_match',
    field,
    value,
  }),
  /** 1.0 when `field` contains `value`, case-insensitively. */
  contains: (field: string, value: string): Reward => ({ kind: 'builtin', name: 'contains', field, value }),
} as const;

export function isRewardTool(value: Reward): value is RewardTool {
  return 'run' in value;
}

export function rewardSpec(value: Reward): RewardSpec {
  if (isRewardTool(value)) return { kind: 'tool', name: value.name };
  return value;
}
