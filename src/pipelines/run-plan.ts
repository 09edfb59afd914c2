/**
 * The run's decisions as pure functions over the graph and the stages' states: which stages can start
 * now and with what inputs, which must be skipped because something upstream failed, progress and
 * ETA, and the run's final outcome. The run machine only performs them.
 */
import { ValidationError, type WireError } from '../errors.js';
import type { FailurePolicy, InputRef, StageFailure } from '../protocol/pipelines.js';
import type { PipelineGraph, StageNode } from './graph.js';
import { wireErrorOf } from './stage-machine.js';
import { typeName } from './transforms.js';

export type StageStatus = 'pending' | 'running' | 'completed' | 'failed' | 'skipped';

/** Where one stage of a run stands. */
export interface StageState {
  status: StageStatus;
  outputs?: Record<string, unknown>;
  error?: WireError;
  reason?: string;
  /** Finished by an earlier attempt of the run (read from a checkpoint). */
  restored?: boolean;
  durationMs?: number;
}

/** What a run reads back from its checkpoints when it (re)starts. */
export interface Checkpoints {
  stages: Record<
    string,
    | { status: 'completed'; outputs: Record<string, unknown>; durationMs: number }
    | { status: 'failed'; error: WireError; durationMs: number }
  >;
  /** Finished elements of mapped stages: stage → item index → outputs. */
  items: Record<string, Record<number, Record<string, unknown>>>;
}

/** Limits applied when a stage starts. */
export interface StageLimits {
  /** Largest list a stage may be mapped over. */
  maxItems: number;
  /** Default fan-out concurrency. */
  concurrency: number;
}

/** A stage ready to start, with its resolved inputs and (for a mapped stage) its items. */
export interface StageStart {
  id: string;
  inputs: Record<string, unknown>;
  map?: { over: string; items: unknown[]; concurrency: number };
}

export interface Schedule {
  stages: Record<string, StageState>;
  start: StageStart[];
  /** Stages that failed before starting (their inputs could not be resolved). */
  failed: Array<{ id: string; error: WireError }>;
  skipped: Array<{ id: string; reason: string }>;
}

/** Every stage pending, except those a checkpoint says finished. */
export function initialStages(graph: PipelineGraph, checkpoints: Checkpoints): Record<string, StageState> {
  return Object.fromEntries(
    graph.order.map((id): [string, StageState] => {
      const cp = checkpoints.stages[id];
      if (cp === undefined) return [id, { status: 'pending' }];
      return cp.status === 'completed'
        ? [id, { status: 'completed', outputs: cp.outputs, restored: true, durationMs: cp.durationMs }]
        : [id, { status: 'failed', error: cp.error, restored: true, durationMs: cp.durationMs }];
    }),
  );
}

/** Reads one input reference against the pipeline inputs and the finished stages. */
export function resolveRef(
  ref: InputRef,
  inputs: Record<string, unknown>,
  stages: Record<string, StageState>,
  field: string,
): unknown {
  if ('value' in ref) return ref.value;
  if ('input' in ref) {
    if (!(ref.input in inputs)) throw new ValidationError(field, `pipeline input "${ref.input}" is missing`);
    return inputs[ref.input];
  }
  const outputs = stages[ref.stage]?.outputs ?? {};
  if (ref.output === undefined) return outputs;
  if (!(ref.output in outputs)) {
    throw new ValidationError(field, `stage "${ref.stage}" produced no output "${ref.output}"`);
  }
  return outputs[ref.output];
}

function resolveStage(
  node: StageNode,
  inputs: Record<string, unknown>,
  stages: Record<string, StageState>,
  limits: StageLimits,
): StageStart {
  const resolved: Record<string, unknown> = {};
  for (const [name, ref] of Object.entries(node.spec.inputs)) {
    resolved[name] = resolveRef(ref, inputs, stages, `inputs.${name}`);
  }
  const map = node.spec.map;
  if (map === undefined) return { id: node.spec.id, inputs: resolved };
  const items = resolved[map.over];
  if (!Array.isArray(items)) {
    throw new ValidationError(`inputs.${map.over}`, `mapped input: expected list, got ${typeName(items)}`);
  }
  if (items.length > limits.maxItems) {
    throw new ValidationError(
      `inputs.${map.over}`,
      `mapped list has ${items.length} items, over the limit of ${limits.maxItems}`,
    );
  }
  return {
    id: node.spec.id,
    inputs: resolved,
    map: { over: map.over, items, concurrency: map.concurrency ?? limits.concurrency },
  };
}

/**
 * Starts every pending stage whose inputs are all finished; skips (transitively) the stages that read
 * from a failed or skipped stage. Under `fail_fast` nothing new starts once a stage has failed.
 */
export function schedule(
  graph: PipelineGraph,
  current: Record<string, StageState>,
  inputs: Record<string, unknown>,
  policy: FailurePolicy,
  limits: StageLimits,
): Schedule {
  const stages = { ...current };
  const out: Schedule = { stages, start: [], failed: [], skipped: [] };
  if (policy === 'fail_fast' && Object.values(stages).some((s) => s.status === 'failed')) return out;
  // Declaration-consistent topological order: one pass settles transitive skips.
  for (const id of graph.order) {
    const state = stages[id]!;
    if (state.status !== 'pending') continue;
    const node = graph.stages.get(id)!;
    const blocked = node.deps.find((d) => stages[d]!.status === 'failed' || stages[d]!.status === 'skipped');
    if (blocked !== undefined) {
      const reason = `upstream stage "${blocked}" ${stages[blocked]!.status}`;
      stages[id] = { status: 'skipped', reason };
      out.skipped.push({ id, reason });
      continue;
    }
    if (!node.deps.every((d) => stages[d]!.status === 'completed')) continue;
    try {
      out.start.push(resolveStage(node, inputs, stages, limits));
      stages[id] = { status: 'running' };
    } catch (error) {
      const wire = wireErrorOf(error);
      const failure = {
        ...wire,
        message: `stage "${id}": ${wire.message}`,
        details: { ...wire.details, stage: id },
      };
      stages[id] = { status: 'failed', error: failure };
      out.failed.push({ id, error: failure });
      if (policy === 'fail_fast') return out;
    }
  }
  return out;
}

/** True when no stage is pending or running. */
export function settled(stages: Record<string, StageState>): boolean {
  return Object.values(stages).every((s) => s.status !== 'pending' && s.status !== 'running');
}

/** Done/total and an ETA from the mean time per stage finished in this attempt. */
export function progress(
  stages: Record<string, StageState>,
  elapsedMs: number,
): { done: number; total: number; eta_ms: number | null } {
  const all = Object.values(stages);
  const finished = all.filter((s) => s.status !== 'pending' && s.status !== 'running');
  const here = finished.filter((s) => s.restored !== true && s.status !== 'skipped').length;
  const left = all.length - finished.length;
  const eta = here === 0 ? null : left === 0 ? 0 : Math.round((elapsedMs / here) * left);
  return { done: finished.length, total: all.length, eta_ms: eta };
}

/** What a finished run reports. */
export interface RunOutcome {
  status: 'completed' | 'partial' | 'failed';
  outputs: Record<string, unknown>;
  stages: Record<string, Record<string, unknown>>;
  failures: StageFailure[];
  skipped: string[];
  error?: WireError;
}

/** The run's outcome once settled: outputs per the pipeline's `outputs` (else its sinks), failures named. */
export function outcome(
  graph: PipelineGraph,
  stages: Record<string, StageState>,
  policy: FailurePolicy,
  inputs: Record<string, unknown>,
): RunOutcome {
  const done: Record<string, Record<string, unknown>> = {};
  const failures: StageFailure[] = [];
  const skipped: string[] = [];
  for (const id of graph.order) {
    const s = stages[id]!;
    if (s.status === 'completed') done[id] = s.outputs ?? {};
    else if (s.status === 'failed') failures.push({ stage: id, error: s.error! });
    else skipped.push(id);
  }
  const outputs: Record<string, unknown> = {};
  if (graph.spec.outputs !== undefined) {
    for (const [name, ref] of Object.entries(graph.spec.outputs)) {
      if ('stage' in ref && stages[ref.stage]?.status !== 'completed') continue;
      try {
        outputs[name] = resolveRef(ref, inputs, stages, `outputs.${name}`);
      } catch {
        // A partial run leaves outputs it could not compute out; its failures say why.
      }
    }
  } else {
    for (const id of graph.sinks) if (done[id] !== undefined) outputs[id] = done[id];
  }
  if (failures.length === 0 && skipped.length === 0)
    return { status: 'completed', outputs, stages: done, failures, skipped };
  if (policy === 'continue') return { status: 'partial', outputs, stages: done, failures, skipped };
  const first = failures[0]?.error ?? { code: 'internal', message: 'run stopped', retryable: false };
  return { status: 'failed', outputs, stages: done, failures, skipped, error: first };
}
