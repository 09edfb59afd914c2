/**
 * Binding module parameters to variables: a {@link Binding} rewrites a predict request just before
 * it is sent, from the values this node's KV watch keeps current, so the next call on any node uses
 * a value set anywhere in the cluster.
 */
import { DspexError, ErrorCode } from '../errors.js';
import type { CallConfig, PredictRequest } from '../protocol/schemas.js';
import type { VarRecord } from '../protocol/variables.js';

const VAR_REF: unique symbol = Symbol.for('dspex.varRef');

/** A placeholder for a variable's value, resolved at call time by {@link resolveRefs}. */
export interface VarRef<T = unknown> {
  readonly [VAR_REF]: true;
  readonly name: string;
  /** Type carrier only. */
  readonly __type?: T;
}

/** A value or a reference to a variable holding one. */
export type Bindable<T> = T | VarRef<T>;

export function varRef<T = unknown>(name: string): VarRef<T> {
  return Object.freeze({ [VAR_REF]: true as const, name });
}

export function isVarRef(value: unknown): value is VarRef {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[VAR_REF] === true;
}

/** How a binding reads values: `cached` from the local watch (no round trip), `latest` from the KV. */
export type Consistency = 'cached' | 'latest';

/** Reads a variable's record; `undefined` when it does not exist. */
export type RecordReader = (name: string, consistency: Consistency) => Promise<VarRecord | undefined>;

/**
 * Which request parts come from which variable (by name).
 */
export interface BindingSpec {
  /** Variable holding the signature instructions (a string). */
  instructions?: string;
  /** Variables holding LM configuration entries: `{ temperature: 'temp', lm: 'model' }`. */
  config?: Partial<Record<keyof CallConfig | (string & {}), string>>;
  /** Variable holding the few-shot demos (a list of maps). */
  demos?: string;
  /**
   * Variable holding a whole program state in DSPy's JSON form (`dump_state()`, what an optimizer
   * compiled); sent as the request's `state`, which the worker loads before the call.
   */
  state?: string;
  /** @default 'cached' */
  consistency?: Consistency;
}

/** What `RemoteModule` calls before sending a request (see `ModuleOptions.binding`). */
export interface RequestBinding {
  /** Variable names this binding reads. */
  readonly names: readonly string[];
  apply(request: PredictRequest): Promise<PredictRequest>;
}

/**
 * A binding made by `VariableStore.bind()`: it announces itself as an observer of the variables it
 * reads until released. Release it (or declare it with `using`) once no module uses it.
 */
export interface VariableBinding extends RequestBinding, Disposable {
  /** Withdraws the binding's observer announcements; idempotent. The binding keeps working. */
  release(): void;
}

/** Builds the {@link RequestBinding} of a spec over a record reader. */
export function createBinding(spec: BindingSpec, read: RecordReader): RequestBinding {
  const consistency = spec.consistency ?? 'cached';
  const names = [
    ...new Set(
      [spec.state, spec.instructions, spec.demos, ...Object.values(spec.config ?? {})].filter(
        (n): n is string => typeof n === 'string',
      ),
    ),
  ];
  const value = async (name: string, field: string): Promise<unknown> => {
    const record = await read(name, consistency);
    if (record === undefined) {
      throw new DspexError(ErrorCode.NotFound, `variable "${name}" bound to ${field} is not defined`, {
        details: { field, variable: name },
      });
    }
    return record.value;
  };
  return {
    names,
    async apply(request) {
      const out: PredictRequest = { ...request };
      if (spec.state !== undefined) applyState(out, await value(spec.state, 'state'), spec.state);
      if (spec.instructions !== undefined) {
        out.instructions = expect(
          await value(spec.instructions, 'instructions'),
          'string',
          spec.instructions,
        );
      }
      if (spec.demos !== undefined) out.demos = demosOf(await value(spec.demos, 'demos'), spec.demos);
      const entries = Object.entries(spec.config ?? {}).filter(
        (e): e is [string, string] => typeof e[1] === 'string',
      );
      if (entries.length > 0) {
        const config: CallConfig = { ...out.config };
        for (const [key, name] of entries) config[key] = await value(name, `config.${key}`);
        out.config = config;
      }
      return out;
    },
  };
}

function applyState(out: PredictRequest, state: unknown, name: string): void {
  if (typeof state !== 'object' || state === null || Array.isArray(state)) {
    throw badBound(name, 'a program state map');
  }
  out.state = state as Record<string, unknown>;
  // The state carries its own demos; request demos would be applied on top of it.
  delete out.demos;
}

function demosOf(value: unknown, name: string): Array<Record<string, unknown>> {
  if (
    !Array.isArray(value) ||
    !value.every((d) => typeof d === 'object' && d !== null && !Array.isArray(d))
  ) {
    throw badBound(name, 'a list of maps');
  }
  return value as Array<Record<string, unknown>>;
}

function expect(value: unknown, type: 'string', name: string): string {
  if (typeof value !== type) throw badBound(name, `a ${type}`);
  return value as string;
}

function badBound(name: string, what: string): DspexError {
  return new DspexError(ErrorCode.ValidationFailed, `variable "${name}" must hold ${what} to be bound`, {
    details: { field: 'value', variable: name },
  });
}

/**
 * Replaces every {@link VarRef} inside `value` (maps and lists, any depth) by the variable's value.
 * @example
 * ```ts
 * const config = await resolveRefs({ temperature: rt.variables.ref('temp') }, read);
 * ```
 */
export async function resolveRefs<T>(
  value: T,
  read: RecordReader,
  consistency: Consistency = 'cached',
): Promise<T> {
  const walk = async (v: unknown, path: string): Promise<unknown> => {
    if (isVarRef(v)) {
      const record = await read(v.name, consistency);
      if (record === undefined) {
        throw new DspexError(
          ErrorCode.NotFound,
          `variable "${v.name}" referenced at ${path} is not defined`,
          {
            details: { field: path, variable: v.name },
          },
        );
      }
      return record.value;
    }
    if (Array.isArray(v)) return Promise.all(v.map((item, i) => walk(item, `${path}.${i}`)));
    if (typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype) {
      const out: Record<string, unknown> = {};
      for (const [k, item] of Object.entries(v)) out[k] = await walk(item, path === '' ? k : `${path}.${k}`);
      return out;
    }
    return v;
  };
  return (await walk(value, '')) as T;
}
