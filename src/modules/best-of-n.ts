import { DspexError, ErrorCode } from '../errors.js';
import type { ModuleName } from '../protocol/modules.js';
import { RemoteModule, type Executor, type ModuleCallOptions, type ModuleOptions } from './module.js';
import { isRewardTool, rewardSpec, type Reward } from './reward.js';
import type { ModuleState, PredictorState } from './state.js';

/** Options of {@link BestOfN} and {@link Refine}. */
export interface RewardModuleOptions extends Omit<ModuleOptions, 'demos' | 'state'> {
  /** Most attempts (1 to 16). */
  N: number;
  /** An attempt scoring at least this ends the search. */
  threshold: number;
  reward: Reward;
  /** Failed attempts tolerated (DSPy's `fail_count`). @default N */
  failCount?: number;
}

/** A module BestOfN / Refine can wrap: a {@link Predict} or a {@link ChainOfThought}. */
export type Wrappable<I, O> = RemoteModule<I, O>;

abstract class RewardModule<I, O> extends RemoteModule<I, O> {
  protected constructor(
    name: ModuleName,
    private readonly inner: Wrappable<I, O>,
    private readonly rewardOptions: RewardModuleOptions,
  ) {
    if (inner.module !== 'Predict' && inner.module !== 'ChainOfThought') {
      throw new DspexError(
        ErrorCode.BadRequest,
        `${name} wraps a Predict or a ChainOfThought, not ${inner.module}`,
        {
          details: { field: 'options.base' },
        },
      );
    }
    super(name, inner.signature, inner['outputSignature'], {
      executor: rewardOptions.executor ?? inner['options'].executor,
      ...(rewardOptions.config !== undefined ? { config: rewardOptions.config } : {}),
      ...(rewardOptions.pool !== undefined ? { pool: rewardOptions.pool } : {}),
    });
  }

  /** DSPy keeps the wrapped module as `module`: `module` (Predict) or `module.predict` (ChainOfThought). */
  get predictorNames(): readonly string[] {
    return this.inner.predictorNames.map((n) => (n === 'self' ? 'module' : `module.${n}`));
  }

  private get hasLoadedState(): boolean {
    return this.loadedState !== undefined;
  }

  protected override requestFields(_options: ModuleCallOptions) {
    const o = this.rewardOptions;
    const options: Record<string, unknown> = {
      N: o.N,
      threshold: o.threshold,
      reward: rewardSpec(o.reward),
      base: this.inner.module,
    };
    if (o.failCount !== undefined) options.fail_count = o.failCount;
    const fields: {
      options: Record<string, unknown>;
      state?: Record<string, unknown>;
      demos?: Array<Record<string, unknown>>;
    } = {
      options,
    };
    // Without a state of its own, the wrapped module's demos go along as the call's demos.
    if (!this.hasLoadedState && this.inner.demos.length > 0) fields.demos = this.inner.demos;
    return fields;
  }

  protected override beforeCall(executor: Executor): void {
    const r = this.rewardOptions.reward;
    if (!isRewardTool(r)) return;
    if (executor.tools === undefined) {
      throw new Error(
        `${this.module}: reward "${r.name}" needs a runtime to serve it; use { kind: 'tool', name }`,
      );
    }
    executor.tools.register(r);
  }

  protected defaultState(): ModuleState {
    const innerState = this.inner.dumpState();
    if (this.inner.predictorNames[0] === 'self') return { module: innerState as PredictorState };
    return Object.fromEntries(
      Object.entries(innerState as Record<string, PredictorState>).map(([k, v]) => [`module.${k}`, v]),
    );
  }
}

/**
 * `dspy.BestOfN` on a worker: runs the wrapped Predict / ChainOfThought up to N times (separate
 * rollouts at temperature 1.0) and returns the best-scoring attempt, or the first reaching `threshold`.
 *
 * @example
 * ```ts
 * const best = new BestOfN(new ChainOfThought(qa), { N: 3, threshold: 1, reward: Rewards.exactMatch('answer', '4'), executor: rt });
 * ```
 */
export class BestOfN<I, O> extends RewardModule<I, O> {
  constructor(inner: Wrappable<I, O>, options: RewardModuleOptions) {
    super('BestOfN', inner, options);
  }
}

/**
 * `dspy.Refine` on a worker: like {@link BestOfN}, and after an attempt below `threshold` the LM writes
 * advice that the next attempt receives as a hint.
 */
export class Refine<I, O> extends RewardModule<I, O> {
  constructor(inner: Wrappable<I, O>, options: RewardModuleOptions) {
    super('Refine', inner, options);
  }
}
