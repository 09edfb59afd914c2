/**
 * The telemetry actor of a node: ingests batched call records and heartbeat samples, runs the
 * detectors every `tickMs`, runs the policies on what they raise and clear, and publishes anomaly and
 * adaptation events. Pure XState: publishing, the actuator, the snapshot store and the clock are
 * injected through its input, so the runtime wires it with a few lines and tests drive it with fake
 * timers.
 *
 * Supervisable: it ends in a final state whose output is a `ChildExit`. A failure (a throw from the
 * analysis, or a snapshot that cannot be saved) is state: the actor goes to `crashed` with the reason,
 * and a restarted instance resumes from the last snapshot its store holds.
 *
 * Why a snapshot and not a replay of `events.call`: those events are sampled and fire-and-forget (no
 * stream keeps them), and a baseline needs minutes of history; above all the adaptations in force live
 * in the node (an avoided worker, a fallback model), so an instance that forgot them would never
 * revert them. The snapshot holds exactly that: baselines, raised anomalies and adaptations.
 *
 * The analyzer and the policy engine are mutable objects held in context (copying windows on every
 * batch would cost more than the analysis); they change only inside this machine's actions.
 */
import { assign, enqueueActions, fromCallback, setup, type ActorRefFrom, type SnapshotFrom } from 'xstate';
import { z } from 'zod';
import {
  SeriesKeySchema,
  type ActuatorCall,
  type AdaptationEvent,
  type AnomalyEvent,
  type CallRecord,
} from '../protocol/events.js';
import type { ChildExit, Clock } from '../supervisors/types.js';
import { performCall, type ActResult, type Actuator } from './actuator.js';
import { Analyzer, type AnalyzerSnapshot, type WorkerSample } from './analyzer.js';
import { resolveAnalysisOptions, type AnalysisOptions, type ResolvedAnalysisOptions } from './detectors.js';
import { resolvePolicies, type PoliciesOptions, type ResolvedPolicies } from './policy-config.js';
import { PolicyEngine, type PolicyCommand, type PolicyState } from './policy-engine.js';

/** An event for `<prefix>.events.<kind>`. */
export type TelemetryEvent =
  { kind: 'anomaly'; event: AnomalyEvent } | { kind: 'adaptation'; event: AdaptationEvent };

/** Emitted for `actor.on('anomaly' | 'adaptation', ...)`: the same events as published. */
export type TelemetryEmitted =
  { type: 'anomaly'; event: AnomalyEvent } | { type: 'adaptation'; event: AdaptationEvent };

/** What the telemetry actor persists, and resumes from after a restart. */
export interface TelemetrySnapshot {
  version: 1;
  node: string;
  savedAt: number;
  analyzer: AnalyzerSnapshot;
  policies: PolicyState;
}

/** Keeps the latest snapshot (in memory for a restart of the actor; a KV bucket to survive the node). */
export interface SnapshotStore {
  /** The last saved snapshot, or undefined. A throw or an invalid value means "start fresh". */
  load(): unknown;
  /** A throw is a failure of the actor (it crashes and its supervisor restarts it). */
  save(snapshot: TelemetrySnapshot): void;
}

/** Input of {@link telemetryMachine}. */
export interface TelemetryInput {
  node: string;
  analysis?: AnalysisOptions;
  policies?: PoliciesOptions;
  /** Publishes on `<prefix>.events.<kind>`. Should not throw; a throw is counted and ignored. */
  publish: (event: TelemetryEvent) => void;
  actuator: Actuator;
  store?: SnapshotStore;
  /** @default { now: Date.now } */
  clock?: Clock;
  /** Save a snapshot every this many ticks, and after any tick that raised, cleared or adapted. @default 15 */
  snapshotEveryTicks?: number;
}

export interface TelemetryStats {
  calls: number;
  samples: number;
  ticks: number;
  publishErrors: number;
  /** Whether this instance resumed from a snapshot, and why not when one was there but unusable. */
  restored: boolean;
  restoreError?: string;
}

export interface TelemetryContext {
  node: string;
  options: ResolvedAnalysisOptions;
  policies: ResolvedPolicies;
  analyzer: Analyzer;
  engine: PolicyEngine;
  publish: (event: TelemetryEvent) => void;
  actuator: Actuator;
  store: SnapshotStore | undefined;
  clock: Clock;
  snapshotEveryTicks: number;
  stats: TelemetryStats;
  failure: string | undefined;
}

export type TelemetryMachineEvent =
  | { type: 'telemetry.calls'; calls: readonly CallRecord[] }
  | { type: 'telemetry.samples'; samples: readonly WorkerSample[] }
  | { type: 'telemetry.act_result'; id: string; step: 'apply' | 'revert'; result: ActResult }
  /** Save a last snapshot and end normally. */
  | { type: 'telemetry.stop' };

type ActCommand = { type: 'act'; id: string; step: 'apply' | 'revert'; call: ActuatorCall };

/** Runs actuator calls off the machine's step and sends each result back. */
const actuatorLogic = fromCallback<ActCommand, { actuator: Actuator }>(({ input, receive, sendBack }) => {
  let stopped = false;
  receive((command) => {
    void performCall(input.actuator, command.call).then((result) => {
      if (!stopped) sendBack({ type: 'telemetry.act_result', id: command.id, step: command.step, result });
    });
  });
  return () => {
    stopped = true;
  };
});

const SnapshotSchema = z.object({
  version: z.literal(1),
  node: z.string(),
  savedAt: z.number(),
  analyzer: z.object({
    seq: z.int().nonnegative(),
    series: z.array(
      z.object({
        key: SeriesKeySchema,
        lastSeen: z.number(),
        rss: z.array(z.object({ ts: z.number(), value: z.number() })).optional(),
        detectors: z.record(
          z.string(),
          z.looseObject({
            history: z.array(z.number()),
            state: z.enum(['normal', 'raised']),
            streak: z.int(),
          }),
        ),
      }),
    ),
  }),
  policies: z.object({
    seq: z.int().nonnegative(),
    adaptations: z.array(z.looseObject({ id: z.string(), status: z.string(), policy: z.string() })),
    cooldowns: z.record(z.string(), z.number()),
    anomalies: z.record(z.string(), z.object({ kind: z.string(), key: SeriesKeySchema })),
  }),
});

function initialContext(input: TelemetryInput): TelemetryContext {
  const options = resolveAnalysisOptions(input.analysis);
  const policies = resolvePolicies(input.policies);
  const stats: TelemetryStats = { calls: 0, samples: 0, ticks: 0, publishErrors: 0, restored: false };
  let analyzer = new Analyzer(options, input.node);
  let engine = new PolicyEngine(policies, input.node);
  if (input.store !== undefined) {
    try {
      const loaded = input.store.load();
      if (loaded !== undefined) {
        const parsed = SnapshotSchema.safeParse(loaded);
        if (!parsed.success) {
          const issue = parsed.error.issues[0];
          stats.restoreError = `${issue?.path.join('.') ?? 'snapshot'}: ${issue?.message ?? 'invalid'}`;
        } else if (parsed.data.node !== input.node) {
          stats.restoreError = `snapshot of node ${parsed.data.node}, not ${input.node}`;
        } else {
          const snapshot = loaded as TelemetrySnapshot;
          analyzer = Analyzer.restore(options, input.node, snapshot.analyzer);
          engine = new PolicyEngine(policies, input.node, snapshot.policies);
          stats.restored = true;
        }
      }
    } catch (error) {
      stats.restoreError = `load failed: ${error instanceof Error ? error.message : String(error)}`;
    }
  }
  return {
    node: input.node,
    options,
    policies,
    analyzer,
    engine,
    publish: input.publish,
    actuator: input.actuator,
    store: input.store,
    clock: input.clock ?? { now: () => Date.now() },
    snapshotEveryTicks: input.snapshotEveryTicks ?? 15,
    stats,
    failure: undefined,
  };
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

const telemetrySetup = setup({
  types: {
    input: {} as TelemetryInput,
    context: {} as TelemetryContext,
    events: {} as TelemetryMachineEvent,
    emitted: {} as TelemetryEmitted,
    output: {} as ChildExit,
  },
  actors: { actuator: actuatorLogic },
  delays: { tick: ({ context }) => context.options.tickMs },
});

/** Performs engine commands: `act` goes to the actuator actor, `emit` is published and emitted. */
function perform(
  enqueue: Parameters<Parameters<typeof telemetrySetup.enqueueActions>[0]>[0]['enqueue'],
  context: TelemetryContext,
  commands: readonly PolicyCommand[],
): void {
  for (const command of commands) {
    if (command.type === 'act') {
      enqueue.sendTo('actuator', { type: 'act', id: command.id, step: command.step, call: command.call });
    } else {
      publishEvent(enqueue, context, { kind: 'adaptation', event: command.event });
    }
  }
}

function publishEvent(
  enqueue: Parameters<Parameters<typeof telemetrySetup.enqueueActions>[0]>[0]['enqueue'],
  context: TelemetryContext,
  event: TelemetryEvent,
): void {
  enqueue(() => {
    try {
      context.publish(event);
    } catch {
      context.stats.publishErrors++;
    }
  });
  enqueue.emit(
    event.kind === 'anomaly'
      ? { type: 'anomaly', event: event.event }
      : { type: 'adaptation', event: event.event },
  );
}

function save(context: TelemetryContext, now: number): void {
  context.store?.save({
    version: 1,
    node: context.node,
    savedAt: now,
    analyzer: context.analyzer.snapshot(),
    policies: context.engine.snapshot(),
  });
}

const tick = telemetrySetup.enqueueActions(({ context, enqueue }) => {
  try {
    const now = context.clock.now();
    const current = context.analyzer.current.bind(context.analyzer);
    const anomalies = context.analyzer.tick(now);
    for (const event of anomalies) {
      publishEvent(enqueue, context, { kind: 'anomaly', event });
      perform(enqueue, context, context.engine.onAnomaly(event, now, current));
    }
    const commands = context.engine.onTick(now, current);
    perform(enqueue, context, commands);
    context.stats.ticks++;
    if (
      anomalies.length > 0 ||
      commands.length > 0 ||
      context.stats.ticks % context.snapshotEveryTicks === 0
    ) {
      save(context, now);
    }
  } catch (error) {
    enqueue.assign({ failure: `telemetry tick failed: ${describeError(error)}` });
  }
});

/**
 * The telemetry actor's logic.
 *
 * @example
 * ```ts
 * const spec = {
 *   id: 'telemetry',
 *   restart: 'permanent',
 *   logic: telemetryMachine,
 *   input: { node: nodeId, policies, actuator, store: memoryStore(), publish: (e) => nc.publish(subjects.event(e.kind), encode(e.event)) },
 * };
 * // calls: batcher sink `(batch) => ref.send({ type: 'telemetry.calls', calls: batch.calls })`
 * ```
 */
export const telemetryMachine = telemetrySetup.createMachine({
  id: 'telemetry',
  context: ({ input }) => initialContext(input),
  initial: 'running',
  states: {
    running: {
      invoke: { id: 'actuator', src: 'actuator', input: ({ context }) => ({ actuator: context.actuator }) },
      always: { guard: ({ context }) => context.failure !== undefined, target: 'crashed' },
      on: {
        'telemetry.calls': {
          actions: assign(({ context, event }) => {
            context.analyzer.ingestCalls(event.calls, context.clock.now());
            context.stats.calls += event.calls.length;
            return {};
          }),
        },
        'telemetry.samples': {
          actions: assign(({ context, event }) => {
            context.analyzer.ingestSamples(event.samples, context.clock.now());
            context.stats.samples += event.samples.length;
            return {};
          }),
        },
        'telemetry.act_result': {
          actions: enqueueActions(({ context, event, enqueue }) => {
            perform(
              enqueue,
              context,
              context.engine.onResult(event.id, event.step, event.result, context.clock.now()),
            );
          }),
        },
        'telemetry.stop': { target: 'stopped' },
      },
      initial: 'waiting',
      states: {
        waiting: { after: { tick: { target: 'waiting', reenter: true, actions: tick } } },
      },
    },
    stopped: {
      type: 'final',
      entry: assign(({ context }) => {
        try {
          save(context, context.clock.now());
          return {};
        } catch (error) {
          return { failure: `last snapshot failed: ${describeError(error)}` };
        }
      }),
    },
    crashed: { type: 'final' },
  },
  output: ({ context }): ChildExit =>
    context.failure === undefined ? { status: 'stopped' } : { status: 'crashed', reason: context.failure },
});

export type TelemetryLogic = typeof telemetryMachine;
export type TelemetryActorRef = ActorRefFrom<TelemetryLogic>;

/** What the actor holds now: raised anomalies, adaptations in force, counters. */
export function selectTelemetry(snapshot: SnapshotFrom<TelemetryLogic>) {
  const { analyzer, engine, stats } = snapshot.context;
  return {
    anomalies: analyzer.active(),
    adaptations: engine.active(),
    stats: { ...stats, ...analyzer.stats() },
  };
}

/** A store that keeps the last snapshot in this process: enough to survive a restart of the actor. */
export function memorySnapshotStore(): SnapshotStore & { last: TelemetrySnapshot | undefined } {
  return {
    last: undefined,
    load() {
      return this.last === undefined ? undefined : structuredClone(this.last);
    },
    save(snapshot) {
      this.last = snapshot;
    },
  };
}
