/**
 * The write side of the store: validation (compiled per spec, with this node's local checks), the
 * lease check and the compare-and-set on the KV revision. `write` is the effect each variable actor
 * invokes for one queued write; `create` makes a variable that does not exist yet.
 */
import type { KV } from '@nats-io/kv';
import { DspexError, ErrorCode } from '../errors.js';
import type { VarRecord, VarSpec, VarStored } from '../protocol/variables.js';
import { encodeStored, isWrongLastSequence } from './buckets.js';
import { dominates, notDefined } from './checks.js';
import { compileValidator, type LocalChecks, type Validator } from './constraints.js';
import { leaseHeldError, type LeaseManager } from './leases.js';
import type { WriteInput } from './variable-machine.js';

/** What the writer needs from the store. */
export interface WriterDeps {
  values: KV;
  leases: LeaseManager;
  nodeId: string;
  maxValueBytes: number;
  /** Reads the latest record from the server (and feeds it to the variable's actor). */
  fetch(name: string): Promise<VarRecord | undefined>;
}

/** Compare-and-set attempts of a write without `revision` before it gives up with a 409. */
const MAX_ATTEMPTS = 9;

export class VariableWriter {
  private readonly local = new Map<string, LocalChecks>();
  private readonly validators = new Map<string, { key: string; spec: VarSpec; validate: Validator }>();

  constructor(private readonly deps: WriterDeps) {}

  /** Registers this node's local checks of a variable (a zod type, a predicate). */
  setLocal(name: string, local: LocalChecks): void {
    this.local.set(name, local);
    this.validators.delete(name);
  }

  /** The validator of `spec` plus this node's local checks, compiled once per spec. */
  validator(name: string, spec: VarSpec): Validator {
    const hit = this.validators.get(name);
    // Successive writes carry the same spec object: skip serialising it to compare.
    if (hit !== undefined && hit.spec === spec) return hit.validate;
    const key = JSON.stringify(spec);
    if (hit !== undefined && hit.key === key) {
      hit.spec = spec;
      return hit.validate;
    }
    const validate = compileValidator(spec, this.local.get(name));
    this.validators.set(name, { key, spec, validate });
    return validate;
  }

  /** Creates a variable; `undefined` when it exists already (defined concurrently elsewhere). */
  async create(
    name: string,
    spec: VarSpec,
    value: unknown,
    inputs?: Record<string, number>,
  ): Promise<VarRecord | undefined> {
    const validated = this.validator(name, spec)(value);
    const stored: VarStored = { name, value: validated, spec, node: this.deps.nodeId, at: Date.now() };
    if (inputs !== undefined) stored.inputs = inputs;
    // A lease may be taken before the variable exists; its mark must be in the first record.
    const lease = await this.deps.leases.current(name);
    if (lease !== undefined) stored.holder = lease.holder;
    try {
      const revision = await this.deps.values.create(name, this.encode(stored));
      return { ...stored, revision };
    } catch (error) {
      if (!isWrongLastSequence(error)) throw error;
      return undefined;
    }
  }

  /**
   * The injected write effect of the variable machine: one compare-and-set on the revision of the
   * record the decision was made on. The record carries the lease holder (acquisition writes a
   * marker revision), so a write without a holder on an unmarked record needs no lease read: a
   * lease taken since has moved the revision and the CAS fails. A marked record (maybe an expired
   * lease, whose expiry is silent) and every holder's write read the lease bucket, as before.
   */
  async write({ name, job, known }: WriteInput): Promise<VarRecord> {
    let current = known ?? (await this.deps.fetch(name));
    // The lease decision must be made on the very revision the CAS expects.
    if (job.revision !== undefined && current?.revision !== job.revision) {
      current = await this.deps.fetch(name);
      if (current !== undefined && current.revision !== job.revision)
        throw staleRevision(name, job.revision, current);
    }
    const newSpec = job.spec;
    for (let attempt = 1; ; attempt++) {
      if (current === undefined) throw notDefined(name);
      if (current.spec.derived !== undefined && !job.internal) {
        throw new DspexError(
          ErrorCode.BadRequest,
          `variable ${name} is derived from ${current.spec.derived.from.join(', ')}; set its inputs instead`,
          { details: { field: 'name', reason: 'derived' } },
        );
      }
      if (job.inputs !== undefined && dominates(current.inputs, job.inputs)) return current;
      const spec = newSpec ?? current.spec;
      const value = this.validator(name, spec)(job.value);
      const stored: VarStored = { name, value, spec, node: this.deps.nodeId, at: Date.now() };
      if (job.score !== undefined) stored.score = job.score;
      if (job.by !== undefined) stored.by = job.by;
      if (job.inputs !== undefined) stored.inputs = job.inputs;
      if (job.internal) {
        // The store's own writes (spec update, derived value) leave the lease state as it is.
        if (current.holder !== undefined) stored.holder = current.holder;
      } else if (job.holder !== undefined) {
        // Read from the server: the holder's lease may have expired or been taken over.
        const lease = await this.deps.leases.current(name);
        if (lease === undefined) {
          throw new DspexError(ErrorCode.RevisionConflict, `${job.holder} holds no lease on ${name}`, {
            details: { field: 'holder', reason: 'lease_not_held' },
          });
        }
        if (lease.holder !== job.holder) throw leaseHeldError(name, lease, this.deps.leases.ttlMs);
        stored.lease = lease.revision;
        stored.holder = job.holder;
      } else if (current.holder !== undefined) {
        // Marked: live, or expired without a trace. A write that goes through clears the mark.
        const lease = await this.deps.leases.current(name);
        if (lease !== undefined) throw leaseHeldError(name, lease, this.deps.leases.ttlMs);
      }
      const expected = job.revision ?? current.revision;
      try {
        const revision = await this.deps.values.update(name, this.encode(stored), expected);
        return { ...stored, revision };
      } catch (error) {
        if (!isWrongLastSequence(error)) throw error;
      }
      const fresh = await this.deps.fetch(name);
      if (job.revision !== undefined || attempt >= MAX_ATTEMPTS) throw staleRevision(name, expected, fresh);
      current = fresh;
    }
  }

  /**
   * Writes a marker revision saying `holder` took the lease of `name` (unless the record already
   * names it). Retried on a concurrent write; a missing variable needs no mark (`create` reads the
   * lease).
   */
  async mark(name: string, holder: string): Promise<void> {
    for (let attempt = 1; attempt <= MAX_ATTEMPTS * 2; attempt++) {
      const current = await this.deps.fetch(name);
      if (current === undefined || current.holder === holder) return;
      const { revision, ...stored } = current;
      stored.marker = true;
      stored.node = this.deps.nodeId;
      stored.at = Date.now();
      stored.holder = holder;
      try {
        await this.deps.values.update(name, this.encode(stored), revision);
        return;
      } catch (error) {
        if (!isWrongLastSequence(error)) throw error;
      }
    }
    throw new DspexError(ErrorCode.Unavailable, `variable ${name}: could not mark the lease of ${holder}`, {
      details: { field: 'name', reason: 'lease_mark_contended' },
    });
  }

  private encode(stored: VarStored): Uint8Array {
    const bytes = encodeStored(stored);
    if (bytes.length > this.deps.maxValueBytes) {
      throw new DspexError(
        ErrorCode.PayloadTooLarge,
        `variable ${stored.name}: value is ${bytes.length} bytes encoded, over ${this.deps.maxValueBytes}`,
        { details: { field: 'value', limit: this.deps.maxValueBytes, size: bytes.length } },
      );
    }
    return bytes;
  }
}

function staleRevision(name: string, expected: number, fresh: VarRecord | undefined): DspexError {
  return new DspexError(
    ErrorCode.RevisionConflict,
    `variable ${name}: revision ${expected} is stale; current revision is ${fresh?.revision ?? 'none'}`,
    {
      details: {
        field: 'revision',
        reason: 'stale_revision',
        current_revision: fresh?.revision ?? null,
      },
    },
  );
}
