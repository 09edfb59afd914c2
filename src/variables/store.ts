/**
 * The variable store of one node, a facade over its parts: one {@link variableMachine} actor per
 * variable (`variable-actors.ts`), fed by a single KV watch over the values bucket (`watch.ts`, so
 * every node's cache follows every write in the cluster); writes by compare-and-set on the KV
 * revision (`writer.ts`); leases (`leases.ts`); derived variables (`derived.ts`); observers and
 * bindings (`watch.ts`, `observers.ts`).
 */
import { isDeepStrictEqual } from 'node:util';
import type { NatsConnection } from '@nats-io/nats-core';
import type { KvWatchEntry } from '@nats-io/kv';
import { pino, type Logger } from 'pino';
import type { z } from 'zod';
import { DspexError, ErrorCode } from '../errors.js';
import {
  VarSpecSchema,
  type VarDescription,
  type VarHistoryEntry,
  type VarRecord,
  type VarSpec,
} from '../protocol/variables.js';
import { parseMessage } from '../protocol/schemas.js';
import type { ChildFailure } from '../supervisors/types.js';
import {
  createBinding,
  resolveRefs,
  varRef,
  type BindingSpec,
  type Consistency,
  type VarRef,
  type VariableBinding,
} from './binding.js';
import { bucketNames, leaseTtlOf, openBuckets, recordOf, type BucketNames, type Buckets } from './buckets.js';
import { checkName, notDefined } from './checks.js';
import { checkConstraints, typeSchema, type LocalChecks } from './constraints.js';
import { DerivedVariables } from './derived.js';
import { assertAcyclic } from './graph.js';
import { LeaseManager, type AcquireOptions, type Lease } from './leases.js';
import { ObserverRegistry } from './observers.js';
import { VariablesOptionsSchema, type ResolvedVariablesOptions, type VariablesOptions } from './options.js';
import { VariableActors } from './variable-actors.js';
import type { SetJob } from './variable-machine.js';
import { ValuesWatch, Watchers, type VarObserverFn } from './watch.js';
import { VariableWriter } from './writer.js';

export type { VarObserverFn } from './watch.js';

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
  private readonly leases: LeaseManager;
  private readonly observers: ObserverRegistry;
  private readonly actors: VariableActors;
  private readonly writer: VariableWriter;
  private readonly derived: DerivedVariables;
  private readonly watchers: Watchers;
  private readonly feed: ValuesWatch;
  private closed = false;

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
    this.writer = new VariableWriter({
      values: buckets.values,
      leases: this.leases,
      nodeId,
      maxValueBytes: options.maxValueBytes,
      fetch: (name) => this.fetch(name),
    });
    this.leases.marks = { taken: (name, holder) => this.writer.mark(name, holder) };
    this.actors = new VariableActors({
      nodeId,
      queueLimit: options.writeQueueLimit,
      write: (input) => this.writer.write(input),
      // Deferred: actions run before the actor commits its snapshot, and recomputes read `peek()`.
      notify: (name, record) => queueMicrotask(() => this.changed(name, record)),
      logger,
    });
    this.derived = new DerivedVariables({
      peek: (name) => this.peek(name),
      enqueue: (name, job) => this.enqueue(name, job),
      closed: () => this.closed,
      logger,
    });
    this.watchers = new Watchers(this.observers, logger);
    this.feed = new ValuesWatch(buckets.values, (entry) => this.onEntry(entry), logger);
  }

  /** Bucket names and the event subject prefix. */
  get names(): BucketNames {
    return this.buckets.names;
  }
  /**
   * Settles if this node's variables supervisor gave up (its variable actors crashed more often than
   * its restart intensity allows); writes are then refused with 503 `unavailable`. Never rejects.
   */
  get failed(): Promise<ChildFailure> {
    return this.actors.failed;
  }
  /** The TTL of leases (the lease bucket's). */
  get leaseTtlMs(): number {
    return this.leases.ttlMs;
  }

  async start(): Promise<void> {
    this.actors.start();
    this.observers.start();
    await this.feed.start();
  }

  private onEntry(entry: KvWatchEntry): void {
    // Most often this node's own write coming back: known already, not worth decoding again.
    if (entry.revision <= this.actors.seen(entry.key)) return;
    if (entry.operation !== 'PUT') {
      this.actors.send(entry.key, { type: 'removed', revision: entry.revision });
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
    this.actors.send(record.name, { type: 'observed', record });
  }

  /** A variable actor saw a new revision (or a delete). */
  private changed(name: string, record: VarRecord | undefined): void {
    this.watchers.dispatch(name, record);
    this.derived.inputChanged(name);
  }

  /** The latest record seen on this node, without a round trip. */
  peek(name: string): VarRecord | undefined {
    return this.actors.record(name);
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
    if (record !== undefined && revision === undefined) this.actors.send(name, { type: 'observed', record });
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
      assertAcyclic(name, def.derive.from, (n) => this.derived.inputsOf(n));
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
    this.writer.setLocal(name, local);

    const existing = await this.fetch(name);
    if (existing === undefined) {
      const value = def.derive === undefined ? def.initial : await this.derived.compute(def.derive);
      const inputs = def.derive === undefined ? undefined : this.derived.inputRevisions(def.derive.from);
      const created = await this.writer.create(name, spec, value, inputs);
      if (created !== undefined) this.actors.send(name, { type: 'observed', record: created });
      else await this.convergeSpec(name, spec);
    } else if (!isDeepStrictEqual(existing.spec, spec)) {
      await this.enqueue(name, { value: existing.value, internal: true, spec });
    }
    if (def.derive !== undefined) this.derived.register(name, def.derive);
    return this.variable<T>(name);
  }

  /** Defined concurrently elsewhere: converge on `spec` through a normal write. */
  private async convergeSpec(name: string, spec: VarSpec): Promise<void> {
    const current = await this.fetch(name);
    if (current !== undefined && !isDeepStrictEqual(current.spec, spec)) {
      await this.enqueue(name, { value: current.value, internal: true, spec });
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
    return this.actors.enqueue(name, job);
  }

  /** Watches a variable on this node; the observer is announced cluster-wide until unsubscribed. */
  watch(name: string, fn: VarObserverFn, options: WatchOptions = {}): () => void {
    checkName(name);
    if (options.id !== undefined) checkName(options.id);
    const unsubscribe = this.watchers.add(name, fn, options.kind ?? 'callback', options.id);
    this.actors.ensure(name);
    if (options.initial === true) {
      const record = this.peek(name);
      if (record !== undefined) queueMicrotask(() => fn(record));
    }
    return unsubscribe;
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
      // Lease markers change no value: history lists the values written.
      if (record?.marker === true) continue;
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
   * uses the values current on this node. The binding announces itself as an observer of each
   * variable it reads until `release()` (or `using`): release a binding you no longer use, or its
   * announcements are renewed for as long as the node runs.
   * @example
   * ```ts
   * using binding = rt.variables.bind({ instructions: 'qa_instructions', config: { temperature: 'temp' } });
   * const qa = new Predict('question -> answer', { executor: rt, binding });
   * ```
   */
  bind(spec: BindingSpec): VariableBinding {
    const binding = createBinding(spec, (n, c) => this.read(n, c));
    for (const name of binding.names) checkName(name);
    for (const name of binding.names) this.actors.ensure(name);
    const withdraw = this.watchers.announceBinding(binding.names);
    return {
      ...binding,
      release: withdraw,
      [Symbol.dispose]: withdraw,
    };
  }

  private async read(name: string, consistency: Consistency): Promise<VarRecord | undefined> {
    return consistency === 'latest' ? this.fetch(name) : (this.peek(name) ?? this.fetch(name));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const feed = this.feed.stop();
    await this.observers.stop();
    this.actors.stop();
    await feed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
