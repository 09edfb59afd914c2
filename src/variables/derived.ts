/**
 * Derived variables: each is recomputed on this node by its `fn` whenever one of its inputs gets a
 * new revision, and written (as an internal write) with the input revisions it was computed from, so
 * a value computed from older inputs never overwrites one computed from newer ones on any node.
 */
import type { Logger } from 'pino';
import type { VarRecord } from '../protocol/variables.js';
import { dominates, notDefined } from './checks.js';
import type { SetJob } from './variable-machine.js';

/** How a derived variable is computed. */
export interface Derivation<T = unknown> {
  from: readonly string[];
  fn: (inputs: Record<string, unknown>) => T | Promise<T>;
}

/** What the derived set needs from the store. */
export interface DerivedDeps {
  /** The latest record this node has seen. */
  peek(name: string): VarRecord | undefined;
  /** Queues a write on the variable's actor. */
  enqueue(name: string, job: Omit<SetJob, 'settle'>): Promise<VarRecord>;
  /** True once the store is closing. */
  closed(): boolean;
  logger: Logger;
}

export class DerivedVariables {
  private readonly derivations = new Map<string, Derivation>();
  private readonly recomputing = new Map<string, 'running' | 'again'>();

  constructor(private readonly deps: DerivedDeps) {}

  /** Registers (or replaces) this node's derive function of `name` and recomputes it. */
  register(name: string, derivation: Derivation): void {
    this.derivations.set(name, derivation);
    this.recompute(name);
  }

  /** The inputs of `name`: its local derivation's, else those in its record (defined elsewhere). */
  inputsOf(name: string): readonly string[] | undefined {
    return this.derivations.get(name)?.from ?? this.deps.peek(name)?.spec.derived?.from;
  }

  /** The revision of each input as this node has seen it (0 when unseen). */
  inputRevisions(from: readonly string[]): Record<string, number> {
    const out: Record<string, number> = {};
    for (const input of from) out[input] = this.deps.peek(input)?.revision ?? 0;
    return out;
  }

  /** Runs `fn` over the inputs' current values. */
  async compute(d: Derivation): Promise<unknown> {
    const inputs: Record<string, unknown> = {};
    for (const input of d.from) {
      const record = this.deps.peek(input);
      if (record === undefined) throw notDefined(input);
      inputs[input] = record.value;
    }
    return await d.fn(inputs);
  }

  /** `name` has a new revision: recompute what derives from it. */
  inputChanged(name: string): void {
    for (const [derived, d] of this.derivations) if (d.from.includes(name)) this.recompute(derived);
  }

  /** Recomputes a derived variable, coalescing changes that arrive while it runs. */
  private recompute(name: string): void {
    const state = this.recomputing.get(name);
    if (state !== undefined) {
      this.recomputing.set(name, 'again');
      return;
    }
    this.recomputing.set(name, 'running');
    void (async () => {
      for (;;) {
        const d = this.derivations.get(name);
        if (d === undefined || this.deps.closed()) break;
        try {
          const inputs = this.inputRevisions(d.from);
          if (!dominates(this.deps.peek(name)?.inputs, inputs)) {
            const value = await this.compute(d);
            await this.deps.enqueue(name, { value, internal: true, inputs });
          }
        } catch (err) {
          this.deps.logger.error({ err, name }, 'derived variable recompute failed');
        }
        if (this.recomputing.get(name) !== 'again') break;
        this.recomputing.set(name, 'running');
      }
      this.recomputing.delete(name);
    })();
  }
}
