/**
 * The variable store of one node: one {@link variableMachine} actor per variable, fed by a single KV
 * watch over the values bucket (so every node's cache follows every write in the cluster), writes
 * by compare-and-set on the KV revision, leases, derived variables, observers and bindings.
 */
import { isDeepStrictEqual } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import type { NatsConnection, QueuedIterator } from '@nats-io/nats-core';
import type { KvWatchEntry } from '@nats-io/kv';
import { pino, type Logger } from 'pino';
import { createActor, fromPromise, type Actor } from 'xstate';
import type { z } from 'zod';
import { DspexError, ErrorCode } from '../errors.js';
import {
  VarNameSchema,
  VarSpecSchema,
  type VarDescription,
  type VarHistoryEntry,
  type VarRecord,
  type VarSpec,
  type VarStored,
} from '../protocol/variables.js';
import { parseMessage } from '../protocol/schemas.js';
import {
  createBinding,
  resolveRefs,
  varRef,
  type BindingSpec,
  type Consistency,
  type RequestBinding,
  type VarRef,
} from './binding.js';
import {
  bucketNames,
  encodeStored,
  isWrongLastSequence,
  leaseTtlOf,
  openBuckets,
  recordOf,
  type BucketNames,
  type Buckets,
} from './buckets.js';
import {
  checkConstraints,
  compileValidator,
  typeSchema,
  type LocalChecks,
  type Validator,
} from './constraints.js';
import { assertAcyclic } from './graph.js';
import { leaseHeldError, LeaseManager, type AcquireOptions, type Lease } from './leases.js';
import { ObserverRegistry } from './observers.js';
import { VariablesOptionsSchema, type ResolvedVariablesOptions, type VariablesOptions } from './options.js';
import { variableMachine, type SetJob, type WriteInput } from './variable-machine.js';

/** How a variable is defined. `T` is the value type (inferred from a zod `type`). */
export interface VariableDefinition<T = unknown> {
  name: string;
  /** A signature-engine type string (`'float'`, `"Literal['a', 'b']"`) or, node-locally, a zod schema. */
  type?: string | z.ZodType<T>;
  /** The first value; required unless `derive` is given. Ignored when the variable already exists. */
  initial?: T;
  constraints?: VarSpec['constraints'];
  /** A custom check, run on this node's writes: `true` or the reason for refusing. */
  check?: (value: T) => true | string;
  /** Makes it a derived variable: recomputed by `fn` on this node whenever an input changes. */
  derive?: {
    from: readonly string[];
    fn: (inputs: Record<string, unknown>) => T | Promise<T>;
  };
  description?: string;
  metadata?: Record<string, unknown>;
}

/** Options of a write. */
export interface SetOptions {
  /** Compare-and-set: the revision you read. A stale one is refused with 409 `revision_conflict`. */
  revision?: number;
  /** Who writes (recorded in history). @default the lease holder, else unset */
  by?: string;
  /** The score of this value, for optimizers (recorded in history). */
  score?: number;
  /** Write under this lease; required while another holder's lease is live. */
  lease?: Lease;
  /** Claim a lease by holder name (wire clients); `lease` does this for you. */
  holder?: string;
}

/** Options of a local watch. */
export interface WatchOptions {
  /** Announce this observer cluster-wide under this id (letters, digits, `_`, `-`). @default generated */
  id?: string;
  /** @default 'callback' */
  kind?: string;
  /** Also call back at once with the current value. @default false */
  initial?: boolean;
}

/** Called with the new record, or `undefined` once the variable is deleted. */
export type VarObserverFn<T = unknown> = (record: (VarRecord & { value: T }) | undefined) => void;

/** A handle on one variable. */
export interface Variable<T = unknown> {
  readonly name: string;
  /** The latest record this node has seen (the KV watch keeps it current), if any. */
  peek(): (VarRecord & { value: T }) | undefined;
  get(options?: { consistency?: Consistency; revision?: number }): Promise<VarRecord & { value: T }>;
  set(value: T, options?: SetOptions): Promise<VarRecord & { value: T }>;
  watch(fn: VarObserverFn<T>, options?: WatchOptions): () => void;
  history(options?: { limit?: number }): Promise<VarHistoryEntry[]>;
  describe(): Promise<VarDescription>;
  ref(): VarRef<T>;
}

/** Options of {@link createVariableStore}. */
export interface VariableStoreOptions {
  nc: NatsConnection;
  nodeId: string;
  /** Subject prefix (bucket names and event subjects derive from it). @default 'dspex' */
  prefix?: string;
  options?: VariablesOptions;
  logger?: Logger;
}

export type VariableActor = Actor<typeof variableMachine>;

/** Starts a store: opens (or creates) the buckets and waits until its cache holds every variable. */
export async function createVariableStore(o: VariableStoreOptions): Promise<VariableStore> {
  const options = VariablesOptionsSchema.parse(o.options ?? {});
  const names = bucketNames(o.prefix ?? 'dspex', options);
  const buckets = await openBuckets(o.nc, names, options);
  const ttl = await leaseTtlOf(o.nc, names);
  const store = new VariableStore(
    o.nc,
    o.nodeId,
    buckets,
    options,
    ttl,
    o.logger ?? pino({ level: 'silent' }),
  );
  await store.start();
  return store;
}

export class VariableStore implements AsyncDisposable {
  private readonly actors = new Map<string, VariableActor>();
  private readonly local = new Map<string, LocalChecks>();
  private readonly derivers = new Map<string, NonNullable<VariableDefinition['derive']>>();
  private readonly validators = new Map<string, { key: string; validate: Validator }>();
  private readonly callbacks = new Map<string, Set<VarObserverFn>>();
  private readonly recomputing = new Map<string, 'running' | 'again'>();
  private readonly leases: LeaseManager;
  private readonly observers: ObserverRegistry;
  private watcher: QueuedIterator<KvWatchEntry> | undefined;
  private lastRevision = 0;
  private closed = false;
  private loop: Promise<void> | undefined;

  constructor(
    readonly nc: NatsConnection,
    readonly nodeId: string,
    private readonly buckets: Buckets,
    readonly options: ResolvedVariablesOptions,
    leaseTtlMs: number,
    private readonly logger: Logger,
  ) {
    this.leases = new LeaseManager(buckets.leases, nodeId, leaseTtlMs, logger);
    this.observers = new ObserverRegistry(buckets.observers, nodeId, options.observerTtlMs, logger);
  }

  /** Bucket names and the event subject prefix. */
  get names(): BucketNames {
    return this.buckets.names;
  }
  /** The TTL of leases (the lease bucket's). */
  get leaseTtlMs(): number {
    return this.leases.ttlMs;
  }

  async start(): Promise<void> {
    const status = await this.buckets.values.status();
    const until = status.streamInfo.state.last_seq;
    this.observers.start();
    let synced!: () => void;
    const ready = new Promise<void>((resolve) => (synced = resolve));
    if (until === 0) synced();
    this.loop = this.watchLoop(until, synced);
    await ready;
  }

  /** Follows the values bucket; resumes after the last revision seen if the watch ends (server restart). */
  private async watchLoop(until: number, synced: () => void): Promise<void> {
    while (!this.closed) {
      try {
        const from = this.lastRevision;
        this.watcher = await this.buckets.values.watch(from === 0 ? {} : { resumeFromRevision: from + 1 });
        for await (const entry of this.watcher) {
          this.lastRevision = Math.max(this.lastRevision, entry.revision);
          this.onEntry(entry);
          if (this.lastRevision >= until) synced();
        }
      } catch (err) {
        if (!this.closed) this.logger.warn({ err }, 'variable watch failed; resuming');
      }
      if (!this.closed) await sleep(250);
    }
  }

  private onEntry(entry: KvWatchEntry): void {
    if (entry.operation !== 'PUT') {
      this.actor(entry.key).send({ type: 'removed', revision: entry.revision });
      return;
    }
    const record = recordOf(entry);
    if (record === undefined) {
      this.logger.warn(
        { key: entry.key, revision: entry.revision },
        'ignoring a value that is not a variable record',
      );
      return;
    }
    this.actor(record.name).send({ type: 'observed', record });
  }

  private actor(name: string): VariableActor {
    let actor = this.actors.get(name);
    if (actor === undefined) {
      actor = createActor(
        variableMachine.provide({
          actors: { write: fromPromise<VarRecord, WriteInput>(({ input }) => this.write(input)) },
          actions: { notify: (_, params) => this.changed(name, params.record) },
        }),
        { input: { name, queueLimit: this.options.writeQueueLimit } },
      );
      this.actors.set(name, actor);
      actor.start();
    }
    return actor;
  }

  /** The latest record seen on this node, without a round trip. */
  peek(name: string): VarRecord | undefined {
    return this.actors.get(name)?.getSnapshot().context.record;
  }

  /** Reads a variable: from the local cache (`cached`, the default), the server, or at a revision. */
  async get(
    name: string,
    options: { consistency?: Consistency; revision?: number } = {},
  ): Promise<VarRecord> {
    const record =
      options.revision !== undefined
        ? await this.fetch(name, options.revision)
        : options.consistency === 'latest'
          ? await this.fetch(name)
          : (this.peek(name) ?? (await this.fetch(name)));
    if (record === undefined) throw notDefined(name, options.revision);
    return record;
  }

  private async fetch(name: string, revision?: number): Promise<VarRecord | undefined> {
    checkName(name);
    const entry = await this.buckets.values.get(name, revision === undefined ? undefined : { revision });
    if (entry === null) return undefined;
    if (revision !== undefined && entry.key !== name) return undefined;
    const record = recordOf(entry);
    if (record !== undefined && revision === undefined) this.actor(name).send({ type: 'observed', record });
    return record;
  }

  /**
   * Defines a variable (idempotent): creates it with `initial` (or the derived value) when missing,
   * updates its spec when it changed, and registers this node's local checks and derive function.
   * A dependency cycle is refused with a 400 naming it.
   */
  async define<T>(def: VariableDefinition<T>): Promise<Variable<T>> {
    const name = checkName(def.name);
    const spec = parseMessage(
      VarSpecSchema,
      {
        type: typeof def.type === 'string' ? def.type : undefined,
        constraints: def.constraints,
        derived: def.derive === undefined ? undefined : { from: [...def.derive.from] },
        description: def.description,
        metadata: def.metadata,
      },
      `variable ${name}`,
    );
    for (const key of Object.keys(spec) as Array<keyof VarSpec>)
      if (spec[key] === undefined) delete spec[key];
    if (spec.type !== undefined) typeSchema(spec.type);
    checkConstraints(spec.constraints);
    if (def.derive !== undefined) {
      for (const input of def.derive.from) checkName(input);
      assertAcyclic(name, def.derive.from, (n) => this.inputsOf(n));
      for (const input of def.derive.from)
        if ((await this.fetch(input)) === undefined) throw notDefined(input);
    } else if (def.initial === undefined) {
      throw new DspexError(ErrorCode.BadRequest, `variable ${name}: initial is required (or derive)`, {
        details: { field: 'initial' },
      });
    }
    const local: LocalChecks = {};
    if (def.type !== undefined && typeof def.type !== 'string') local.schema = def.type;
    if (def.check !== undefined) local.predicate = def.check as (v: unknown) => true | string;
    this.local.set(name, local);
    this.validators.delete(name);

    const existing = await this.fetch(name);
    if (existing === undefined) {
      const value = def.derive === undefined ? def.initial : await this.computeDerived(def.derive);
      await this.create(
        name,
        spec,
        value,
        def.derive === undefined ? undefined : this.inputRevisions(def.derive.from),
      );
    } else if (!isDeepStrictEqual(existing.spec, spec)) {
      await this.enqueue(name, { value: existing.value, internal: true, spec });
    }
    if (def.derive !== undefined) {
      this.derivers.set(name, def.derive);
      this.recompute(name);
    }
    return this.variable<T>(name);
  }

  private async create(
    name: string,
    spec: VarSpec,
    value: unknown,
    inputs?: Record<string, number>,
  ): Promise<void> {
    const validated = this.validator(name, spec)(value);
    const stored: VarStored = { name, value: validated, spec, node: this.nodeId, at: Date.now() };
    if (inputs !== undefined) stored.inputs = inputs;
    try {
      const revision = await this.buckets.values.create(name, this.encode(stored));
      this.actor(name).send({ type: 'observed', record: { ...stored, revision } });
    } catch (error) {
      if (!isWrongLastSequence(error)) throw error;
      // Defined concurrently elsewhere: converge on the spec through a normal write.
      const current = await this.fetch(name);
      if (current !== undefined && !isDeepStrictEqual(current.spec, spec)) {
        await this.enqueue(name, { value: current.value, internal: true, spec });
      }
    }
  }

  /** A handle on a variable (which may not exist yet). */
  variable<T = unknown>(name: string): Variable<T> {
    checkName(name);
    type R = VarRecord & { value: T };
    return {
      name,
      peek: () => this.peek(name) as R | undefined,
      get: async (options) => (await this.get(name, options)) as R,
      set: async (value, options) => (await this.set(name, value, options)) as R,
      watch: (fn, options) => this.watch(name, fn as VarObserverFn, options),
      history: (options) => this.history(name, options),
      describe: () => this.describe(name),
      ref: () => varRef<T>(name),
    };
  }

  /** Writes a value: validated, lease-checked, compare-and-set on the KV revision. */
  set(name: string, value: unknown, options: SetOptions = {}): Promise<VarRecord> {
    checkName(name);
    const job: Omit<SetJob, 'settle'> = { value };
    if (options.revision !== undefined) job.revision = options.revision;
    if (options.score !== undefined) job.score = options.score;
    const holder = options.lease?.holder ?? options.holder;
    if (options.lease !== undefined && !options.lease.held) {
      return Promise.reject(
        new DspexError(ErrorCode.RevisionConflict, `lease of ${options.lease.holder} has ended`, {
          details: { field: 'lease', reason: 'lease_not_held' },
        }),
      );
    }
    if (holder !== undefined) job.holder = holder;
    const by = options.by ?? holder;
    if (by !== undefined) job.by = by;
    return this.enqueue(name, job);
  }

  private enqueue(name: string, job: Omit<SetJob, 'settle'>): Promise<VarRecord> {
    return new Promise((resolve, reject) => {
      this.actor(name).send({
        type: 'set',
        job: {
          ...job,
          settle: (outcome) =>
            'record' in outcome
              ? resolve(outcome.record)
              : reject(outcome.error instanceof Error ? outcome.error : new Error(String(outcome.error))),
        },
      });
    });
  }

  /** The injected write effect of the variable machine. */
  private async write({ name, job, known }: WriteInput): Promise<VarRecord> {
    let current = known ?? (await this.fetch(name));
    const newSpec = job.spec;
    for (let attempt = 0; ; attempt++) {
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
      // Read from the server on every write, not from a watch: a lease taken on another node an
      // instant ago must stop this write (a watch cache would lag it; measured, it saves one RTT).
      const lease = await this.leases.current(name);
      if (!job.internal) {
        if (lease !== undefined && lease.holder !== job.holder)
          throw leaseHeldError(name, lease, this.leases.ttlMs);
        if (job.holder !== undefined && lease === undefined) {
          throw new DspexError(ErrorCode.RevisionConflict, `${job.holder} holds no lease on ${name}`, {
            details: { field: 'holder', reason: 'lease_not_held' },
          });
        }
      }
      const stored: VarStored = { name, value, spec, node: this.nodeId, at: Date.now() };
      if (job.score !== undefined) stored.score = job.score;
      if (job.by !== undefined) stored.by = job.by;
      if (lease !== undefined && lease.holder === job.holder) stored.lease = lease.revision;
      if (job.inputs !== undefined) stored.inputs = job.inputs;
      const expected = job.revision ?? current.revision;
      try {
        const revision = await this.buckets.values.update(name, this.encode(stored), expected);
        return { ...stored, revision };
      } catch (error) {
        if (!isWrongLastSequence(error)) throw error;
      }
      const fresh = await this.fetch(name);
      if (job.revision !== undefined || attempt >= 8) {
        throw new DspexError(
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
      current = fresh;
    }
  }

  private encode(stored: VarStored): Uint8Array {
    const bytes = encodeStored(stored);
    if (bytes.length > this.options.maxValueBytes) {
      throw new DspexError(
        ErrorCode.PayloadTooLarge,
        `variable ${stored.name}: value is ${bytes.length} bytes encoded, over ${this.options.maxValueBytes}`,
        { details: { field: 'value', limit: this.options.maxValueBytes, size: bytes.length } },
      );
    }
    return bytes;
  }

  private validator(name: string, spec: VarSpec): Validator {
    const key = JSON.stringify(spec);
    const hit = this.validators.get(name);
    if (hit !== undefined && hit.key === key) return hit.validate;
    const validate = compileValidator(spec, this.local.get(name));
    this.validators.set(name, { key, validate });
    return validate;
  }

  /** Called by a variable actor once per new revision (or delete). */
  private changed(name: string, record: VarRecord | undefined): void {
    // Deferred: actions run before the actor commits its snapshot, and recomputes read `peek()`.
    queueMicrotask(() => this.dispatch(name, record));
  }

  private dispatch(name: string, record: VarRecord | undefined): void {
    for (const fn of this.callbacks.get(name) ?? []) {
      try {
        fn(record);
      } catch (err) {
        this.logger.error({ err, name }, 'variable observer threw');
      }
    }
    for (const [derived, d] of this.derivers) if (d.from.includes(name)) this.recompute(derived);
  }

  private inputsOf(name: string): readonly string[] | undefined {
    return this.derivers.get(name)?.from ?? this.peek(name)?.spec.derived?.from;
  }

  private inputRevisions(from: readonly string[]): Record<string, number> {
    const out: Record<string, number> = {};
    for (const input of from) out[input] = this.peek(input)?.revision ?? 0;
    return out;
  }

  private async computeDerived(d: NonNullable<VariableDefinition['derive']>): Promise<unknown> {
    const inputs: Record<string, unknown> = {};
    for (const input of d.from) {
      const record = this.peek(input);
      if (record === undefined) throw notDefined(input);
      inputs[input] = record.value;
    }
    return await d.fn(inputs);
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
        const d = this.derivers.get(name);
        if (d === undefined || this.closed) break;
        try {
          const inputs = this.inputRevisions(d.from);
          if (!dominates(this.peek(name)?.inputs, inputs)) {
            const value = await this.computeDerived(d);
            await this.enqueue(name, { value, internal: true, inputs });
          }
        } catch (err) {
          this.logger.error({ err, name }, 'derived variable recompute failed');
        }
        if (this.recomputing.get(name) !== 'again') break;
        this.recomputing.set(name, 'running');
      }
      this.recomputing.delete(name);
    })();
  }

  /** Watches a variable on this node; the observer is announced cluster-wide until unsubscribed. */
  watch(name: string, fn: VarObserverFn, options: WatchOptions = {}): () => void {
    checkName(name);
    if (options.id !== undefined) checkName(options.id);
    let set = this.callbacks.get(name);
    if (set === undefined) this.callbacks.set(name, (set = new Set()));
    const callback: VarObserverFn = (record) => fn(record);
    set.add(callback);
    this.actor(name);
    const withdraw = this.observers.announce(name, options.kind ?? 'callback', options.id);
    if (options.initial === true) {
      const record = this.peek(name);
      if (record !== undefined) queueMicrotask(() => fn(record));
    }
    return () => {
      set.delete(callback);
      withdraw();
    };
  }

  /** Every variable with its latest record, optionally by name prefix, read from the server. */
  async list(prefix = ''): Promise<VarRecord[]> {
    const keys: string[] = [];
    for await (const key of await this.buckets.values.keys()) if (key.startsWith(prefix)) keys.push(key);
    const records = await Promise.all(keys.sort().map((key) => this.fetch(key)));
    return records.filter((r): r is VarRecord => r !== undefined);
  }

  /** The kept revisions of a variable (oldest first), each with value, score, who and when. */
  async history(name: string, options: { limit?: number } = {}): Promise<VarHistoryEntry[]> {
    checkName(name);
    const entries: VarHistoryEntry[] = [];
    const iter = await this.buckets.values.history({ key: name });
    for await (const entry of iter) {
      const record = recordOf(entry);
      const item: VarHistoryEntry = {
        revision: entry.revision,
        operation: entry.operation,
        value: record?.value ?? null,
        at: record?.at ?? entry.created.getTime(),
      };
      if (record?.score !== undefined) item.score = record.score;
      if (record?.by !== undefined) item.by = record.by;
      if (record !== undefined) item.node = record.node;
      entries.push(item);
    }
    if (entries.length === 0) throw notDefined(name);
    return options.limit === undefined ? entries : entries.slice(-options.limit);
  }

  /** The record, the current lease holder and the announced observers of a variable. */
  async describe(name: string): Promise<VarDescription> {
    const [record, lease, observers] = await Promise.all([
      this.get(name, { consistency: 'latest' }),
      this.leases.current(name),
      this.observers.list(name),
    ]);
    return { record, lease: lease ?? null, observers };
  }

  /** Acquires the optimizer lease of one or more variables (all or nothing). */
  acquire(names: string | readonly string[], options: AcquireOptions): Promise<Lease> {
    const list = typeof names === 'string' ? [names] : names;
    for (const n of list) checkName(n);
    return this.leases.acquire(list, options);
  }

  /** The lease manager, for the wire endpoints (renewal by holder name). */
  get leaseManager(): LeaseManager {
    return this.leases;
  }

  /** A reference to a variable's value, resolved at call time by {@link resolve} or a binding. */
  ref<T = unknown>(name: string): VarRef<T> {
    return varRef<T>(checkName(name));
  }

  /** Replaces every `ref()` inside `value` by the variable's current value. */
  resolve<T>(value: T, consistency: Consistency = 'cached'): Promise<T> {
    return resolveRefs(value, (n, c) => this.read(n, c), consistency);
  }

  /**
   * Binds module parameters to variables; pass the result as `binding` to a module so each call
   * uses the values current on this node. The binding announces itself as an observer.
   * @example
   * ```ts
   * const qa = new Predict('question -> answer', {
   *   executor: rt,
   *   binding: rt.variables.bind({ instructions: 'qa_instructions', config: { temperature: 'temp' } }),
   * });
   * ```
   */
  bind(spec: BindingSpec): RequestBinding {
    const binding = createBinding(spec, (n, c) => this.read(n, c));
    for (const name of binding.names) {
      checkName(name);
      this.actor(name);
      this.observers.announce(name, 'binding');
    }
    return binding;
  }

  private async read(name: string, consistency: Consistency): Promise<VarRecord | undefined> {
    return consistency === 'latest' ? this.fetch(name) : (this.peek(name) ?? this.fetch(name));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.watcher?.stop();
    await this.observers.stop();
    for (const actor of this.actors.values()) actor.stop();
    await this.loop;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function checkName(name: string): string {
  const parsed = VarNameSchema.safeParse(name);
  if (!parsed.success) {
    throw new DspexError(ErrorCode.BadRequest, `variable name: ${parsed.error.issues[0]?.message}`, {
      details: { field: 'name' },
    });
  }
  return name;
}

function notDefined(name: string, revision?: number): DspexError {
  return new DspexError(
    ErrorCode.NotFound,
    revision === undefined
      ? `variable ${name} is not defined`
      : `variable ${name} has no revision ${revision}`,
    { details: { field: revision === undefined ? 'name' : 'revision', name } },
  );
}

/** True when every input revision in `want` is already covered by `have`. */
function dominates(have: Record<string, number> | undefined, want: Record<string, number>): boolean {
  if (have === undefined) return false;
  return Object.entries(want).every(([k, rev]) => (have[k] ?? -1) >= rev);
}
