import type { Dispatcher } from './dispatcher.js';

/** Sessions remembered as looked up, at most (oldest forgotten first). */
const SEEN_LIMIT = 10_000;

/** Where a session's record says its calls went: the pool and worker another node chose. */
export interface RecordedAffinity {
  pool: string;
  worker: string;
}

/**
 * The first time this node sees a session, it continues on the worker the session record names
 * (chosen by whichever node served it before). One record read per session and node, bounded.
 */
export class AffinitySeeder {
  private readonly seen = new Set<string>();

  constructor(
    private readonly dispatcher: Pick<Dispatcher, 'hasAffinity' | 'seedAffinity'>,
    /** Reads the session's recorded affinity; undefined when there is none or the read fails. */
    private readonly recorded: (session: string) => Promise<RecordedAffinity | null | undefined>,
  ) {}

  async seed(session: string, pool: string): Promise<void> {
    if (this.seen.has(session) || this.dispatcher.hasAffinity(session)) return;
    this.seen.add(session);
    if (this.seen.size > SEEN_LIMIT) this.seen.delete(this.seen.values().next().value!);
    const affinity = await this.recorded(session).catch(() => undefined);
    if (affinity !== undefined && affinity !== null && affinity.pool === pool) {
      this.dispatcher.seedAffinity(session, affinity.worker);
    }
  }
}
