/**
 * Program state in DSPy's JSON form: what `program.dump_state()` returns and `program.save("x.json")`
 * writes (minus `metadata`), and what `program.load_state(state)` accepts. Never pickle.
 */
import type { FieldSpec } from '../signature/index.js';

/** One DSPy predictor's state (`dspy.Predict.dump_state()`). */
export interface PredictorState {
  traces: unknown[];
  train: unknown[];
  demos: Array<Record<string, unknown>>;
  signature: { instructions: string; fields: Array<{ prefix: string; description: string }> };
  /** The worker ignores it: it runs the LM it is configured with (or the call's `config.lm`). */
  lm: Record<string, unknown> | null;
  [key: string]: unknown;
}

/**
 * A module's state: for a bare `Predict` the predictor's own map, otherwise a map from DSPy predictor
 * name (`predict`, `react`, `extract.predict`, `a.predict`, …) to {@link PredictorState}.
 */
export type ModuleState = PredictorState | Record<string, PredictorState>;

/** DSPy's default label of a field: words of its name, capitalised, and a colon. */
export function fieldPrefix(name: string): string {
  const words = name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .replace(/([a-zA-Z])(\d)/g, '$1_$2')
    .replace(/(\d)([a-zA-Z])/g, '$1_$2')
    .split('_')
    .filter((w) => w !== '');
  const title = words.map((w) =>
    w === w.toUpperCase() ? w : w[0]!.toUpperCase() + w.slice(1).toLowerCase(),
  );
  return `${title.join(' ')}:`;
}

const quoted = (fields: readonly FieldSpec[]) => fields.map((f) => `\`${f.name}\``).join(', ');

/** DSPy's default instructions of a signature without any. */
export function defaultInstructions(inputs: readonly FieldSpec[], outputs: readonly FieldSpec[]): string {
  return `Given the fields ${quoted(inputs)}, produce the fields ${quoted(outputs)}.`;
}

/**
 * A predictor's state as DSPy dumps a freshly built one. `fields` covers the leading fields whose
 * labels follow DSPy's naming rule; DSPy pairs saved fields by position and keeps its own labels for
 * any it is not given.
 */
export function predictorState(
  instructions: string,
  fields: readonly FieldSpec[],
  demos: Array<Record<string, unknown>> = [],
): PredictorState {
  return {
    traces: [],
    train: [],
    demos,
    signature: {
      instructions,
      fields: fields.map((f) => ({
        prefix: fieldPrefix(f.name),
        description: f.description ?? `\${${f.name}}`,
      })),
    },
    lm: null,
  };
}

/** True for a bare predictor's state (it has a `signature` map of its own). */
export function isPredictorState(state: unknown): state is PredictorState {
  return (
    typeof state === 'object' &&
    state !== null &&
    typeof (state as { signature?: unknown }).signature === 'object' &&
    Array.isArray((state as { demos?: unknown }).demos ?? [])
  );
}

/** Reads a module state from JSON text or a decoded value (`metadata` from `save()` is dropped). */
export function parseState(value: unknown): ModuleState {
  const source: unknown = typeof value === 'string' ? JSON.parse(value) : value;
  if (typeof source !== 'object' || source === null || Array.isArray(source)) {
    throw new TypeError('a DSPy state is a JSON object');
  }
  const { metadata: _metadata, ...rest } = source as Record<string, unknown>;
  return structuredClone(rest) as ModuleState;
}
