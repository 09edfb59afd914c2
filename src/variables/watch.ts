/**
 * The read side of the store: one KV watch over the values bucket (so this node's cache follows
 * every write in the cluster, resuming after the last revision seen when the watch ends), and this
 * node's observers — `watch()` callbacks and bindings — each announced cluster-wide while it lives.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { KV, KvWatchEntry } from '@nats-io/kv';
import type { QueuedIterator } from '@nats-io/nats-core';
import type { Logger } from 'pino';
import type { VarRecord } from '../protocol/variables.js';
import type { ObserverRegistry } from './observers.js';

/** Called with the new record, or `undefined` once the variable is deleted. */
export type VarObserverFn<T = unknown> = (record: (VarRecord & { value: T }) | undefined) => void;

/** Follows the values bucket from the start, then every change; resumes where it stopped. */
export class ValuesWatch {
  private watcher: QueuedIterator<KvWatchEntry> | undefined;
  private lastRevision = 0;
  private stopped = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly kv: KV,
    private readonly onEntry: (entry: KvWatchEntry) => void,
    private readonly logger: Logger,
  ) {}

  /** Starts following; resolves once every entry present at the start has been delivered. */
  async start(): Promise<void> {
    const status = await this.kv.status();
    const until = status.streamInfo.state.last_seq;
    let synced!: () => void;
    const ready = new Promise<void>((resolve) => (synced = resolve));
    if (until === 0) synced();
    this.loop = this.run(until, synced);
    await ready;
  }

  private async run(until: number, synced: () => void): Promise<void> {
    while (!this.stopped) {
      try {
        const from = this.lastRevision;
        this.watcher = await this.kv.watch(from === 0 ? {} : { resumeFromRevision: from + 1 });
        for await (const entry of this.watcher) {
          this.lastRevision = Math.max(this.lastRevision, entry.revision);
          this.onEntry(entry);
          if (this.lastRevision >= until) synced();
        }
      } catch (err) {
        if (!this.stopped) this.logger.warn({ err }, 'variable watch failed; resuming');
      }
      // Back off before resuming after the watch ended (a server restart).
      if (!this.stopped) await sleep(250);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.watcher?.stop();
    await this.loop;
  }
}

/** This node's observers of variables: local callbacks, and announcements for `describe()`. */
export class Watchers {
  private readonly callbacks = new Map<string, Set<VarObserverFn>>();

  constructor(
    private readonly observers: ObserverRegistry,
    private readonly logger: Logger,
  ) {}

  /** Adds a callback on `name`, announced under `kind`/`id`; returns the unsubscribe function. */
  add(name: string, fn: VarObserverFn, kind: string, id?: string): () => void {
    let set = this.callbacks.get(name);
    if (set === undefined) this.callbacks.set(name, (set = new Set()));
    // Wrapped, so one function watching twice is two observers that unsubscribe separately.
    const callback: VarObserverFn = (record) => fn(record);
    set.add(callback);
    const withdraw = this.observers.announce(name, kind, id);
    return () => {
      set.delete(callback);
      if (set.size === 0 && this.callbacks.get(name) === set) this.callbacks.delete(name);
      withdraw();
    };
  }

  /** Announces a binding reading `names`; returns the withdrawal of every announcement. */
  announceBinding(names: readonly string[]): () => void {
    const withdrawals = names.map((name) => this.observers.announce(name, 'binding'));
    return () => {
      for (const withdraw of withdrawals) withdraw();
    };
  }

  /** Calls the callbacks of `name`; one that throws is logged and the others still run. */
  dispatch(name: string, record: VarRecord | undefined): void {
    for (const fn of this.callbacks.get(name) ?? []) {
      try {
        fn(record);
      } catch (err) {
        this.logger.error({ err, name }, 'variable observer threw');
      }
    }
  }
}
