/**
 * Optimizer leases: one writer at a time per variable. A lease is a key in a KV bucket whose
 * bucket-level TTL (stream `max_age`) removes it when its holder stops renewing — nats-server 2.9
 * has no per-key TTL, so every lease shares the bucket's TTL. Acquisition is `kv.create` (fails when
 * the key exists), renewal is `kv.update` on the lease's revision, release a delete on it: the
 * server's compare-and-set is the only arbiter, no consensus of our own.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { KV } from '@nats-io/kv';
import type { Logger } from 'pino';
import { DspexError, ErrorCode } from '../errors.js';
import { encode, Encoding } from '../protocol/codec.js';
import type { VarLease } from '../protocol/variables.js';
import { isWrongLastSequence, leaseOf } from './buckets.js';

/** Why a lease ended. */
export type LeaseEnd = 'released' | 'lost';

/** Options of {@link VariableStore.acquire}. */
export interface AcquireOptions {
  /** Who holds it: an optimizer id. Writes under the lease carry it as `by`. */
  holder: string;
  /** Wait up to this long for a lease held by someone else. @default 0 (refuse at once) */
  waitMs?: number;
  /** Renew every third of the TTL until released. @default true */
  autoRenew?: boolean;
}

/** A held lease on one or more variables; dispose it to release. */
export interface Lease extends AsyncDisposable {
  readonly holder: string;
  readonly names: readonly string[];
  /** Lease bucket TTL: a holder silent this long loses the lease. */
  readonly ttlMs: number;
  /** Current lease revision per variable (fencing tokens; they change on every renewal). */
  revision(name: string): number | undefined;
  /** True until released or lost. */
  readonly held: boolean;
  /** Aborted when the lease ends; `reason` is a {@link LeaseEnd}. */
  readonly signal: AbortSignal;
  renew(): Promise<void>;
  release(): Promise<void>;
}

/** The 409 of a write or acquisition refused because another holder has the lease. */
export function leaseHeldError(name: string, lease: VarLease, ttlMs: number): DspexError {
  return new DspexError(
    ErrorCode.RevisionConflict,
    `variable ${name} is leased to ${lease.holder} (node ${lease.node}); retry after it releases or its lease expires (ttl ${ttlMs} ms)`,
    {
      retryable: true,
      details: { field: 'name', reason: 'lease_held', holder: lease.holder, node: lease.node, ttl_ms: ttlMs },
    },
  );
}

/** True for the 409 refusing a write because someone else holds the lease. */
export function isLeaseHeld(error: unknown): boolean {
  return error instanceof DspexError && error.details?.reason === 'lease_held';
}

/**
 * Carries an acquisition into the variable's record (`holder` on a marker revision), so a writer
 * learns of a lease from the record its compare-and-set is based on instead of a lease read.
 * Release writes nothing (its revision would move under the holder's last write): the next plain
 * write finds the mark, reads the lease gone, and clears it.
 */
export interface LeaseMarks {
  /** `holder` now holds the lease of `name`; resolves once the record says so. */
  taken(name: string, holder: string): Promise<void>;
}

export class LeaseManager {
  /** Set by the store once its writer exists. */
  marks: LeaseMarks | undefined;

  constructor(
    private readonly kv: KV,
    private readonly nodeId: string,
    readonly ttlMs: number,
    private readonly logger: Logger,
  ) {}

  /** The current lease of a variable, from the server (an expired lease is already gone). */
  async current(name: string): Promise<(VarLease & { revision: number }) | undefined> {
    return leaseOf(await this.kv.get(name));
  }

  /**
   * Acquires (or, for the same holder, renews) the leases of `names`, in name order so that two
   * acquirers of overlapping sets cannot deadlock; all or nothing.
   */
  async acquireRevisions(names: readonly string[], holder: string, waitMs = 0): Promise<Map<string, number>> {
    const sorted = [...new Set(names)].sort();
    const got = new Map<string, number>();
    const deadline = Date.now() + waitMs;
    try {
      for (const name of sorted) {
        got.set(name, await this.acquireOne(name, holder, deadline));
        // Held only once the record says so: a write based on an unmarked record then fails its CAS.
        await this.marks?.taken(name, holder);
      }
    } catch (error) {
      await Promise.all([...got].map(([name, rev]) => this.releaseOne(name, rev)));
      throw error;
    }
    return got;
  }

  private async acquireOne(name: string, holder: string, deadline: number): Promise<number> {
    const body = encode(
      { holder, node: this.nodeId, pid: process.pid, since: Date.now() } satisfies VarLease,
      Encoding.Msgpack,
    );
    for (;;) {
      try {
        return await this.kv.create(name, body);
      } catch (error) {
        if (!isWrongLastSequence(error)) throw error;
      }
      const current = await this.current(name);
      if (current?.holder === holder) {
        try {
          return await this.kv.update(name, body, current.revision);
        } catch (error) {
          if (!isWrongLastSequence(error)) throw error;
          continue;
        }
      }
      if (current !== undefined && Date.now() >= deadline) throw leaseHeldError(name, current, this.ttlMs);
      // Expiry is silent (no delete marker on 2.9), so poll rather than watch.
      if (current !== undefined) await sleep(Math.min(200, Math.max(20, deadline - Date.now())));
    }
  }

  /** Renews one lease held at `revision`; returns the new revision, or `undefined` if it was lost. */
  async renewOne(name: string, holder: string, revision: number): Promise<number | undefined> {
    const body = encode(
      { holder, node: this.nodeId, pid: process.pid, since: Date.now() } satisfies VarLease,
      Encoding.Msgpack,
    );
    try {
      return await this.kv.update(name, body, revision);
    } catch (error) {
      if (isWrongLastSequence(error)) return undefined;
      throw error;
    }
  }

  async releaseOne(name: string, revision: number): Promise<void> {
    try {
      await this.kv.delete(name, { previousSeq: revision });
    } catch (error) {
      // Already expired or taken over: nothing of ours to release.
      if (!isWrongLastSequence(error)) this.logger.warn({ err: error, name }, 'lease release failed');
    }
  }

  /** Releases `holder`'s leases on `names` whatever their revisions (wire clients do not track them). */
  async releaseHolder(names: readonly string[], holder: string): Promise<string[]> {
    const released: string[] = [];
    for (const name of names) {
      const current = await this.current(name);
      if (current?.holder !== holder) continue;
      await this.releaseOne(name, current.revision);
      released.push(name);
    }
    return released;
  }

  /** A {@link Lease} over freshly acquired revisions, renewing itself unless told otherwise. */
  async acquire(names: readonly string[], options: AcquireOptions): Promise<Lease> {
    const revisions = await this.acquireRevisions(names, options.holder, options.waitMs ?? 0);
    return new HeldLease(this, options.holder, revisions, options.autoRenew ?? true, this.logger);
  }
}

class HeldLease implements Lease {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  readonly names: readonly string[];

  constructor(
    private readonly manager: LeaseManager,
    readonly holder: string,
    private readonly revisions: Map<string, number>,
    autoRenew: boolean,
    private readonly logger: Logger,
  ) {
    this.names = [...revisions.keys()];
    if (autoRenew) {
      this.timer = setInterval(
        () => {
          this.renew().catch((err: unknown) => this.logger.warn({ err, holder }, 'lease renewal failed'));
        },
        Math.max(100, Math.floor(manager.ttlMs / 3)),
      );
      this.timer.unref();
    }
  }

  get ttlMs(): number {
    return this.manager.ttlMs;
  }
  get held(): boolean {
    return !this.controller.signal.aborted;
  }
  get signal(): AbortSignal {
    return this.controller.signal;
  }
  revision(name: string): number | undefined {
    return this.held ? this.revisions.get(name) : undefined;
  }

  async renew(): Promise<void> {
    if (!this.held) throw new DspexError(ErrorCode.RevisionConflict, `lease of ${this.holder} has ended`);
    for (const [name, rev] of this.revisions) {
      const next = await this.manager.renewOne(name, this.holder, rev);
      if (next === undefined) {
        this.end('lost');
        throw new DspexError(ErrorCode.RevisionConflict, `lease of ${this.holder} on ${name} was lost`, {
          details: { field: 'name', reason: 'lease_lost', name },
        });
      }
      this.revisions.set(name, next);
    }
  }

  async release(): Promise<void> {
    if (!this.held) return;
    this.end('released');
    await Promise.all([...this.revisions].map(([name, rev]) => this.manager.releaseOne(name, rev)));
  }

  private end(reason: LeaseEnd): void {
    clearInterval(this.timer);
    this.controller.abort(reason);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }
}
