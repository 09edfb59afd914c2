/**
 * Declared adaptation policies: "when a detector raises `kinds` on a series of `scope` (matching
 * `match`), do `action`", validated once with zod. Policies are config: they travel in the node's
 * config file and can be tried in dry-run mode, where every decision is recorded as a suggestion.
 *
 * @example
 * ```ts
 * const policies = resolvePolicies({
 *   mode: 'act',
 *   policies: [
 *     { name: 'route-around-slow-worker', on: { kinds: ['latency_shift', 'error_rate'], scope: 'worker' }, action: { type: 'avoid_worker' } },
 *     { name: 'recycle-leaker', on: { kinds: ['rss_growth'], scope: 'worker' }, action: { type: 'recycle_worker' } },
 *     { name: 'fallback-gpt4o', on: { kinds: ['error_rate'], scope: 'model', match: { model: 'openai/gpt-4o' } },
 *       action: { type: 'fallback_model', fallback: 'openai/gpt-4o-mini' } },
 *   ],
 * });
 * ```
 */
import { z } from 'zod';
import { ValidationError } from '../errors.js';
import { Scope, anomalyKinds } from '../protocol/events.js';

const name = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'expected 1-64 letters, digits, "_" or "-"');

/** What a policy does; each action fits one scope (checked). */
export const PolicyActionSchema = z.discriminatedUnion('type', [
  /** Worker scope: route around it, keeping `probeRatio` of its calls as probes. */
  z.object({ type: z.literal('avoid_worker'), probeRatio: z.number().min(0).max(1).default(0.05) }),
  /** Worker scope: drain it and start a fresh process. One-shot: not reverted. */
  z.object({ type: z.literal('recycle_worker') }),
  /** Pool scope: change the pool's local size by `delta` within [`min`, `max`]. */
  z
    .object({
      type: z.literal('resize_pool'),
      delta: z.int().refine((d) => d !== 0, 'must not be 0'),
      min: z.int().nonnegative().default(0),
      max: z.int().positive(),
    })
    .refine((a) => a.min <= a.max, { message: 'must be <= max', path: ['min'] }),
  /** Model scope: send the model's calls to `fallback` (a DSPy model name) until it recovers. */
  z.object({ type: z.literal('fallback_model'), fallback: z.string().min(1).max(128) }),
  /** Pool scope: hedge after `factor` × median latency (the default is 3). */
  z.object({ type: z.literal('set_hedging'), factor: z.number().positive() }),
  /** Module scope: pause this module's optimizer jobs (resumed on recovery), or start one (one-shot). */
  z.object({ type: z.literal('optimizer'), command: z.enum(['pause', 'trigger']) }),
]);
export type PolicyAction = z.output<typeof PolicyActionSchema>;

const scopeOf: Record<PolicyAction['type'], Scope> = {
  avoid_worker: Scope.Worker,
  recycle_worker: Scope.Worker,
  resize_pool: Scope.Pool,
  fallback_model: Scope.Model,
  set_hedging: Scope.Pool,
  optimizer: Scope.Module,
};

export const PolicySchema = z
  .object({
    name,
    on: z.object({
      kinds: z.array(z.enum(anomalyKinds)).min(1),
      scope: z.enum([Scope.Pool, Scope.Worker, Scope.Module, Scope.Model]),
      /** Labels the series must have (exact match), e.g. `{ model: 'openai/gpt-4o' }`. */
      match: z
        .object({
          pool: z.string().optional(),
          worker: z.string().optional(),
          module: z.string().optional(),
          model: z.string().optional(),
        })
        .optional(),
    }),
    action: PolicyActionSchema,
    /** Suggest only, whatever the global mode. @default false */
    dryRun: z.boolean().default(false),
    /** Most adaptations of this policy in force at once per pool (per node for model/module scope). @default 1 */
    maxActive: z.int().positive().default(1),
    /** Revert after this long even if the cause persists (a trial restore; it re-fires if still bad). */
    maxDurationMs: z.int().positive().optional(),
    /**
     * Worker scope: do nothing when the worker's pool has the same anomaly raised, since then the
     * cause is shared (the provider, the load), not this worker. @default true
     */
    skipIfPoolDegraded: z.boolean().default(true),
  })
  .superRefine((policy, ctx) => {
    const want = scopeOf[policy.action.type];
    if (policy.on.scope !== want) {
      ctx.addIssue({
        code: 'custom',
        path: ['on', 'scope'],
        message: `action ${policy.action.type} needs scope "${want}", got "${policy.on.scope}"`,
      });
    }
  });
export type Policy = z.output<typeof PolicySchema>;

export const PoliciesSchema = z.object({
  /** `dry_run` records every decision as a suggestion and changes nothing. @default 'act' */
  mode: z.enum(['act', 'dry_run']).default('act'),
  /** How long a cause must stay cleared before its adaptation is reverted (hysteresis). @default 30000 */
  revertDelayMs: z.int().nonnegative().default(30_000),
  /** When the effect of an applied adaptation is measured. @default 30000 */
  observeAfterMs: z.int().positive().default(30_000),
  /** After an adaptation ends, the same policy leaves the same series alone this long. @default 60000 */
  cooldownMs: z.int().nonnegative().default(60_000),
  policies: z
    .array(PolicySchema)
    .default([])
    .superRefine((policies, ctx) => {
      const seen = new Set<string>();
      policies.forEach((p, i) => {
        if (seen.has(p.name))
          ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate policy "${p.name}"` });
        seen.add(p.name);
      });
    }),
});
export type PoliciesOptions = z.input<typeof PoliciesSchema>;
export type ResolvedPolicies = z.output<typeof PoliciesSchema>;

/** Applies defaults and validates; throws a {@link ValidationError} naming the field (`policies.policies.0.on.scope`). */
export function resolvePolicies(options: PoliciesOptions = {}): ResolvedPolicies {
  const parsed = PoliciesSchema.safeParse(options);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const path = ['policies', ...(issue?.path ?? []).map(String)].join('.');
  throw new ValidationError(path, issue?.message ?? 'invalid', { cause: parsed.error });
}
