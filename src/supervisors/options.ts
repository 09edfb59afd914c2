/**
 * A supervisor's options: what callers pass, the defaults, and the one-time zod validation that turns
 * them into {@link ResolvedSupervisorOptions}.
 */
import { z } from 'zod';
import type { AnyActorLogic } from 'xstate';
import { ValidationError } from '../errors.js';
import { RestartStrategy, RestartType, type ChildSpec, type Clock } from './types.js';

/** How many restarts a supervisor tolerates in a sliding window before it gives up and escalates. */
export interface RestartIntensity {
  /**
   * Restarts allowed within `periodMs`; the next one makes the supervisor escalate. `0` escalates on
   * the first restart. OTP defaults to 1 in 5 s; we allow 3 because a Python worker that dies once
   * (an OOM on a large batch) often dies again while its siblings drain the same queue.
   * @default 3
   */
  maxRestarts?: number;
  /**
   * Length of the sliding window in milliseconds.
   * @default 5000
   */
  periodMs?: number;
}

/** The input of {@link supervisorMachine}. */
export interface SupervisorOptions {
  /** Names this supervisor in its exit output, emitted events and logs. */
  id: string;
  /**
   * Which children are restarted together.
   * @default 'one_for_one'
   */
  strategy?: RestartStrategy;
  /** @default { maxRestarts: 3, periodMs: 5000 } */
  intensity?: RestartIntensity;
  /**
   * The children started at once, in this order (the order `rest_for_one` follows and the reverse of
   * the order they are stopped in). Ids must be unique.
   * @default []
   */
  children?: ChildSpec[];
  /**
   * Wait before starting a restarted child, as an XState delayed event (so it follows the actor
   * system's clock: `createActor(logic, { clock })`). `0` restarts in the same step as the exit.
   * @default 0
   */
  restartDelayMs?: number;
  /**
   * The clock of the restart-intensity window; inject a fake one in tests.
   * @default { now: Date.now }
   */
  clock?: Clock;
}

/** {@link SupervisorOptions} with every default applied, validated. */
export interface ResolvedSupervisorOptions {
  id: string;
  strategy: RestartStrategy;
  intensity: Required<RestartIntensity>;
  children: ChildSpec[];
  restartDelayMs: number;
  clock: Clock;
}

/** Defaults of {@link SupervisorOptions}. */
export const supervisorDefaults = {
  strategy: RestartStrategy.OneForOne,
  maxRestarts: 3,
  periodMs: 5000,
  restartDelayMs: 0,
} as const;

const systemClock: Clock = { now: () => Date.now() };

const ActorLogicSchema = z.custom<AnyActorLogic>(
  (value) =>
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { transition?: unknown }).transition === 'function' &&
    typeof (value as { getInitialSnapshot?: unknown }).getInitialSnapshot === 'function',
  { message: 'expected XState actor logic (a machine or fromPromise/fromCallback/... logic)' },
);

/** Validates one {@link ChildSpec}, at start or from `supervisor.start_child`. */
export const ChildSpecSchema = z.object({
  id: z.string().min(1),
  logic: ActorLogicSchema,
  input: z.unknown().optional(),
  restart: z.enum([RestartType.Permanent, RestartType.Transient, RestartType.Temporary]),
});

const SupervisorOptionsSchema = z.object({
  id: z.string().min(1),
  strategy: z
    .enum([RestartStrategy.OneForOne, RestartStrategy.OneForAll, RestartStrategy.RestForOne])
    .default(supervisorDefaults.strategy),
  intensity: z
    .object({
      maxRestarts: z.int().nonnegative().default(supervisorDefaults.maxRestarts),
      periodMs: z.number().positive().default(supervisorDefaults.periodMs),
    })
    .default({ maxRestarts: supervisorDefaults.maxRestarts, periodMs: supervisorDefaults.periodMs }),
  children: z
    .array(ChildSpecSchema)
    .default([])
    .superRefine((children, ctx) => {
      const seen = new Set<string>();
      children.forEach((child, index) => {
        if (seen.has(child.id)) {
          ctx.addIssue({ code: 'custom', path: [index, 'id'], message: `duplicate child id "${child.id}"` });
        }
        seen.add(child.id);
      });
    }),
  restartDelayMs: z.number().nonnegative().default(supervisorDefaults.restartDelayMs),
  clock: z
    .custom<Clock>((value) => typeof (value as { now?: unknown } | null)?.now === 'function', {
      message: 'expected an object with a now() method',
    })
    .default(systemClock),
});

/**
 * Applies defaults and validates; throws a {@link ValidationError} naming the first bad field
 * (e.g. `children.1.id: duplicate child id "a"`), with every issue in `details.issues`.
 */
export function resolveSupervisorOptions(options: SupervisorOptions): ResolvedSupervisorOptions {
  const parsed = SupervisorOptionsSchema.safeParse(options);
  if (!parsed.success) throw toValidationError(parsed.error, 'supervisor');
  return parsed.data;
}

/** Validates a child spec that arrives at run time; the message names the bad field. */
export function parseChildSpec(
  spec: unknown,
): { ok: true; spec: ChildSpec } | { ok: false; message: string } {
  const parsed = ChildSpecSchema.safeParse(spec);
  if (parsed.success) return { ok: true, spec: parsed.data };
  return { ok: false, message: toValidationError(parsed.error, 'spec').message };
}

function toValidationError(error: z.ZodError, root: string): ValidationError {
  const issues = error.issues.map((issue) => ({
    path: [root, ...issue.path.map(String)].join('.'),
    message: issue.message,
  }));
  const first = issues[0] ?? { path: root, message: 'invalid' };
  return new ValidationError(first.path, first.message, { details: { issues }, cause: error });
}
