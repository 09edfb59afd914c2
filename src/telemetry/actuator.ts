/**
 * What the telemetry layer may ask of a node: the actuator. The node (dispatcher, pool supervisors,
 * LLM router, optimizer) implements it; the policy engine only names calls as plain data
 * ({@link ActuatorCall}) and {@link performCall} routes each to its method.
 */
import type { ActuatorCall } from '../protocol/events.js';

/** The outcome of one actuator call; a refusal is a value, never a throw. */
export type ActResult = { ok: true; detail?: Record<string, unknown> } | { ok: false; reason: string };

type Args<T extends ActuatorCall['type']> = Omit<Extract<ActuatorCall, { type: T }>, 'type'>;

/**
 * The node's side of adaptation. Every method is idempotent (applying the same call twice leaves the
 * same state) and may answer synchronously or with a promise.
 */
export interface Actuator {
  /**
   * Route around a worker: it keeps only `probe_ratio` of the calls it would get, so its series keeps
   * data and its recovery can be seen. Refuse (`ok: false`) rather than leave a pool with no worker.
   */
  avoidWorker(args: Args<'avoid_worker'>): ActResult | Promise<ActResult>;
  /** Undo {@link avoidWorker}. */
  restoreWorker(args: Args<'restore_worker'>): ActResult | Promise<ActResult>;
  /** Drain the worker and start a fresh process in its place. */
  recycleWorker(args: Args<'recycle_worker'>): ActResult | Promise<ActResult>;
  /**
   * Change a pool's local size by `delta`, kept within [`min`, `max`] and the pool's own bounds.
   * `detail.delta` should say what was applied (0 at a bound), so a revert undoes exactly that.
   */
  resizePool(args: Args<'resize_pool'>): ActResult | Promise<ActResult>;
  /** Send calls meant for `model` to `fallback` instead; `fallback: null` stops that. */
  setFallbackModel(args: Args<'set_fallback_model'>): ActResult | Promise<ActResult>;
  /**
   * Hedge a pool's stragglers after `factor` × its median latency (lower = more hedging); `null`
   * restores the configured factor.
   */
  setHedging(args: Args<'set_hedging'>): ActResult | Promise<ActResult>;
  /** Pause or resume the optimizer jobs of a module+signature, or start one. */
  optimizer(args: Args<'optimizer'>): ActResult | Promise<ActResult>;
}

/** Performs one call on an actuator; a throw or rejection becomes `{ok: false}`. */
export async function performCall(actuator: Actuator, call: ActuatorCall): Promise<ActResult> {
  try {
    const { type, ...args } = call;
    switch (type) {
      case 'avoid_worker':
        return await actuator.avoidWorker(args as Args<'avoid_worker'>);
      case 'restore_worker':
        return await actuator.restoreWorker(args as Args<'restore_worker'>);
      case 'recycle_worker':
        return await actuator.recycleWorker(args as Args<'recycle_worker'>);
      case 'resize_pool':
        return await actuator.resizePool(args as Args<'resize_pool'>);
      case 'set_fallback_model':
        return await actuator.setFallbackModel(args as Args<'set_fallback_model'>);
      case 'set_hedging':
        return await actuator.setHedging(args as Args<'set_hedging'>);
      case 'optimizer':
        return await actuator.optimizer(args as Args<'optimizer'>);
      default: {
        const never: never = type;
        return { ok: false, reason: `unknown actuator call ${String(never)}` };
      }
    }
  } catch (error) {
    return { ok: false, reason: error instanceof Error ? error.message : String(error) };
  }
}
