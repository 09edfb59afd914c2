/**
 * A node that has just started (or joined a cluster) knows only the workers it has heard from: its
 * own are starting, other hosts' announce themselves with their next heartbeat. A call arriving in
 * that window for a pool without a live or starting worker waits here, until one appears, the
 * window ends or the call's deadline comes, instead of failing at once with "no live worker".
 * Past the window a pool without workers fails fast again, as it should.
 */

export interface JoinGateOptions {
  /** How long after start calls wait for a pool's first worker: a few worker heartbeat periods. */
  graceMs: number;
  /** True when routing could send or queue a call of `pool` now (a live or starting worker). */
  servable(pool: string): boolean;
  /** @default Date.now */
  now?: () => number;
}

interface Waiter {
  pool: string;
  release(): void;
}

/** Holds calls of pools without workers during the node's first heartbeat periods. */
export class JoinGate {
  private readonly until: number;
  private readonly waiters = new Set<Waiter>();
  private readonly now: () => number;

  constructor(private readonly o: JoinGateOptions) {
    this.now = o.now ?? Date.now;
    this.until = this.now() + o.graceMs;
  }

  /**
   * Resolves at once when `pool` is servable or the window has passed; otherwise when a worker of
   * `pool` appears ({@link changed}), the window ends, or `deadline` (unix ms) comes. Never rejects:
   * the caller routes (or refuses) the call as usual afterwards.
   */
  wait(pool: string, deadline: number): Promise<void> {
    const now = this.now();
    const end = Math.min(this.until, deadline);
    if (end <= now || this.o.servable(pool)) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const waiter: Waiter = {
        pool,
        release: () => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve();
        },
      };
      const timer = setTimeout(() => waiter.release(), end - now);
      this.waiters.add(waiter);
    });
  }

  /** The workers of `pool` changed: release its waiters if it can take calls now. */
  changed(pool: string): void {
    if (this.waiters.size === 0 || !this.o.servable(pool)) return;
    for (const waiter of [...this.waiters]) if (waiter.pool === pool) waiter.release();
  }

  /** Releases every waiter (the node is stopping; its calls then fail as usual). */
  close(): void {
    for (const waiter of [...this.waiters]) waiter.release();
  }
}
