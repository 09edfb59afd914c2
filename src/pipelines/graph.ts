/**
 * Dependency analysis of a pipeline: which stage reads from which, in what order they can run, and
 * whether the pipeline is runnable at all. Everything here happens before a single stage runs, so a
 * cycle, a dangling reference or an output field no stage produces is a 422 naming the stage.
 */
import { DspexError, ErrorCode, ValidationError, isDspexError } from '../errors.js';
import type { InputRef, PipelineSpec, StageSpec } from '../protocol/pipelines.js';
import { CallConfigSchema } from '../protocol/schemas.js';
import { parseSignature } from '../signature/index.js';
import { transformOutputs } from './transforms.js';

/** One stage with the stages it reads from. */
export interface StageNode {
  readonly spec: StageSpec;
  /** Position in `pipeline.stages` (error fields name it). */
  readonly index: number;
  /** Stage ids this stage reads from, without repeats. */
  readonly deps: readonly string[];
}

/** A pipeline checked and analysed, ready to run. */
export interface PipelineGraph {
  readonly spec: PipelineSpec;
  readonly stages: ReadonlyMap<string, StageNode>;
  /** A topological order (every stage after the stages it reads from), ties in declaration order. */
  readonly order: readonly string[];
  /** Stage id → stages that read from it. */
  readonly dependents: ReadonlyMap<string, readonly string[]>;
  /** Pipeline input names some stage (or the outputs) reads. */
  readonly inputs: readonly string[];
  /** Stages no other stage reads from: their outputs are the run's outputs unless `outputs` is given. */
  readonly sinks: readonly string[];
}

export interface AnalyseOptions {
  /** Whether a function stage's `fn` is registered; unknown names are a 404 on `…fn`. */
  hasFunction?: (name: string) => boolean;
}

/**
 * Checks a pipeline and builds its graph.
 *
 * @throws ValidationError (422) naming `pipeline.stages.<i>…` and the stage for duplicate ids,
 *   references to unknown stages or output fields, a `map.over` that is not an input, and cycles.
 * @throws DspexError 404 for a function stage whose function is not registered.
 */
export function analysePipeline(spec: PipelineSpec, options: AnalyseOptions = {}): PipelineGraph {
  const nodes = new Map<string, StageNode>();
  spec.stages.forEach((stage, index) => {
    if (nodes.has(stage.id)) {
      throw new ValidationError(`pipeline.stages.${index}.id`, `duplicate stage id "${stage.id}"`, {
        details: { stage: stage.id },
      });
    }
    const deps = [
      ...new Set(Object.values(stage.inputs).flatMap((ref) => ('stage' in ref ? [ref.stage] : []))),
    ];
    nodes.set(stage.id, { spec: stage, index, deps });
  });

  const known = new Map<string, ReadonlySet<string> | undefined>();
  for (const node of nodes.values()) known.set(node.spec.id, knownOutputs(node.spec, node.index));

  const inputs = new Set<string>();
  const checkRef = (ref: InputRef, field: string, stage: string | undefined): void => {
    if ('input' in ref) {
      inputs.add(ref.input);
      return;
    }
    if (!('stage' in ref)) return;
    const who = stage === undefined ? 'the pipeline outputs' : `stage "${stage}"`;
    if (!nodes.has(ref.stage)) {
      throw new ValidationError(field, `${who} reads from unknown stage "${ref.stage}"`, {
        details: { stage: stage ?? null, missing: ref.stage },
      });
    }
    const outputs = known.get(ref.stage);
    if (ref.output !== undefined && outputs !== undefined && !outputs.has(ref.output)) {
      throw new ValidationError(
        field,
        `${who} reads output "${ref.output}" of stage "${ref.stage}", which produces ${[...outputs].join(', ')}`,
        { details: { stage: stage ?? null, missing: `${ref.stage}.${ref.output}` } },
      );
    }
  };

  for (const { spec: stage, index } of nodes.values()) {
    for (const [name, ref] of Object.entries(stage.inputs)) {
      checkRef(ref, `pipeline.stages.${index}.inputs.${name}`, stage.id);
    }
    if (stage.map !== undefined && !(stage.map.over in stage.inputs)) {
      throw new ValidationError(
        `pipeline.stages.${index}.map.over`,
        `stage "${stage.id}" maps over "${stage.map.over}", which is not one of its inputs`,
        { details: { stage: stage.id } },
      );
    }
    if ((stage.kind === 'predict' || stage.kind === 'llm') && stage.config !== undefined) {
      const checked = CallConfigSchema.safeParse(stage.config);
      if (!checked.success) {
        const issue = checked.error.issues[0]!;
        const field = [`pipeline.stages.${index}.config`, ...issue.path.map(String)].join('.');
        throw new DspexError(ErrorCode.BadRequest, `${field}: ${issue.message}`, {
          details: { field, stage: stage.id },
        });
      }
    }
    if (stage.kind === 'fn' && options.hasFunction !== undefined && !options.hasFunction(stage.fn)) {
      throw new DspexError(
        ErrorCode.NotFound,
        `stage "${stage.id}": no function "${stage.fn}" is registered on this node`,
        { details: { field: `pipeline.stages.${index}.fn`, stage: stage.id } },
      );
    }
  }
  for (const [name, ref] of Object.entries(spec.outputs ?? {}))
    checkRef(ref, `pipeline.outputs.${name}`, undefined);

  const order = topologicalOrder(nodes);
  const dependents = new Map<string, string[]>([...nodes.keys()].map((id) => [id, []]));
  for (const node of nodes.values()) for (const dep of node.deps) dependents.get(dep)!.push(node.spec.id);
  const sinks = [...nodes.keys()].filter((id) => dependents.get(id)!.length === 0);
  return { spec, stages: nodes, order, dependents, inputs: [...inputs], sinks };
}

/** Output fields a stage is known to produce; `undefined` when only running it tells. */
function knownOutputs(stage: StageSpec, index: number): ReadonlySet<string> | undefined {
  switch (stage.kind) {
    case 'predict':
    case 'llm': {
      const module = stage.kind === 'llm' ? 'Predict' : stage.module;
      if (module !== 'Predict' && module !== 'ChainOfThought') return undefined;
      let fields: string[];
      try {
        fields = parseSignature(stage.signature).outputs.map((f) => f.name);
      } catch (error) {
        const message = isDspexError(error) ? error.message : String(error);
        throw new ValidationError(`pipeline.stages.${index}.signature`, `stage "${stage.id}": ${message}`, {
          details: { stage: stage.id },
        });
      }
      return new Set(module === 'ChainOfThought' ? ['reasoning', ...fields] : fields);
    }
    case 'transform': {
      const outputs = transformOutputs(stage.op);
      return outputs === undefined ? undefined : new Set(outputs);
    }
    case 'fn':
      return undefined;
    default: {
      const never: never = stage;
      throw new Error(`unknown stage kind ${String(never)}`);
    }
  }
}

/**
 * Kahn's algorithm with declaration order as the tie-break; when stages are left over, a depth-first
 * walk from the first of them finds the cycle to name.
 */
function topologicalOrder(nodes: ReadonlyMap<string, StageNode>): string[] {
  const indegree = new Map([...nodes.values()].map((n) => [n.spec.id, n.deps.length]));
  const order: string[] = [];
  const ready = [...nodes.values()].filter((n) => n.deps.length === 0).map((n) => n.spec.id);
  const readers = new Map<string, string[]>();
  for (const n of nodes.values())
    for (const d of n.deps) readers.set(d, [...(readers.get(d) ?? []), n.spec.id]);
  while (ready.length > 0) {
    const id = ready.shift()!;
    order.push(id);
    for (const reader of readers.get(id) ?? []) {
      const left = indegree.get(reader)! - 1;
      indegree.set(reader, left);
      if (left === 0) ready.push(reader);
    }
  }
  if (order.length === nodes.size) return order;
  const placed = new Set(order);
  const start = [...nodes.values()].find((n) => !placed.has(n.spec.id))!;
  const cycle = findCycle(nodes, start.spec.id, placed);
  const first = nodes.get(cycle[0]!)!;
  throw new ValidationError(
    `pipeline.stages.${first.index}`,
    `stage "${first.spec.id}" is in a dependency cycle: ${cycle.join(' → ')}`,
    { details: { stage: first.spec.id, cycle } },
  );
}

/** A cycle reachable from `start` among stages not placed: `[a, b, a]`. */
function findCycle(
  nodes: ReadonlyMap<string, StageNode>,
  start: string,
  placed: ReadonlySet<string>,
): string[] {
  const path: string[] = [];
  const onPath = new Set<string>();
  const visit = (id: string): string[] | undefined => {
    if (onPath.has(id)) return [...path.slice(path.indexOf(id)), id];
    path.push(id);
    onPath.add(id);
    for (const dep of nodes.get(id)!.deps) {
      if (placed.has(dep)) continue;
      const found = visit(dep);
      if (found !== undefined) return found;
    }
    path.pop();
    onPath.delete(id);
    return undefined;
  };
  // Following deps walks the cycle backwards; reverse it so it reads in data-flow order.
  return (visit(start) ?? [start, start]).reverse();
}
